#!/bin/sh
# Runs Weir's benchmarks (docs/benchmarks.md) against real processes and
# prints the results as a markdown table on stdout (progress on stderr).
#
#   bench/run.sh                      # everything, about 10-15 minutes
#   bench/run.sh commit-throughput    # one measurement (names: see -h)
#   bench/run.sh -window 5s -json /tmp/r.json all
#
# PostgreSQL 15 and etcd are needed for measurements b, e and f:
# bench/scripts/install-deps.sh installs them on Debian/Ubuntu.
set -eu
cd "$(dirname "$0")/.."
if [ $# -eq 0 ]; then
	set -- all
fi
# Other work on the machine skews every figure: wait (up to 2 minutes per
# measurement) until it keeps the CPUs less than 30% busy.
exec go run ./bench/cmd/weirbench -wait-busy 0.3 -wait-max 2m "$@"
