#!/usr/bin/env bash
# `npm test`: every test tier in order, then one closing line "N passed, N failed".
#   tier 1: type check, lint, shellcheck (one check each, shellcheck one a script)
#   tier 2: unit tests under Pulumi mocks (mocha; each test counts)
#   tier 3: real test hosts (test/hosts; skipped, and said so, where it cannot run)
#   tier 4: the real Pulumi engine, built from Go modules, on the test hosts (test/engine)
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
# shellcheck source=test/hosts/testbed.sh
. test/hosts/testbed.sh

passed=0
failed=0
log=$(mktemp)
prebuild_log=$(mktemp)
prebuild_pid=""
trap 'rm -f "$log" "$prebuild_log"; [ -z "$prebuild_pid" ] || kill -- "-$prebuild_pid" 2>/dev/null' EXIT

# Tiers 3 and 4 build real Kubernetes and the Pulumi engine from Go modules: about 45 minutes of
# two cores on a cold machine, seconds once cached. Those builds start here, in the background
# at the lowest CPU and I/O priority, on what tiers 1 to 3 leave free; each tier's own build
# then waits on its cache's lock (test/lib/build.sh) and finds the work done or finishes it.
# Nothing starts where the tiers will not build (no Go, no test hosts, skipped on purpose).
prebuild() {
  command -v go >/dev/null || [ ! -x /usr/local/go/bin/go ] || PATH="/usr/local/go/bin:$PATH"
  command -v go >/dev/null && command -v setsid >/dev/null || return 0
  [ "${K8S_LAB_HOST_TESTS:-}" != skip ] || return 0
  test/hosts/machines.sh check >/dev/null 2>&1 || return 0
  local from version engine=yes idle=()
  read -r from version < <(testbed_real_versions) && [ -n "$version" ] || return 0
  [ "${K8S_LAB_ENGINE_TESTS:-}" != skip ] || engine=""
  ! command -v ionice >/dev/null || idle=(ionice -c 3)
  # In the order the tiers use them: tier 3's first spec runs on the older release alone, and
  # the newer one (with containerd.io, which the second spec runs) builds while it runs. Its
  # own session, so that the trap above stops the go commands too. $1 and $2 are the older and
  # the newer release.
  # shellcheck disable=SC2016 # expanded by the inner bash
  setsid nice -n 19 "${idle[@]}" bash -c 'test/kube/build.sh "$1" && test/kube/build.sh --containerd "$2" && { [ -z "$3" ] || test/engine/build.sh; }' \
    prebuild "$from" "$version" "$engine" >"$prebuild_log" 2>&1 &
  prebuild_pid=$!
}
prebuild

check() {
  local name="$1"
  shift
  if "$@" >"$log" 2>&1; then
    passed=$((passed + 1))
    printf 'ok    %s\n' "$name"
  else
    failed=$((failed + 1))
    printf 'FAIL  %s\n' "$name"
    sed 's/^/      /' "$log"
  fi
}

echo "== tier 1: type check, lint, shellcheck"
check "tsc --noEmit" npx --no-install tsc --noEmit -p .
check "eslint" npx --no-install eslint --max-warnings 0 .
for script in scripts/*.sh test/*.sh test/hosts/*.sh test/engine/*.sh test/kube/*.sh test/lib/*.sh test/hosts/standins/kube* test/hosts/standins/crictl test/hosts/standins/etcd* .ci/run; do
  [ -f "$script" ] && check "shellcheck $script" shellcheck -x "$script"
done

echo "== tier 2: unit tests (mocha, Pulumi mocks)"
npx --no-install mocha --no-color --reporter spec 2>&1 | tee "$log"
read -r p f < <(mocha_counts "$log")
passed=$((passed + p))
failed=$((failed + f))

# Tiers 3 and 4 print "<tier>: N passed, N failed" as their last line.
tier() {
  local name="$1" script="$2"
  echo "== $name"
  "$script" | tee "$log"
  local counts
  counts=$(sed -n -E 's/^[a-z]+: ([0-9]+) passed, ([0-9]+) failed.*/\1 \2/p' "$log" | tail -n 1)
  [ -n "$counts" ] || counts="0 1"
  read -r p f <<<"$counts"
  passed=$((passed + p))
  failed=$((failed + f))
}

tier "tier 3: real test hosts" test/hosts/run.sh
tier "tier 4: the real Pulumi engine" test/engine/run.sh

if [ -n "$prebuild_pid" ]; then
  wait "$prebuild_pid"
  prebuild_pid=""
  echo "== the builds started in the background before tier 1"
  cat "$prebuild_log"
fi

echo
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
