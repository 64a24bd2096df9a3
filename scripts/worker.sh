#!/usr/bin/env bash
# One worker's life in the cluster, run on the worker itself.
#   apply   joins the node with a token made for this join, at the moment it runs, and waits
#           until the node has registered; on a node that has joined already, it upgrades
#           the node when the lab's Kubernetes version is newer (drain, kubeadm upgrade node,
#           packages, kubelet, uncordon; one node of the cluster at a time), else does nothing.
#   remove  drains and deletes the node (when the API server answers), then resets the host.
#
# Parameters:
#   NODE_NAME            the node name (the host's name in the configuration)
#   K8S_VERSION          the lab's Kubernetes patch version, e.g. 1.37.1
#   K8S_PACKAGE_VERSION  Debian version of kubelet/kubeadm/kubectl, e.g. 1.37.1-1.1
#   JOIN_TOKEN_TTL       life of the join token this step makes, e.g. 10m
#   ADMIN_KUBECONFIG     the cluster's admin kubeconfig (secret): makes the token, drains the node
#   IGNORE_PREFLIGHT_ERRORS  kubeadm preflight checks that join and upgrade node skip,
#                        comma-separated, or empty
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

readonly LOCK=k8s-lab-upgrade-lock
admin_file=""
locked=0
# The join is the printed command, not a configuration file: the checks go as a flag.
skip_checks=()
[ -z "$IGNORE_PREFLIGHT_ERRORS" ] || skip_checks=("--ignore-preflight-errors=$IGNORE_PREFLIGHT_ERRORS")

open_admin_kubeconfig() {
  admin_file=$(admin_kubeconfig_file "$ADMIN_KUBECONFIG")
  trap cleanup EXIT
}

cleanup() {
  [ "$locked" -eq 0 ] || release_upgrade_lock
  rm -f "$admin_file"
}

kube() { kubectl --kubeconfig "$admin_file" --request-timeout=20s "$@"; }

wait_for_registration() {
  local i
  for i in $(seq 1 60); do
    if kube get node "$NODE_NAME" >/dev/null 2>&1; then
      log "node $NODE_NAME registered"
      return 0
    fi
    [ "$i" -lt 60 ] && sleep 5
  done
  die "node $NODE_NAME did not register within 5 minutes; see journalctl -u kubelet on this host"
}

join() {
  local printed join=() token
  mkdir -p "$LAB_STATE_DIR"
  printed=$(kubeadm token create --kubeconfig "$admin_file" --ttl "$JOIN_TOKEN_TTL" \
    --description "k8s-lab: join of $NODE_NAME" --print-join-command 2>/dev/null) ||
    die "could not make a join token on the control plane; is its API server reachable from $NODE_NAME?"
  read -ra join <<<"$printed"
  if [ "${join[0]:-}" != kubeadm ] || [ "${join[1]:-}" != join ]; then
    die "the control plane returned no join command"
  fi
  token=$(sed -n -E 's/.*--token ([a-z0-9]{6})\.[a-z0-9]{16}.*/\1/p' <<<"$printed")
  log "kubeadm join as $NODE_NAME"
  # The command holds the token: keep kubeadm's output off the log, show its tail on failure.
  if ! "${join[@]}" --node-name "$NODE_NAME" "${skip_checks[@]}" >"$LAB_STATE_DIR/join.log" 2>&1; then
    redact_tokens <"$LAB_STATE_DIR/join.log" | tail -n 30 >&2
    [ -z "$token" ] || kubeadm token delete --kubeconfig "$admin_file" "$token" >/dev/null 2>&1 || true
    node_reset
    die "kubeadm join failed (the host was reset, so the next pulumi up retries from scratch)"
  fi
  # Used once: nothing that could join another node outlives this step.
  [ -z "$token" ] || kubeadm token delete --kubeconfig "$admin_file" "$token" >/dev/null 2>&1 || true
  chmod 0600 "$LAB_STATE_DIR/join.log"
  wait_for_registration
  log "$NODE_NAME joined"
}

node_version() {
  kubelet --version 2>/dev/null | sed -E 's/^Kubernetes v//'
}

# One node of the lab upgrades at a time: the first to create the lock ConfigMap holds it.
take_upgrade_lock() {
  local i
  for i in $(seq 1 120); do
    if kube -n kube-system create configmap "$LOCK" --from-literal=holder="$NODE_NAME" >/dev/null 2>&1; then
      return 0
    fi
    [ "$i" -eq 1 ] && log "waiting for another node's upgrade to finish"
    sleep 5
  done
  die "another node held $LOCK for 10 minutes; if no upgrade runs, delete it: kubectl -n kube-system delete configmap $LOCK"
}

release_upgrade_lock() {
  kube -n kube-system delete configmap "$LOCK" --ignore-not-found >/dev/null 2>&1 || true
}

upgrade() {
  local current
  current=$(node_version)
  if [ "$current" = "$K8S_VERSION" ]; then
    log "$NODE_NAME already joined, on Kubernetes $K8S_VERSION"
    return 0
  fi
  version_newer "$K8S_VERSION" "$current" ||
    die "$NODE_NAME runs Kubernetes $current, newer than $K8S_VERSION; kubeadm cannot downgrade a node"
  take_upgrade_lock
  locked=1
  log "upgrading $NODE_NAME from $current to $K8S_VERSION"
  move_held_packages "$K8S_PACKAGE_VERSION" kubeadm
  kubeadm upgrade node "${skip_checks[@]}" >"$LAB_STATE_DIR/upgrade.log" 2>&1 || {
    tail -n 30 "$LAB_STATE_DIR/upgrade.log" >&2
    die "kubeadm upgrade node failed on $NODE_NAME; the node is unchanged but for its kubeadm package"
  }
  kube drain "$NODE_NAME" --ignore-daemonsets --delete-emptydir-data --force --timeout=300s >&2 ||
    log "drain of $NODE_NAME did not finish; upgrading it anyway"
  move_held_packages "$K8S_PACKAGE_VERSION" kubelet kubectl
  systemctl daemon-reload
  systemctl restart kubelet
  kube uncordon "$NODE_NAME" >&2
  log "$NODE_NAME upgraded to $K8S_VERSION"
}

apply() {
  open_admin_kubeconfig
  if [ -f /etc/kubernetes/kubelet.conf ]; then
    upgrade
  else
    join
  fi
}

remove() {
  open_admin_kubeconfig
  if kube get node "$NODE_NAME" >/dev/null 2>&1; then
    # A lab has no disruption budget worth waiting for: evict what can be evicted, then go on.
    kube drain "$NODE_NAME" --ignore-daemonsets --delete-emptydir-data --force --timeout=120s >&2 ||
      log "drain of $NODE_NAME did not finish; deleting the node anyway"
    kube delete node "$NODE_NAME" --ignore-not-found >&2 || log "could not delete node $NODE_NAME; reset goes on"
  else
    log "node $NODE_NAME is not registered, or the API server does not answer: nothing to drain"
  fi
  node_reset
  rm -f "$LAB_STATE_DIR/join.log" "$LAB_STATE_DIR/upgrade.log"
}

dispatch "$@"
