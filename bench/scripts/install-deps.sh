#!/bin/sh
# Installs the reference systems the benchmarks compare Weir with:
# PostgreSQL 15 (Debian's postgresql-15), etcd 3.4 (etcd-server) and NATS
# with JetStream (nats-server, v2.9 in Debian 12) for the site-to-site
# relay.
# Run as root; nothing is started or enabled here, the benchmarks start
# their own throwaway instances.
set -eu
need=""
[ -x /usr/lib/postgresql/15/bin/postgres ] || need="$need postgresql-15"
[ -x /usr/bin/etcd ] || command -v etcd >/dev/null 2>&1 || need="$need etcd-server"
[ -x /usr/bin/nats-server ] || command -v nats-server >/dev/null 2>&1 || need="$need nats-server"
if [ -z "$need" ]; then
	echo "postgresql-15, etcd-server and nats-server are installed"
	exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update
# shellcheck disable=SC2086
apt-get install -y --no-install-recommends $need
# The packages start system services where systemd runs; the benchmarks
# do not need them.
for s in etcd postgresql nats-server; do
	if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet "$s" 2>/dev/null; then
		systemctl stop "$s" || true
	fi
done
