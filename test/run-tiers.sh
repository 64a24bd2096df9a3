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
trap 'rm -f "$log"' EXIT

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

echo
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
