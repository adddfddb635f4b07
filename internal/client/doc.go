// Package client is a small Go client of the NiFi Registry 2.x REST API
// (and so of Weir). Weir's CLI, migration, load tool and system tests use
// it; it works against Apache NiFi Registry too.
//
// Snapshots travel as raw JSON so that flow documents pass through
// unchanged.
package client
