// Package command owns the replicated write commands and their byte format.
//
// Every state change in Weir is one of these commands. The node that accepts
// a write (the Raft leader) fixes everything that is not a pure function of
// the current state before the command is replicated: identifiers, epoch
// millisecond timestamps, the author, the concrete version number and the
// compressed flow document. Applying a command therefore never reads the
// clock or a random source, and every replica that applies the same log ends
// with the same bytes.
//
// Wire format (format version 1):
//
//	byte 0      format version (1)
//	byte 1      command type
//	uvarint n   length of the JSON header
//	n bytes     JSON header (the command's fields)
//	rest        blob (only CreateVersion: the encoded flow document)
//
// The blob stays outside the JSON so multi-megabyte flow documents are not
// base64-inflated and can be stored by the state machine without copying.
package command
