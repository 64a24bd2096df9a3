#!/usr/bin/env bash
# Initialises the control plane with kubeadm (apply) and resets the host (remove).
#
# Parameters:
#   KUBEADM_CONFIG   the kubeadm.k8s.io/v1beta4 configuration (InitConfiguration and friends)
#   KUBECONFIG_USER  login user who also gets ~/.kube/config (the SSH user; root is skipped)
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

readonly CONFIG_DIR="$LAB_STATE_DIR/kubeadm"
readonly ADMIN_CONF=/etc/kubernetes/admin.conf

wait_for_api() {
  local i
  for i in $(seq 1 60); do
    if kubectl --kubeconfig "$ADMIN_CONF" get --raw=/readyz >/dev/null 2>&1; then return 0; fi
    [ "$i" -lt 60 ] && sleep 5
  done
  die "the API server did not become ready within 5 minutes; see journalctl -u kubelet on this host"
}

copy_kubeconfig() {
  local home
  [ "$KUBECONFIG_USER" != root ] || return 0
  home=$(getent passwd "$KUBECONFIG_USER" | cut -d: -f6)
  [ -n "$home" ] || return 0
  install -d -m 0700 -o "$KUBECONFIG_USER" "$home/.kube"
  install -m 0600 -o "$KUBECONFIG_USER" "$ADMIN_CONF" "$home/.kube/config"
  grep -qx "$home" "$LAB_STATE_DIR/kubeconfig-copies" 2>/dev/null || printf '%s\n' "$home" >>"$LAB_STATE_DIR/kubeconfig-copies"
}

apply() {
  mkdir -p "$CONFIG_DIR"
  local config="$CONFIG_DIR/init.yaml" wanted
  wanted=$(mktemp)
  printf '%s\n' "$KUBEADM_CONFIG" >"$wanted"
  if [ -f "$ADMIN_CONF" ]; then
    if ! cmp -s "$wanted" "$config"; then
      rm -f "$wanted"
      die "this host is already a control plane with another configuration; pulumi resets it before a new init, or run: sudo kubeadm reset -f"
    fi
    rm -f "$wanted"
    log "control plane already initialised"
  else
    install -m 0600 "$wanted" "$config"
    rm -f "$wanted"
    log "kubeadm init"
    # A failed init leaves half a control plane behind; reset it so that the next run starts clean.
    if ! kubeadm init --config "$config" >"$CONFIG_DIR/init.log" 2>&1; then
      tail -n 30 "$CONFIG_DIR/init.log" >&2
      node_reset
      die "kubeadm init failed (the host was reset, so the next pulumi up retries from scratch)"
    fi
  fi
  wait_for_api
  install -d -m 0700 /root/.kube
  install -m 0600 "$ADMIN_CONF" /root/.kube/config
  copy_kubeconfig
  log "control plane ready"
}

remove() {
  node_reset
}

dispatch "$@"
