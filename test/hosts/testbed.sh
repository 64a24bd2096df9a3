#!/usr/bin/env bash
# Shared by the tiers that run on the real test hosts (test/hosts/run.sh, test/engine/run.sh):
# the stand-in Kubernetes apt repository served on the bridge, the machines, and mocha's
# counts. Sourced, not run.

# The Kubernetes releases the stand-in repository offers: the one the tests install, and the
# one before it, for an upgrade to move through.
testbed_versions() {
  local latest
  latest=$(node -e 'require("ts-node/register/transpile-only"); process.stdout.write(require("./components/versions").kubernetesReleases["1.35"])')
  echo "${latest%.*}.$((${latest##*.} - 1)) $latest"
}

# Boots fresh machines with the given names and serves the repository; testbed_down undoes both.
testbed_up() {
  testbed_repo=$(mktemp -d)
  # shellcheck disable=SC2046
  test/hosts/build-repo.sh "$testbed_repo/core/v1.35/deb" $(testbed_versions) >/dev/null || return 1
  test/hosts/machines.sh up "$@" || return 1
  python3 -m http.server 8080 --bind 10.213.0.1 --directory "$testbed_repo" >/dev/null 2>&1 &
  testbed_server=$!
}

testbed_down() {
  [ -z "${testbed_server:-}" ] || kill "$testbed_server" 2>/dev/null || true
  test/hosts/machines.sh down
  [ -z "${testbed_repo:-}" ] || rm -rf "$testbed_repo"
}

# "P F": the passing and failing counts of a mocha log (a log without them counts one failure).
mocha_counts() {
  local clean p f
  # Colour codes, should any runner add them, must not hide the counts.
  clean=$(sed -E 's/\x1b\[[0-9;]*m//g' "$1")
  p=$(sed -n -E 's/^ *([0-9]+) passing.*/\1/p' <<<"$clean" | tail -n 1)
  f=$(sed -n -E 's/^ *([0-9]+) failing.*/\1/p' <<<"$clean" | tail -n 1)
  [ -n "$p$f" ] || f=1
  echo "${p:-0} ${f:-0}"
}
