#!/usr/bin/env bash
# The certificate key a control-plane join needs, made on the first control plane just before
# the join (control-plane-member.sh) and never stored outside the cluster.
#   apply   makes a key, uploads the cluster's certificates encrypted with it (kubeadm init phase
#           upload-certs: the Secret kube-system/kubeadm-certs, which kubeadm deletes after two
#           hours) and hands the key to the joining host in the Secret kube-system/SECRET_NAME,
#           which the join deletes. The key is printed nowhere. Once the node has joined, a
#           run (a changed script) does nothing.
#   remove  deletes both Secrets if they are still there.
#
# Parameters:
#   NODE_NAME    the control-plane host that joins with the key
#   SECRET_NAME  the Secret in kube-system that carries the key to it
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

readonly ADMIN_CONF=/etc/kubernetes/admin.conf
readonly INIT_CONFIG="$LAB_STATE_DIR/kubeadm/init.yaml"

apply() {
  [ -f "$ADMIN_CONF" ] || die "no $ADMIN_CONF: this host is not the lab's first control plane, or its init has not run"
  if kube get node "$NODE_NAME" >/dev/null 2>&1; then
    log "$NODE_NAME has joined: no certificate key to make"
    return 0
  fi
  local key config=()
  key=$(kubeadm certs certificate-key)
  [ ! -f "$INIT_CONFIG" ] || config=(--config "$INIT_CONFIG")
  # kubeadm prints the key: its output stays off the log.
  kubeadm init phase upload-certs --upload-certs --certificate-key "$key" "${config[@]}" >/dev/null 2>"$LAB_STATE_DIR/upload-certs.log" || {
    sed -E 's/[0-9a-f]{64}/<key>/g' "$LAB_STATE_DIR/upload-certs.log" | tail -n 20 >&2
    rm -f "$LAB_STATE_DIR/upload-certs.log"
    die "kubeadm init phase upload-certs failed; see the messages above"
  }
  rm -f "$LAB_STATE_DIR/upload-certs.log"
  kube -n kube-system delete secret "$SECRET_NAME" --ignore-not-found >/dev/null
  printf '%s' "$key" | kube -n kube-system create secret generic "$SECRET_NAME" --from-file=key=/dev/stdin >/dev/null
  log "certificates uploaded for $NODE_NAME's join (kubeadm deletes them within two hours)"
}

remove() {
  [ -f "$ADMIN_CONF" ] || return 0
  kube -n kube-system delete secret "$SECRET_NAME" kubeadm-certs --ignore-not-found >/dev/null 2>&1 ||
    log "could not delete the Secrets $SECRET_NAME and kubeadm-certs; the API server does not answer"
}

dispatch "$@"
