#!/bin/sh
# Installs the reference systems the benchmarks compare Weir with:
# PostgreSQL 15 (Debian's postgresql-15) and etcd 3.4 (etcd-server).
# Run as root; nothing is started or enabled here, the benchmarks start
# their own throwaway instances.
set -eu
need=""
[ -x /usr/lib/postgresql/15/bin/postgres ] || need="$need postgresql-15"
[ -x /usr/bin/etcd ] || command -v etcd >/dev/null 2>&1 || need="$need etcd-server"
if [ -z "$need" ]; then
	echo "postgresql-15 and etcd-server are installed"
	exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update
# shellcheck disable=SC2086
apt-get install -y --no-install-recommends $need
# The packages start system services where systemd runs; the benchmarks
# do not need them.
for s in etcd postgresql; do
	if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet "$s" 2>/dev/null; then
		systemctl stop "$s" || true
	fi
done
