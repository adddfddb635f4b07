// Package harness runs real weir processes for system tests: it builds the
// binary once per test process, starts nodes on loopback addresses with
// their own data directories, and injects process faults (SIGKILL,
// SIGSTOP/SIGCONT, restart, wiping data). Clusters (cluster.go) put every
// node on its own 127.x.y.z address behind a TCP proxy on its cluster port
// (proxy.go), so tests can also partition the network. A concurrent client
// workload records its history (history.go) for the linearizability model
// of package linearize and checks durability and convergence afterwards.
// It is imported only by tests.
package harness
