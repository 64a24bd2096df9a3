#!/usr/bin/env bash
# Tier 4: the program under the real Pulumi engine. Builds the engine from Go modules (or
# takes it from the cache, test/engine/build.sh), and real Kubernetes at the two releases of
# tier 3's upgrade with containerd.io (test/kube/build.sh, cached: tier 3 has built them),
# boots the test hosts able to run it, runs test/engine/*.spec.ts (preview, up, the day-two
# changes with a real kubeadm upgrade, verify, refresh, destroy, forget, secrets) and tears
# everything down. Ends with "engine: N passed, N failed".
# Like tier 3 it needs root and systemd-nspawn, and Go; K8S_LAB_ENGINE_TESTS=skip (or
# K8S_LAB_HOST_TESTS=skip) skips it on purpose.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
# shellcheck source=test/hosts/testbed.sh
. test/hosts/testbed.sh

# Go's own install folder, where a machine has Go but not on PATH.
command -v go >/dev/null || [ ! -x /usr/local/go/bin/go ] || PATH="/usr/local/go/bin:$PATH"
skip=""
for var in K8S_LAB_ENGINE_TESTS K8S_LAB_HOST_TESTS; do
  [ "${!var:-}" != skip ] || skip="$var=skip"
done
reason=""
command -v go >/dev/null || reason="Go is not installed"
gate=0
testbed_gate engine "$skip" "$reason" || gate=$?
[ "$gate" -eq 0 ] || exit $((gate - 1))

cache=${K8S_LAB_ENGINE_CACHE:-/var/cache/k8s-lab-engine}
started=$SECONDS
if ! test/engine/build.sh; then
  echo "engine: the engine did not build; see the lines above"
  echo "engine: 0 passed, 1 failed"
  exit 1
fi
echo "engine: built or found in the cache in $((SECONDS - started)) s"
# shellcheck source=/dev/null
. "$cache/env.sh"

read -r from version < <(testbed_real_versions)
started=$SECONDS
if ! test/kube/build.sh --containerd "$from" "$version"; then
  echo "engine: real Kubernetes $from and $version (and containerd.io) did not build; see the lines above"
  echo "engine: 0 passed, 1 failed"
  exit 1
fi
echo "engine: real Kubernetes $from and $version built or found in the cache in $((SECONDS - started)) s"

if ! testbed_up --kubernetes "$from,$version" --containerd cp1 worker1 worker2; then
  echo "engine: 0 passed, 1 failed"
  exit 1
fi

# The stand-in providers on their own first: their schema and semantics against upstream's.
standins=0
if (cd test/engine/providers && go test -count=1 ./...); then standins=1; fi

testbed_mocha test/engine/.mocharc.json
p=$testbed_passed f=$testbed_failed
if [ "$standins" -eq 1 ]; then p=$((p + 1)); else f=$((f + 1)); fi
echo "engine: $p passed, $f failed"
[ "$f" -eq 0 ]
