// Package linearize owns the sequential specification of the registry that
// cluster tests check client histories against with porcupine: bucket and
// flow names are unique, a flow's versions are numbered one-up without gaps
// or duplicates, and a read sees every write acknowledged before it began.
//
// The model is partitioned by key (a bucket name, a flow name within a
// bucket, or a flow id), so each partition's state is a few integers.
// Writes whose outcome the client could not learn (timeouts, broken
// connections, "may or may not have been applied") are modelled as
// possibly applied. It is imported only by tests.
package linearize
