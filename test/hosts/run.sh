#!/usr/bin/env bash
# Tier 3: boots the real test hosts, runs test/hosts/*.spec.ts on them with stand-in Kubernetes
# packages, then boots hosts able to run real Kubernetes, built from Go modules (or taken from
# the cache, test/kube/build.sh), twice: three control planes and a worker (test/kube/ha.spec.ts),
# then a control plane and two workers, which the lab upgrades from one release to the next
# (test/kube/cluster.spec.ts); tears everything down, also
# on failure or interruption. Ends with "hosts: N passed, N failed".
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
passed=$testbed_passed failed=$testbed_failed
testbed_down

# Real Kubernetes needs Go to build it (its gate is machines.sh's, checked above).
command -v go >/dev/null || [ ! -x /usr/local/go/bin/go ] || PATH="/usr/local/go/bin:$PATH"
read -r from version < <(testbed_real_versions)
if ! command -v go >/dev/null; then
  echo "hosts: real Kubernetes cannot be built here: Go is not installed"
  failed=$((failed + 1))
else
  # Three control planes behind a virtual IP and a worker at the older release, on Debian's
  # containerd (which cannot run the newer minor), then a control plane and two workers upgraded
  # from the older release to the newer, the lab's default, on Docker's containerd.io. That
  # order lets a cold run build the newer release and containerd.io (test/run-tiers.sh, in the
  # background) while the first spec runs.
  for spec in "test/kube/ha.mocharc.json $from - cp1 cp2 cp3 worker1" "test/kube/.mocharc.json $from,$version --containerd cp1 worker1 worker2"; do
    read -r config releases containerd names <<<"$spec"
    [ "$containerd" != - ] || containerd=""
    IFS=, read -ra builds <<<"$releases"
    started=$SECONDS
    # shellcheck disable=SC2086 # the flag, or nothing
    if ! test/kube/build.sh $containerd "${builds[@]}"; then
      echo "hosts: real Kubernetes $releases did not build; see the lines above"
      failed=$((failed + 1))
      continue
    fi
    echo "hosts: real Kubernetes $releases built or found in the cache in $((SECONDS - started)) s"
    # shellcheck disable=SC2086 # the flag or nothing, the machines' names
    if testbed_up --kubernetes "$releases" $containerd $names; then
      testbed_mocha "$config"
      passed=$((passed + testbed_passed)) failed=$((failed + testbed_failed))
    else
      failed=$((failed + 1))
    fi
    testbed_down
  done
fi
echo "hosts: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
