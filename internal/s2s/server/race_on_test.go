//go:build race

package server_test

// raceBuild: the race detector makes pure-Go deflate some 20 times slower.
const raceBuild = true
