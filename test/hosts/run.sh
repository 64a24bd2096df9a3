#!/usr/bin/env bash
# Tier 3: boots the real test hosts, runs test/hosts/*.spec.ts on them, and tears everything
# down, also on failure or interruption. Ends with "hosts: N passed, N failed".
# Where the hosts cannot run (not root, no systemd-nspawn) it says so and passes nothing; in CI
# (CI=true) that is a failure, because there they must run. K8S_LAB_HOST_TESTS=skip skips them
# on purpose (the GitHub workflow does, its runners being no place for nspawn machines).
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
# shellcheck source=test/hosts/testbed.sh
. test/hosts/testbed.sh

skip=""
[ "${K8S_LAB_HOST_TESTS:-}" != skip ] || skip="K8S_LAB_HOST_TESTS=skip"
gate=0
testbed_gate hosts "$skip" "" || gate=$?
[ "$gate" -eq 0 ] || exit $((gate - 1))

if ! testbed_up cp1 worker1 worker2 solo; then
  echo "hosts: 0 passed, 1 failed"
  exit 1
fi
testbed_mocha test/hosts/.mocharc.json
echo "hosts: $testbed_passed passed, $testbed_failed failed"
[ "$testbed_failed" -eq 0 ]
