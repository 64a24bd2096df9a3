#!/usr/bin/env bash
# Shared by the builds whose results are cached between test runs (test/engine/build.sh,
# test/kube/build.sh). Sourced, not run.

# build_start TOOL...: checks that the tools are on PATH, makes $cache absolute, and takes the
# cache's lock: one build at a time per cache, a second run waits for the first, then finds it
# all cached. Sets go_version and total_start.
# Go: no toolchain downloads, no cgo, and no debug information, which the tests never read and
# which cost 7 % of kube-scheduler's compile time here (the builds also link with -s -w).
build_start() {
  local tool
  export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS="${GOFLAGS:+$GOFLAGS }-gcflags=all=-dwarf=false"
  for tool in go flock sha256sum "$@"; do
    command -v "$tool" >/dev/null || { echo "build.sh: needs $tool on PATH" >&2; exit 1; }
  done
  # shellcheck disable=SC2034 # read by the build scripts
  go_version=$(go env GOVERSION)
  mkdir -p "$cache"
  cache=$(cd "$cache" && pwd)
  exec 9>"$cache/.lock"
  flock 9
  # shellcheck disable=SC2034
  total_start=$SECONDS
}

# piece LABEL DIR RECIPE FUNCTION: runs FUNCTION in DIR (made afresh) with its output in
# DIR/build.log, unless DIR/.complete already holds RECIPE.
piece() {
  local label=$1 dir=$2 recipe=$3 fn=$4 log rc start
  if [ -f "$dir/.complete" ] && [ "$(cat "$dir/.complete")" = "$recipe" ]; then
    echo "$label: cached"
    return 0
  fi
  if [ -e "$dir" ]; then
    chmod -R u+w "$dir" # module copies are read-only
    rm -rf "$dir"
  fi
  mkdir -p "$dir"
  log=$dir/build.log
  start=$SECONDS
  set +e
  (
    set -e
    cd "$dir"
    "$fn" "$dir"
  ) >"$log" 2>&1
  rc=$?
  set -e
  if [ "$rc" -ne 0 ]; then
    echo "$label: FAILED (exit $rc) after $((SECONDS - start))s; log: $log" >&2
    tail -n 20 "$log" | sed 's/^/    /' >&2
    exit 1
  fi
  printf '%s\n' "$recipe" >"$dir/.complete"
  echo "$label: built ($((SECONDS - start))s)"
}

# wrapper_module DIR MODULE-PATH IMPORT...: a module whose tools.go imports the main packages,
# so `go mod tidy` records exactly what they need.
wrapper_module() {
  local dir=$1 path=$2 import
  shift 2
  mkdir -p "$dir"
  printf 'module %s\n\ngo 1.24\n' "$path" >"$dir/go.mod"
  {
    printf '//go:build tools\n\npackage tools\n\nimport (\n'
    for import in "$@"; do printf '\t_ "%s"\n' "$import"; done
    printf ')\n'
  } >"$dir/tools.go"
}
