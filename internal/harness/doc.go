// Package harness runs real weir processes for system tests: it builds the
// binary once per test process, starts nodes on loopback addresses with
// their own data directories, and injects process faults (SIGKILL,
// SIGSTOP/SIGCONT, restart, wiping data). It is imported only by tests.
package harness
