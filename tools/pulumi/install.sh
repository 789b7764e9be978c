#!/usr/bin/env bash
# Builds the Pulumi toolchain that `make preview` runs, from published Go modules, into a project-local
# cache. No Pulumi binary is downloaded: the Python packages do not carry them and nothing but the
# package registries is reachable, so each binary is compiled from its module (see tools/pulumi/README.md).
#
# Usage: tools/pulumi/install.sh            build what is missing or out of date, print timings
#        tools/pulumi/install.sh --check    exit 0 when everything is built, 1 otherwise; build nothing
#        ... --without-cli                  leave the `pulumi` CLI out (the user runs their own);
#                                           the plugins the engine takes from PATH are still built
#
# A binary is rebuilt only when its wrapper module (go.mod, go.sum, sources) or the Go version changed:
# a stamp beside it records a hash of those. Go's module and build caches (at their defaults) make a
# rebuild on the same machine much cheaper than the first one.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
bin_dir="${PULUMI_TOOLCHAIN_BIN:-$root/.cache/pulumi/bin}"
src_dir="$bin_dir/../src"

cli_version="v3.274.1"
k8s_provider_module="github.com/pulumi/pulumi-kubernetes/provider/v4"

# Builds share two cores with everything else on the machine: one package at a time, lowest priority.
# PULUMI_BUILD_PARALLEL=N lifts that when measuring.
build_parallel="${PULUMI_BUILD_PARALLEL:-1}"
build_flags="-buildvcs=false -trimpath"
export GOFLAGS="$build_flags -p=$build_parallel"

log() { printf '[pulumi-toolchain] %s\n' "$*" >&2; }

# stamp_of <wrapper dir>: what the binary built from that wrapper depends on.
stamp_of() {
	local dir="$1"
	{
		go version
		echo "$build_flags"
		find "$dir" -maxdepth 1 -type f \( -name 'go.mod' -o -name 'go.sum' -o -name '*.go' \) -print0 |
			sort -z | xargs -0 sha256sum | sed "s# $dir/# #"
	} | sha256sum | cut -d' ' -f1
}

is_current() {
	local name="$1" dir="$2"
	[[ -x "$bin_dir/$name" && -f "$bin_dir/.$name.stamp" ]] &&
		[[ "$(cat "$bin_dir/.$name.stamp")" == "$(stamp_of "$dir")" ]]
}

mark_current() {
	local name="$1" dir="$2"
	stamp_of "$dir" >"$bin_dir/.$name.stamp"
}

timed_build() {
	local name="$1"
	shift
	local start=$SECONDS
	log "building $name (one-off; later runs reuse it)"
	nice -n 19 "$@"
	log "built $name in $((SECONDS - start)) s"
}

build_cli() {
	local dir="$here/cli"
	is_current pulumi "$dir" && return 0
	(cd "$dir" && timed_build pulumi go build \
		-ldflags "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$cli_version" \
		-o "$bin_dir/pulumi" github.com/pulumi/pulumi/pkg/v3/cmd/pulumi)
	mark_current pulumi "$dir"
}

build_language_python() {
	local dir="$here/language-python"
	is_current pulumi-language-python "$dir" && [[ -f "$bin_dir/pulumi-language-python-exec" ]] && return 0
	(cd "$dir" && timed_build pulumi-language-python go build -ldflags "-s -w" \
		-o "$bin_dir/pulumi-language-python" .)
	# The runner script ships inside the SDK module at the Python SDK's exact version.
	local sdk_dir
	sdk_dir="$(cd "$dir" && go list -m -f '{{.Dir}}' github.com/pulumi/pulumi/sdk/v3)"
	install -m 0755 "$sdk_dir/python/cmd/pulumi-language-python-exec" "$bin_dir/pulumi-language-python-exec"
	mark_current pulumi-language-python "$dir"
}

build_kubernetes() {
	local dir="$here/kubernetes"
	is_current pulumi-resource-kubernetes "$dir" && return 0
	# The provider embeds schema-embed.json and terraform-mapping-embed.json, which upstream's Makefile
	# copies into place before building; the published module has only the sources of those copies.
	# The module cache is read-only, so build from a copy of the (go.sum-verified) module.
	local module_dir version copy
	module_dir="$(cd "$dir" && go mod download -json "$k8s_provider_module" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')"
	version="$(cd "$dir" && go list -m -f '{{.Version}}' "$k8s_provider_module")"
	copy="$src_dir/pulumi-kubernetes-provider"
	rm -rf "$copy"
	mkdir -p "$src_dir"
	cp -r "$module_dir" "$copy"
	chmod -R u+w "$copy"
	cp "$copy/cmd/pulumi-resource-kubernetes/schema.json" "$copy/cmd/pulumi-resource-kubernetes/schema-embed.json"
	cp "$copy/cmd/pulumi-resource-kubernetes/terraform-mapping.json" \
		"$copy/cmd/pulumi-resource-kubernetes/terraform-mapping-embed.json"
	cp "$dir/go.mod" "$src_dir/kubernetes-build.mod"
	cp "$dir/go.sum" "$src_dir/kubernetes-build.sum"
	(cd "$dir" && go mod edit -modfile="$src_dir/kubernetes-build.mod" -replace "$k8s_provider_module=$copy")
	# The provider reports the module version it was built from, not the Python SDK's 4.34.2.
	(cd "$dir" && timed_build pulumi-resource-kubernetes go build -modfile="$src_dir/kubernetes-build.mod" \
		-ldflags "-s -w -X $k8s_provider_module/pkg/version.Version=${version#v}" \
		-o "$bin_dir/pulumi-resource-kubernetes" "$k8s_provider_module/cmd/pulumi-resource-kubernetes")
	mark_current pulumi-resource-kubernetes "$dir"
}

