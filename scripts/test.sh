#!/usr/bin/env bash
# The whole test suite: installs tgtd and libiscsi-bin when missing, then
# gofmt, go mod tidy -diff, go vet, staticcheck (pinned), a cross-build for
# every supported platform and go test -race over every package, then the
# same (but the cross-build) in each module under contrib/. The
# integration tests start and stop their own private tgtd instances; here a
# missing tgtd is a failure, not a skip.
set -euo pipefail
cd "$(dirname "$0")/.."

# The newest staticcheck that supports the go directive of go.mod.
STATICCHECK_VERSION=v0.8.2

# cross_build builds every package (CGO_ENABLED=0) for the platforms the
# SDK and its tools support, then vets the 32-bit build (an untyped constant
# that overflows int shows there). The build cache keeps a run to seconds per
# platform once warm.
cross_build() {
  local platforms="linux/amd64 linux/arm64 linux/386 linux/arm darwin/amd64 darwin/arm64 windows/amd64 freebsd/amd64"
  local p failed=""
  for p in $platforms; do
    if ! CGO_ENABLED=0 GOOS=${p%/*} GOARCH=${p#*/} go build ./... ; then
      failed="$failed $p"
    fi
  done
  if ! CGO_ENABLED=0 GOARCH=386 go vet ./... ; then
    failed="$failed vet:linux/386"
  fi
  if [ -n "$failed" ]; then
    echo "cross-build failed for:$failed" >&2
    return 1
  fi
  echo "cross-build ok: $platforms"
}

if [ "${1:-}" = "cross" ]; then # scripts/test.sh cross: the cross-build alone
  cross_build
  exit
fi

scripts/install-deps.sh

unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then
  echo "gofmt: these files need formatting:" >&2
  echo "$unformatted" >&2
  exit 1
fi
if ! go mod tidy -diff; then
  echo "go.mod/go.sum are not tidy: run go mod tidy" >&2
  exit 1
fi
go vet ./...
go run "honnef.co/go/tools/cmd/staticcheck@${STATICCHECK_VERSION}" ./...
cross_build
ISCSI_REQUIRE_TGTD=1 go test -race -count=1 -timeout 20m ./...
# Allocation counts are those of a build without the race detector: the
# tests that count them skip themselves under -race, so they run here.
go test -count=1 -timeout 5m -run 'Alloc|AllocatesNothing|DigestsFromPieces' \
  ./session/ ./multipath/ ./internal/... ./cmd/iscsi-perf/ ./iovector/ ./pdu/ ./digest/

# The adapters under contrib/ are modules of their own (so that the core
# keeps its few dependencies): each is tidied, vetted and tested in place.
for mod in contrib/*/go.mod; do
  dir=$(dirname "$mod")
  echo "== $dir"
  (
    cd "$dir"
    if ! go mod tidy -diff; then
      echo "$dir: go.mod/go.sum are not tidy: run go mod tidy there" >&2
      exit 1
    fi
    go vet ./...
    go run "honnef.co/go/tools/cmd/staticcheck@${STATICCHECK_VERSION}" ./...
    go test -race -count=1 -timeout 5m ./...
  )
done
