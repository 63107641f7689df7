#!/usr/bin/env bash
# The whole test suite: installs tgtd and libiscsi-bin when missing, then
# gofmt, go mod tidy -diff, go vet, staticcheck (pinned) and go test -race
# over every package. The integration tests start and stop their own private
# tgtd instances; here a missing tgtd is a failure, not a skip.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh

# The newest staticcheck that supports the go directive of go.mod.
STATICCHECK_VERSION=v0.8.2

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
ISCSI_REQUIRE_TGTD=1 go test -race -count=1 -timeout 20m ./...
