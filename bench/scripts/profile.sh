#!/bin/sh
# Profiles the Weir side of the benchmarks with a server inside the test
# binary (daemon.Start), 16 parallel clients, and prints the top of the
# CPU, syscall-blocking and synchronisation profiles.
#
#   bench/scripts/profile.sh [Commit|CommitSerial|GetLatest|Cluster3Commit] [benchtime]
#
# Profiles are kept in $OUT (default /tmp/weir-profile).
set -eu
cd "$(dirname "$0")/../.."
what=${1:-Commit}
bt=${2:-2000x}
OUT=${OUT:-/tmp/weir-profile}
mkdir -p "$OUT"
go test ./bench -run '^$' -bench "InProcess${what}\$" -benchtime "$bt" -count 1 \
	-o "$OUT/bench.test" -cpuprofile "$OUT/cpu.out" -trace "$OUT/trace.out"
go tool trace -pprof=syscall "$OUT/trace.out" >"$OUT/syscall.pprof" 2>/dev/null
go tool trace -pprof=sync "$OUT/trace.out" >"$OUT/sync.pprof" 2>/dev/null
echo "== CPU (server frames)"
go tool pprof -top -cum -focus 'weir-nifi/weir/internal|hashicorp/raft|bbolt' "$OUT/bench.test" "$OUT/cpu.out" 2>/dev/null | sed -n '1,45p'
echo "== time blocked in syscalls"
go tool pprof -top -cum "$OUT/syscall.pprof" 2>/dev/null | sed -n '1,30p'
echo "== time blocked on channels and locks"
go tool pprof -top -cum "$OUT/sync.pprof" 2>/dev/null | sed -n '1,30p'
