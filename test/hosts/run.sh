#!/usr/bin/env bash
# Tier 3: boots the real test hosts, runs test/hosts/*.spec.ts on them, and tears everything
# down, also on failure or interruption. Ends with "hosts: N passed, N failed".
# Where the hosts cannot run (not root, no systemd-nspawn) it says so and passes nothing; in CI
# (CI=true) that is a failure, because there they must run. K8S_LAB_HOST_TESTS=skip skips them
# on purpose (the GitHub workflow does, its runners being no place for nspawn machines).
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1

if [ "${K8S_LAB_HOST_TESTS:-}" = skip ]; then
  echo "hosts: skipped, K8S_LAB_HOST_TESTS=skip (the other tiers still ran)"
  echo "hosts: 0 passed, 0 failed"
  exit 0
fi
if ! reason=$(test/hosts/machines.sh check); then
  if [ "${CI:-}" = true ]; then
    echo "hosts: cannot run the real test hosts here: $reason (CI needs them)"
    echo "hosts: 0 passed, 1 failed"
    exit 1
  fi
  echo "hosts: skipped, cannot run the real test hosts here: $reason (the other tiers still ran)"
  echo "hosts: 0 passed, 0 failed"
  exit 0
fi

# shellcheck source=test/hosts/testbed.sh
. test/hosts/testbed.sh
log=$(mktemp)
cleanup() {
  testbed_down
  rm -f "$log"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if ! testbed_up cp1 worker1 worker2 solo; then
  echo "hosts: 0 passed, 1 failed"
  exit 1
fi

npx --no-install mocha --no-color --config test/hosts/.mocharc.json 2>&1 | tee "$log"
read -r p f < <(mocha_counts "$log")
echo "hosts: $p passed, $f failed"
[ "$f" -eq 0 ]
