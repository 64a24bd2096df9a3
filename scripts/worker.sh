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

# The join is the printed command, not a configuration file: the checks go as a flag.
skip_checks=()
[ -z "$IGNORE_PREFLIGHT_ERRORS" ] || skip_checks=("--ignore-preflight-errors=$IGNORE_PREFLIGHT_ERRORS")

join() {
  local printed join=()
  printed=$(join_command "$admin_file" "$NODE_NAME" "$JOIN_TOKEN_TTL")
  read -ra join <<<"$printed"
  log "kubeadm join as $NODE_NAME"
  # The command holds the token: run_join keeps kubeadm's output off the log.
  run_join "$admin_file" "$(token_id "$printed")" "${join[@]}" --node-name "$NODE_NAME" "${skip_checks[@]}"
  wait_for_registration "$NODE_NAME"
  log "$NODE_NAME joined"
}

apply() {
  open_admin_kubeconfig "$ADMIN_KUBECONFIG"
  if [ -f /etc/kubernetes/kubelet.conf ]; then
    upgrade_node "$NODE_NAME" "$K8S_VERSION" "$K8S_PACKAGE_VERSION" "${skip_checks[@]}"
  else
    join
  fi
}

remove() {
  open_admin_kubeconfig "$ADMIN_KUBECONFIG"
  leave_cluster "$NODE_NAME"
  node_reset
  rm -f "$LAB_STATE_DIR/join.log" "$LAB_STATE_DIR/upgrade.log"
}

dispatch "$@"
