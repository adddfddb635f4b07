// Package cli owns the weir command line: the server command and the
// operator commands (cluster, maintenance, backup, ...) that talk to a
// running server over HTTP. Every flag has a WEIR_* environment twin.
package cli
