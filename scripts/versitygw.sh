#!/usr/bin/env bash
# Installs versitygw, the third-party S3 server the object store tests run
# against, into .bin/ at the module root (gitignored), unless it is there.
# Prints the binary's path. Tests find it there, or through $VERSITYGW_BIN.
set -euo pipefail

VERSION="${VERSITYGW_VERSION:-v1.8.0}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bin="$root/.bin/versitygw"
# go install does not stamp the version into the binary; remember it here.
stamp="$root/.bin/versitygw.version"

if [[ -x "$bin" && "$(cat "$stamp" 2>/dev/null)" == "$VERSION" ]]; then
	echo "$bin"
	exit 0
fi

mkdir -p "$root/.bin"
echo "installing versitygw $VERSION into $root/.bin" >&2
GOBIN="$root/.bin" GOFLAGS=-buildvcs=false go install "github.com/versity/versitygw/cmd/versitygw@$VERSION"
echo "$VERSION" >"$stamp"
echo "$bin"
