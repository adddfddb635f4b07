#!/usr/bin/env bash
# Runs every test of the project, the way CI does: formatting, vet, then
# unit, contract and system tests (system tests start real weir processes
# on 127.0.0.x). Needs Go; modules come from the Go module proxy. The
# real components some tests start (slapd for LDAP logins; nats-server,
# PostgreSQL and etcd for the benchmarks' tooling tests, Chromium for the
# web UI's browser tests) and the validators of the
# packaging (systemd-analyze, shellcheck) are installed from Debian when
# missing and this runs as root; those tests fail, not skip, when CI=true
# and the component is absent.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== test dependencies"
need=""
command -v slapd >/dev/null 2>&1 || [ -x /usr/sbin/slapd ] || need="$need slapd ldap-utils"
command -v nats-server >/dev/null 2>&1 || need="$need nats-server"
# The benchmarks' tooling tests start PostgreSQL and etcd (their peers).
[ -x /usr/lib/postgresql/15/bin/postgres ] || need="$need postgresql-15"
command -v etcd >/dev/null 2>&1 || [ -x /usr/bin/etcd ] || need="$need etcd-server"
# The packaging tests validate the systemd unit and the shell scripts.
command -v systemd-analyze >/dev/null 2>&1 || need="$need systemd"
command -v shellcheck >/dev/null 2>&1 || need="$need shellcheck"
# The web UI's browser tests drive a headless Chromium.
command -v chromium >/dev/null 2>&1 || need="$need chromium"
if [ -n "$need" ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    export DEBIAN_FRONTEND=noninteractive
    # shellcheck disable=SC2086
    apt-get install -y --no-install-recommends $need >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y --no-install-recommends $need >/dev/null; }
    # The packages may start system services; the tests start their own.
    pkill -x slapd 2>/dev/null || true
    pkill -x nats-server 2>/dev/null || true
    pkill -x etcd 2>/dev/null || true
    if command -v systemctl >/dev/null 2>&1; then systemctl stop postgresql >/dev/null 2>&1 || true; fi
  else
    echo "missing:$need (not root or no apt-get: the tests that need them will skip, or fail with CI=true)"
  fi
fi

echo "== go version: $(go version)"
echo "== modules"
go mod download
go mod verify >/dev/null

echo "== gofmt"
mapfile -t gofiles < <(git ls-files '*.go' 2>/dev/null || find . -name '*.go')
unformatted=$(gofmt -l "${gofiles[@]}")
if [ -n "$unformatted" ]; then
  echo "gofmt would change:"; echo "$unformatted"; exit 1
fi

echo "== go vet"
go vet ./...

echo "== go test (race detector on)"
# System tests build the weir binary once per package run.
go test -race -count=1 -timeout 75m "$@" ./...

echo "== fuzz (bounded: 10 s per target; scripts/fuzz.sh 600 searches longer)"
scripts/fuzz.sh 10
