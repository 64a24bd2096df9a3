#!/usr/bin/env bash
# Joins a worker to the cluster (apply) and resets the host (remove).
#
# Parameters:
#   NODE_NAME     the node name (the host's name in the configuration)
#   JOIN_COMMAND  `kubeadm join ...` as printed on the control plane moments before (secret)
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

apply() {
  if [ -f /etc/kubernetes/kubelet.conf ]; then
    log "$NODE_NAME already joined"
    return 0
  fi
  local join=()
  read -ra join <<<"$JOIN_COMMAND"
  if [ "${join[0]:-}" != kubeadm ] || [ "${join[1]:-}" != join ]; then
    die "the control plane returned no join command"
  fi
  mkdir -p "$LAB_STATE_DIR"
  log "kubeadm join as $NODE_NAME"
  # The join command holds a token: keep kubeadm's output off the log and show its tail on failure.
  if ! "${join[@]}" --node-name "$NODE_NAME" >"$LAB_STATE_DIR/join.log" 2>&1; then
    grep -v -e '--token' -e 'discovery-token' "$LAB_STATE_DIR/join.log" | tail -n 30 >&2
    node_reset
    die "kubeadm join failed (the host was reset, so the next pulumi up retries from scratch)"
  fi
  log "$NODE_NAME joined"
}

remove() {
  node_reset
  rm -f "$LAB_STATE_DIR/join.log"
}

dispatch "$@"