# terraform and docker: their provider modules are refused by the module proxy at every version, so
# one preview-only stand-in answers under both plugin names (standin-providers/main.go).
standin_names=(terraform docker)

build_standins() {
	local dir="$here/standin-providers"
	is_current pulumi-resource-standin "$dir" && return 0
	(cd "$dir" && timed_build pulumi-resource-standin go build -ldflags "-s -w" \
		-o "$bin_dir/pulumi-resource-standin" .)
	local name
	for name in "${standin_names[@]}"; do
		ln -sfn pulumi-resource-standin "$bin_dir/pulumi-resource-$name"
	done
	mark_current pulumi-resource-standin "$dir"
}

# random: the real provider, Terraform's random provider served through the Terraform bridge by the
# wrapper in random/. It reports the pulumi_random SDK's release (its schema has the same resources
# and properties), tagged with the upstream commit it is built from.
random_version="4.21.4+finnhub.tf-random.f8d869dc98d9"
random_upstream_module="github.com/terraform-providers/terraform-provider-random"

# The wrapper's commands live in subdirectories, which stamp_of does not look into.
random_stamp() {
	local dir="$here/random"
	{
		echo "$random_version"
		stamp_of "$dir"
		stamp_of "$dir/cmd/pulumi-tfgen-random"
		stamp_of "$dir/cmd/pulumi-resource-random"
	} | sha256sum | cut -d' ' -f1
}

random_is_current() {
	[[ -x "$bin_dir/pulumi-resource-random" && ! -L "$bin_dir/pulumi-resource-random" ]] &&
		[[ -f "$bin_dir/.pulumi-resource-random.stamp" ]] &&
		[[ "$(cat "$bin_dir/.pulumi-resource-random.stamp")" == "$(random_stamp)" ]]
}

build_random() {
	random_is_current && return 0
	# The provider embeds the schema the generator writes; both build from a copy of the wrapper so
	# the generated files stay out of the source tree.
	local copy="$src_dir/random" upstream_dir
	rm -rf "$copy"
	mkdir -p "$src_dir"
	cp -r "$here/random" "$copy"
	upstream_dir="$(cd "$copy" && go list -m -f '{{.Dir}}' "$random_upstream_module")"
	local ldflags="-s -w -X main.version=$random_version"
	(cd "$copy" && timed_build pulumi-tfgen-random go build -ldflags "$ldflags" \
		-o "$copy/pulumi-tfgen-random" ./cmd/pulumi-tfgen-random)
	# Docs come from the upstream module's docs/; examples stay out (converting them needs a
	# Terraform converter plugin, and the engine never reads them).
	(cd "$copy" && RANDOM_UPSTREAM_DIR="$upstream_dir" nice -n 19 ./pulumi-tfgen-random schema \
		--out "$copy/cmd/pulumi-resource-random" --skip-examples --quiet >"$copy/tfgen.log" 2>&1) || {
		log "generating the random schema failed:"
		cat "$copy/tfgen.log" >&2
		return 1
	}
	rm -f "$bin_dir/pulumi-resource-random"
	(cd "$copy" && timed_build pulumi-resource-random go build -ldflags "$ldflags" \
		-o "$bin_dir/pulumi-resource-random" ./cmd/pulumi-resource-random)
	random_stamp >"$bin_dir/.pulumi-resource-random.stamp"
}

check() {
	local missing=0
	[[ "$with_cli" == false ]] || is_current pulumi "$here/cli" || missing=1
	is_current pulumi-language-python "$here/language-python" || missing=1
	[[ -f "$bin_dir/pulumi-language-python-exec" ]] || missing=1
	is_current pulumi-resource-kubernetes "$here/kubernetes" || missing=1
	is_current pulumi-resource-standin "$here/standin-providers" || missing=1
	random_is_current || missing=1
	return $missing
}

mode=build
with_cli=true
for arg in "$@"; do
	case "$arg" in
	--check) mode=check ;;
	--without-cli) with_cli=false ;;
	*)
		log "unknown argument $arg (usage: install.sh [--check] [--without-cli])"
		exit 2
		;;
	esac
done

if [[ "$mode" == check ]]; then
	check
	exit $?
fi

command -v go >/dev/null || {
	log "go is not on PATH: the toolchain is built from Go modules"
	exit 1
}
mkdir -p "$bin_dir"
total_start=$SECONDS
if [[ "$with_cli" == true ]]; then
	build_cli
else
	log "pulumi CLI not built: yours is used (--without-cli)"
fi
build_language_python
build_standins
build_random
build_kubernetes
log "toolchain ready in $bin_dir ($((SECONDS - total_start)) s)"
