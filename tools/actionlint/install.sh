#!/usr/bin/env bash
# Builds actionlint (the GitHub Actions workflow linter `make test` runs) from its Go module into
# the project's cache, as tools/pulumi/install.sh does for the Pulumi toolchain: no binary is
# downloaded, go.mod/go.sum beside this script pin what it is built from.
#
# Usage: tools/actionlint/install.sh            build it when missing or out of date
#        tools/actionlint/install.sh --check    exit 0 when it is built and current, 1 otherwise
#
# ACTIONLINT_BIN moves the output directory (default .cache/actionlint/bin).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
bin_dir="${ACTIONLINT_BIN:-$root/.cache/actionlint/bin}"
binary="$bin_dir/actionlint"
stamp="$bin_dir/.actionlint.stamp"
build_flags="-buildvcs=false -trimpath"

log() { printf '[actionlint] %s\n' "$*" >&2; }

# What the binary depends on: the Go toolchain, the flags and the pinned module set.
current_stamp() {
	{
		go version
		echo "$build_flags"
		sha256sum "$here/go.mod" "$here/go.sum" | cut -d' ' -f1
	} | sha256sum | cut -d' ' -f1
}

is_current() {
	[[ -x "$binary" && -f "$stamp" && "$(cat "$stamp")" == "$(current_stamp)" ]]
}

command -v go >/dev/null || {
	log "go is not on PATH: actionlint is built from its Go module (Go >= 1.26.6)"
	exit 1
}

case "${1:-}" in
--check)
	is_current
	exit $?
	;;
"") ;;
*)
	log "unknown argument $1 (usage: install.sh [--check])"
	exit 2
	;;
esac

is_current && exit 0
mkdir -p "$bin_dir"
start=$SECONDS
log "building actionlint into $bin_dir (one-off; later runs reuse it)"
# One package at a time, lowest priority: the machine's cores are shared.
(cd "$here" && GOFLAGS="$build_flags -p=1" nice -n 19 go build -ldflags "-s -w" \
	-o "$binary" github.com/rhysd/actionlint/cmd/actionlint)
current_stamp >"$stamp"
log "built actionlint in $((SECONDS - start)) s"
