#!/usr/bin/env bash
# Static release builds: weir for linux/amd64 and linux/arm64 (CGO off, so
# the binaries run on any Linux of that architecture, in scratch images
# too), named weir-<version>-linux-<arch>, with SHA256SUMS.
#
#   scripts/release.sh [OUT_DIR]        (default dist/)
#
# The version is `git describe --tags --always --dirty`, or $WEIR_VERSION.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-dist}
version=${WEIR_VERSION:-$(git describe --tags --always --dirty 2>/dev/null || echo dev)}
commit=$(git rev-parse HEAD 2>/dev/null || echo "")
pkg=github.com/weir-nifi/weir/internal/cli
mkdir -p "$out"
for arch in amd64 arm64; do
	bin="$out/weir-$version-linux-$arch"
	CGO_ENABLED=0 GOOS=linux GOARCH=$arch go build -trimpath -buildvcs=false \
		-ldflags "-s -w -X $pkg.Version=$version -X $pkg.Commit=$commit" -o "$bin" ./cmd/weir
	echo "built $bin"
done
(cd "$out" && sha256sum weir-"$version"-linux-* > SHA256SUMS && cat SHA256SUMS)
