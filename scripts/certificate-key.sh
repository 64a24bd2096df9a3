#!/usr/bin/env bash
# The certificate key a control-plane join needs, made on the first control plane just before
# the join (control-plane-member.sh) and never stored outside the cluster.
#   apply   makes a key, uploads the cluster's certificates encrypted with it (kubeadm init phase
#           upload-certs: the Secret kube-system/kubeadm-certs, which kubeadm deletes after two
#           hours) and hands the key to the joining host in the Secret kube-system/SECRET_NAME,
#           which the join deletes. kubeadm takes the key only in its configuration (not with
#           --config as a flag): it goes into a copy of the control plane's own configuration
#           that only root reads and that is removed when the step ends, so it is on no command
#           line and printed nowhere. Once the node has joined, a run does nothing.
#   remove  deletes both Secrets, and the token that owns kubeadm's, if they are still there.
#
# Parameters:
#   NODE_NAME    the control-plane host that joins with the key
#   SECRET_NAME  the Secret in kube-system that carries the key to it
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

readonly ADMIN_CONF=/etc/kubernetes/admin.conf
readonly INIT_CONFIG="$LAB_STATE_DIR/kubeadm/init.yaml"

# The control plane's kubeadm configuration with the key in its InitConfiguration.
with_certificate_key() {
  awk -v key="$1" '{ print } /^kind: InitConfiguration$/ && !done { print "certificateKey: \"" key "\""; done = 1 }' "$INIT_CONFIG"
}

apply() {
  [ -f "$ADMIN_CONF" ] || die "no $ADMIN_CONF: this host is not the lab's first control plane, or its init has not run"
  if kube get node "$NODE_NAME" >/dev/null 2>&1; then
    log "$NODE_NAME has joined: no certificate key to make"
    return 0
  fi
  [ -f "$INIT_CONFIG" ] || die "no $INIT_CONFIG: the control-plane step writes it; run pulumi up again once it has run"
  local key config="$LAB_STATE_DIR/kubeadm/upload-certs.yaml"
  key=$(kubeadm certs certificate-key)
  (umask 077 && with_certificate_key "$key" >"$config")
  remove_on_exit+=("$config")
  trap leave_script EXIT
  grep -q '^certificateKey: ' "$config" || die "$INIT_CONFIG has no InitConfiguration"
  if ! kubeadm init phase upload-certs --upload-certs --skip-certificate-key-print --config "$config" >"$LAB_STATE_DIR/upload-certs.log" 2>&1; then
    sed -E 's/[0-9a-f]{64}/<key>/g' "$LAB_STATE_DIR/upload-certs.log" | tail -n 20 >&2
    rm -f "$LAB_STATE_DIR/upload-certs.log"
    die "kubeadm init phase upload-certs failed; see the messages above"
  fi
  rm -f "$LAB_STATE_DIR/upload-certs.log"
  kube -n kube-system delete secret "$SECRET_NAME" --ignore-not-found >/dev/null
  printf '%s' "$key" | kube -n kube-system create secret generic "$SECRET_NAME" --from-file=key=/dev/stdin >/dev/null
  log "certificates uploaded for $NODE_NAME's join (kubeadm deletes them within two hours)"
}

remove() {
  [ -f "$ADMIN_CONF" ] || return 0
  { kube -n kube-system delete secret "$SECRET_NAME" --ignore-not-found >/dev/null 2>&1 && delete_uploaded_certificates 2>/dev/null; } ||
    log "could not delete the Secrets $SECRET_NAME and kubeadm-certs; the API server does not answer"
}

dispatch "$@"
