#!/usr/bin/env bash
# Shared by the tiers that run on the real test hosts (test/hosts/run.sh, test/engine/run.sh):
# the stand-in Kubernetes apt repository served on the bridge, the machines, and mocha's
# counts. Sourced, not run.

# The Kubernetes releases the stand-in repository offers: the one the tests install, and the
# one before it, for an upgrade to move through.
testbed_versions() {
  local latest
  latest=$(node -e 'require("ts-node/register/transpile-only"); process.stdout.write(require("./components/lib/versions").kubernetesReleases["1.35"])')
  echo "${latest%.*}.$((${latest##*.} - 1)) $latest"
}

# The real Kubernetes releases tiers 3 and 4 build and run (test/kube/real.ts): the one the upgrade
# starts from, then the one it goes to.
testbed_real_versions() {
  node -e 'require("ts-node/register/transpile-only"); const r = require("./test/kube/real"); process.stdout.write(r.upgradeFrom + " " + r.realVersion + "\n")'
}

# Boots fresh machines with the given names and serves the stand-in repository; testbed_down
# undoes both, when the calling script ends however it ends. One run at a time: the machines'
# names, the bridge and the NAT are shared, so a second run would tear down the first's; it
# waits instead (the lock is held by the calling script, and by the machines it boots, until
# they are down).
#   testbed_up NAME...                          stand-in kubelet, kubeadm and kubectl
#   testbed_up --kubernetes VERSION[,VERSION...] NAME...
#       real Kubernetes at each VERSION (test/kube/build.sh): their packages in the repository of
#       their minor, their images in a registry on the bridge (http://10.213.0.1:5000, a mirror of
#       registry.k8s.io), machines able to run it; two versions let a real `kubeadm upgrade`
#       move from one to the other, within a minor or to the next
#   testbed_up --kubernetes VERSION[,VERSION...] --containerd NAME...
#       and containerd.io too (test/kube/build.sh --containerd), in a repository laid out like
#       Docker's (http://10.213.0.1:8080/docker, the lab's mirrors.containerdApt)
# Where test/kube/build.sh keeps real Kubernetes.
testbed_kube_cache=${K8S_LAB_KUBE_CACHE:-/var/cache/k8s-lab-kube}

testbed_up() {
  local real="" containerd=false machines=()
  if [ "${1:-}" = --kubernetes ]; then real=$2; shift 2; machines=(--kubernetes); fi
  if [ "${1:-}" = --containerd ]; then containerd=true; shift; fi
  exec 9>/run/k8s-lab-testbed.lock
  if ! flock -n 9; then
    echo "[testbed] another run is using the test hosts; waiting for it to end (up to 2 hours)"
    flock -w 7200 9 || { echo "[testbed] the other run did not end within 2 hours"; return 1; }
  fi
  trap testbed_down EXIT
  trap 'exit 130' INT TERM
  testbed_repo=$(mktemp -d)
  if [ -n "$real" ]; then
    local version minor releases=()
    for version in ${real//,/ }; do releases+=("$testbed_kube_cache/release-v$version"); done
    # One repository a minor, as pkgs.k8s.io has them: an upgrade across a minor moves the
    # lab's apt source from one to the next.
    for minor in $(tr , '\n' <<<"$real" | cut -d. -f1,2 | sort -u); do
      local debs=()
      for version in ${real//,/ }; do
        [ "${version%.*}" != "$minor" ] || debs+=("$testbed_kube_cache/release-v$version/debs")
      done
      test/hosts/build-repo.sh "$testbed_repo/core/v$minor/deb" --debs "${debs[@]}" >/dev/null || return 1
    done
    if [ "$containerd" = true ]; then
      test/hosts/build-repo.sh "$testbed_repo/docker" --docker "$testbed_kube_cache"/containerd-io/debs/*.deb >/dev/null || return 1
    fi
  else
    # shellcheck disable=SC2046
    test/hosts/build-repo.sh "$testbed_repo/core/v1.35/deb" $(testbed_versions) >/dev/null || return 1
  fi
  test/hosts/machines.sh up "${machines[@]}" "$@" || return 1
  python3 -m http.server 8080 --bind 10.213.0.1 --directory "$testbed_repo" >/dev/null 2>&1 &
  testbed_server=$!
  [ -z "$real" ] || testbed_registry "${releases[@]}"
}

# Serves the releases' images on the bridge (which machines.sh makes) and waits until it holds
# them; an image two releases share (etcd, CoreDNS, pause) is the same in both.
testbed_registry() {
  local release archives=()
  for release in "$@"; do archives+=("$release"/images/*.tar); done
  "$testbed_kube_cache/bin/imagetool" serve -addr 10.213.0.1:5000 "${archives[@]}" \
    >"$testbed_repo/registry.log" 2>&1 &
  testbed_registry_pid=$!
  for _ in $(seq 1 60); do
    if grep -q '^imagetool: serving' "$testbed_repo/registry.log" 2>/dev/null; then return 0; fi
    kill -0 "$testbed_registry_pid" 2>/dev/null || break
    sleep 1
  done
  echo "[testbed] the image registry did not start:"
  cat "$testbed_repo/registry.log"
  return 1
}

testbed_down() {
  [ -z "${testbed_server:-}" ] || kill "$testbed_server" 2>/dev/null || true
  [ -z "${testbed_registry_pid:-}" ] || kill "$testbed_registry_pid" 2>/dev/null || true
  testbed_server="" testbed_registry_pid=""
  test/hosts/machines.sh down
  [ -z "${testbed_repo:-}" ] || rm -rf "$testbed_repo"
  testbed_repo=""
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

# Whether a tier that boots test hosts runs here. $2 is why it is skipped on purpose (empty if
# not), $3 why it cannot run beyond what machines.sh checks (empty if nothing). Prints the
# tier's verdict when it does not run; returns 0 to run, 1 when skipped, 2 when it must fail
# (CI, where every tier has to run).
testbed_gate() {
  local tier="$1" skip="$2" reason="$3"
  if [ -n "$skip" ]; then
    echo "$tier: skipped on purpose ($skip; the other tiers still ran)"
    echo "$tier: 0 passed, 0 failed"
    return 1
  fi
  if [ -z "$reason" ] && reason=$(test/hosts/machines.sh check); then
    return 0
  fi
  if [ "${CI:-}" = true ]; then
    echo "$tier: cannot run here: $reason (CI needs it)"
    echo "$tier: 0 passed, 1 failed"
    return 2
  fi
  echo "$tier: skipped, cannot run here: $reason (the other tiers still ran)"
  echo "$tier: 0 passed, 0 failed"
  return 1
}

# Runs a mocha configuration on the testbed and sets testbed_passed and testbed_failed.
testbed_mocha() {
  local log
  log=$(mktemp)
  npx --no-install mocha --no-color --config "$1" 2>&1 | tee "$log"
  # shellcheck disable=SC2034 # read by the script that sources this file
  read -r testbed_passed testbed_failed < <(mocha_counts "$log")
  rm -f "$log"
}
