#!/usr/bin/env bash
# Runs every test of the project, the way CI does: formatting, vet, then
# unit, contract and system tests (system tests start real weir processes
# on 127.0.0.x). Needs only Go; modules come from the Go module proxy.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== go version: $(go version)"
echo "== modules"
go mod download
go mod verify >/dev/null

echo "== gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
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
