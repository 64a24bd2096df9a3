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

repo=$(mktemp -d)
log=$(mktemp)
server=""
cleanup() {
  [ -z "$server" ] || kill "$server" 2>/dev/null || true
  test/hosts/machines.sh down
  rm -rf "$repo" "$log"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

version=$(node -e 'require("ts-node/register/transpile-only"); process.stdout.write(require("./components/versions").kubernetesReleases["1.35"])')
test/hosts/build-repo.sh "$repo/core/v1.35/deb" "$version" >/dev/null
if ! test/hosts/machines.sh up cp1 worker1 worker2 solo; then
  echo "hosts: 0 passed, 1 failed"
  exit 1
fi
python3 -m http.server 8080 --bind 10.213.0.1 --directory "$repo" >/dev/null 2>&1 &
server=$!

npx --no-install mocha --no-color --config test/hosts/.mocharc.json 2>&1 | tee "$log"
# Colour codes, should any runner add them, must not hide the counts.
p=$(sed -E 's/\x1b\[[0-9;]*m//g' "$log" | sed -n -E 's/^ *([0-9]+) passing.*/\1/p' | tail -n 1)
f=$(sed -E 's/\x1b\[[0-9;]*m//g' "$log" | sed -n -E 's/^ *([0-9]+) failing.*/\1/p' | tail -n 1)
[ -n "$p$f" ] || f=1
echo "hosts: ${p:-0} passed, ${f:-0} failed"
[ "${f:-0}" -eq 0 ]
