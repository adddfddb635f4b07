// Package flowdoc owns the stored form of a flow document: the opaque parts
// of a VersionedFlowSnapshot (flowContents, externalControllerServices,
// parameterContexts, parameterProviders, flowEncodingVersion).
//
// Weir never interprets these parts except for the diff endpoint, so it keeps
// them as raw JSON (validated when the request was decoded), which preserves fields from NiFi versions newer
// than Weir. Each part is a separate segment so the API can splice them into
// a response next to the bucket and flow objects without re-encoding
// megabytes of JSON.
//
// Encoded form:
//
//	byte 0   codec: 0 = plain, 2 = S2 (1 = zstd, read only)
//	rest     (after decompression) five segments, each uvarint length + bytes,
//	         in the order of the Part constants; length 0 means absent.
//
// Documents over CompressThreshold are compressed with S2. Encoding
// happens once, on the node that accepts the write, so the compressed bytes
// are replicated as they are and every replica stores identical bytes.
package flowdoc
