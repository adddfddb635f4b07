// Package codec owns the bytes of NiFi site-to-site: the data packets of
// StandardFlowFileCodec version 1, the per-packet compression framing, the
// transaction checksum, and FlowFile packaging version 3.
//
// Everything streams. A Decoder hands out one packet at a time, its
// attributes decoded and its content an io.Reader over the request body, so
// a flowfile of any size passes through a fixed amount of memory; an
// Encoder writes content from an io.Reader of known length. The limits
// (Limits) are checked against every claimed count and length before
// anything is allocated for it, so a hostile or corrupt stream claiming
// 2^31 attributes or a 2 GiB key is refused at once rather than honoured.
//
// Formats (all integers big-endian; see shared/reference/s2s-protocol.md §5):
//
//	data packet     int32 attrCount, attrCount × (int32 keyLen, key,
//	                int32 valueLen, value), int64 contentLength, content
//	compression     per packet: chunks of ≤ 64 KiB input, each
//	                [0x01 if not the first] "SYNC" u32 uncompressedLen
//	                u32 compressedLen zlib(level 1) bytes; then 0x00
//	checksum        CRC-32 (IEEE) over the uncompressed packet bytes of
//	                every packet of a transaction, sent as unsigned decimal
//	flowfile v3     "NiFiFF3" fieldLen(attrCount), fieldLen(keyLen) key
//	                fieldLen(valueLen) value ..., int64 contentLength,
//	                content; fieldLen(n) = u16 if n < 65535, else 0xFFFF u32
//
// Errors caused by the input are *FormatError (malformed or truncated) or
// *LimitError (larger than allowed); IsInputError tells them from I/O
// errors of the underlying reader, so a server can answer the former with
// 400. Nothing here knows HTTP, transactions or queues.
package codec
