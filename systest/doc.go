// Package systest holds system tests that drive real weir processes over
// HTTP (single nodes and clusters on 127.0.0.x), with process and network
// faults. See package harness for the process control.
package systest
