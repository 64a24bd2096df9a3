#!/usr/bin/env bash
# `npm test`: every test tier in order, then one closing line "N passed, N failed".
#   tier 1: type check, lint, shellcheck (one check each, shellcheck one a script)
#   tier 2: unit tests under Pulumi mocks (mocha; each test counts)
#   tier 3: real test hosts (test/hosts; skipped, and said so, where it cannot run)
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1

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
for script in scripts/*.sh test/*.sh test/hosts/*.sh test/hosts/standins/kube* .ci/run; do
  [ -f "$script" ] && check "shellcheck $script" shellcheck -x "$script"
done

echo "== tier 2: unit tests (mocha, Pulumi mocks)"
npx --no-install mocha --no-color --reporter spec 2>&1 | tee "$log"
# Colour codes, should any runner add them, must not hide the counts.
p=$(sed -E 's/\x1b\[[0-9;]*m//g' "$log" | sed -n -E 's/^ *([0-9]+) passing.*/\1/p' | tail -n 1)
f=$(sed -E 's/\x1b\[[0-9;]*m//g' "$log" | sed -n -E 's/^ *([0-9]+) failing.*/\1/p' | tail -n 1)
if [ -z "$p" ] && [ -z "$f" ]; then
  echo "mocha did not run"
  failed=$((failed + 1))
fi
passed=$((passed + ${p:-0}))
failed=$((failed + ${f:-0}))

if [ -x test/hosts/run.sh ]; then
  echo "== tier 3: real test hosts"
  test/hosts/run.sh | tee "$log"
  p=$(sed -n -E 's/^hosts: ([0-9]+) passed, ([0-9]+) failed.*/\1/p' "$log" | tail -n 1)
  f=$(sed -n -E 's/^hosts: ([0-9]+) passed, ([0-9]+) failed.*/\2/p' "$log" | tail -n 1)
  passed=$((passed + ${p:-0}))
  failed=$((failed + ${f:-0}))
fi

echo
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
