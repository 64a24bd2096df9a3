#!/usr/bin/env bash
# Runs on the control plane for one worker: waits until the node has registered (apply), and
# drains and deletes it before the worker host is reset (remove).
#
# Parameters:
#   NODE_NAME  the node name
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

readonly ADMIN_CONF=/etc/kubernetes/admin.conf

kube() { kubectl --kubeconfig "$ADMIN_CONF" "$@"; }

apply() {
  local i
  for i in $(seq 1 60); do
    if kube get node "$NODE_NAME" >/dev/null 2>&1; then
      log "node $NODE_NAME registered"
      return 0
    fi
    [ "$i" -lt 60 ] && sleep 5
  done
  die "node $NODE_NAME did not register within 5 minutes; see journalctl -u kubelet on that host"
}

remove() {
  if [ ! -f "$ADMIN_CONF" ]; then
    log "no control plane on this host any more; nothing to drain"
    return 0
  fi
  if kube get node "$NODE_NAME" >/dev/null 2>&1; then
    # A lab has no disruption budget worth waiting for: evict what can be evicted, then go on.
    kube drain "$NODE_NAME" --ignore-daemonsets --delete-emptydir-data --force --timeout=120s >&2 ||
      log "drain of $NODE_NAME did not finish; deleting the node anyway"
    kube delete node "$NODE_NAME" --ignore-not-found >&2
  fi
  log "node $NODE_NAME removed from the cluster"
}

dispatch "$@"
