#!/usr/bin/env bash
# The whole test suite: installs tgtd and libiscsi-bin when missing, then
# gofmt check, go vet and go test -race over every package. The integration
# tests start and stop their own private tgtd instances.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh

unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then
  echo "gofmt: these files need formatting:" >&2
  echo "$unformatted" >&2
  exit 1
fi
go vet ./...
go test -race -count=1 -timeout 20m ./...
