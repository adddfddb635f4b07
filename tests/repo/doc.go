// Package repo holds tests about the repository itself: every package says
// what it owns, and the dependency rules the design relies on hold.
package repo
