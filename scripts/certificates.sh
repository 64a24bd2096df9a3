#!/usr/bin/env bash
# The control plane's certificates, on its host.
#   apply   reads when the certificates kubeadm manages expire (`kubeadm certs
#           check-expiration`) and prints the earliest as `certificates-expire: <ISO 8601>`.
#           When that is at or before RENEW_BEFORE, it first renews them all (`kubeadm certs
#           renew all`), restarts the control-plane static pods as kubeadm's documentation
#           says (their manifests moved out of the kubelet's sight and back), and refreshes the
#           copies of admin.conf. Renewing again with the same RENEW_BEFORE does nothing: the
#           renewed certificates expire after it.
#   remove  does nothing: a renewal cannot be undone, and reading changed nothing.
#
# Parameters:
#   RENEW_BEFORE         ISO 8601 instant; certificates that expire at or before it are renewed ("" never)
#   K8S_VERSION          the lab's Kubernetes version; an upgrade renews the certificates, so they are read again
#   KUBECONFIG_USER      login user whose ~/.kube/config is refreshed after a renewal (root is skipped)
#   STATIC_POD_PAUSE     seconds the manifests stay away: the kubelet looks every 20 s (fileCheckFrequency)
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

readonly ADMIN_CONF=/etc/kubernetes/admin.conf
readonly MANIFESTS=/etc/kubernetes/manifests

# The earliest expiry of the certificates (not the CAs, which kubeadm does not renew), in
# seconds since the epoch, from check-expiration's first table: name, then "Mon DD, YYYY HH:MM UTC".
earliest_expiry() {
  local table earliest
  table=$(kubeadm certs check-expiration 2>/dev/null) || die "kubeadm certs check-expiration failed; is this host the lab's control plane?"
  earliest=$(awk '
    /^CERTIFICATE AUTHORITY/ { exit }
    /^CERTIFICATE / { inside = 1; next }
    inside && NF >= 6 { print $2, $3, $4, $5, $6 }
  ' <<<"$table" | while read -r when; do date -u -d "${when/,/}" +%s 2>/dev/null || true; done | sort -n | head -n 1)
  [ -n "$earliest" ] || die "kubeadm certs check-expiration listed no certificate"
  printf '%s\n' "$earliest"
}

# kubeadm's documented restart: the kubelet stops a static pod whose manifest is gone and
# starts it again when the manifest is back. The manifests wait beside the directory, never
# in a temporary one, so that an interrupted run leaves them where a rerun puts them back.
restart_static_pods() {
  local aside="$LAB_STATE_DIR/manifests-aside"
  mkdir -p "$aside"
  find "$MANIFESTS" -maxdepth 1 -name '*.yaml' -exec mv -t "$aside" {} +
  sleep "$STATIC_POD_PAUSE"
  find "$aside" -maxdepth 1 -name '*.yaml' -exec mv -t "$MANIFESTS" {} +
  rmdir "$aside"
  wait_for_api || die "the API server did not come back within 5 minutes of the renewal; see journalctl -u kubelet on this host"
}

apply() {
  [ -f "$ADMIN_CONF" ] || die "no control plane on this host ($ADMIN_CONF is missing)"
  # An interrupted restart left the manifests aside: put them back before anything else.
  if [ -d "$LAB_STATE_DIR/manifests-aside" ]; then
    find "$LAB_STATE_DIR/manifests-aside" -maxdepth 1 -name '*.yaml' -exec mv -t "$MANIFESTS" {} +
    rmdir "$LAB_STATE_DIR/manifests-aside"
  fi
  local expires
  expires=$(earliest_expiry)
  if [ -n "$RENEW_BEFORE" ] && [ "$expires" -le "$(date -u -d "$RENEW_BEFORE" +%s)" ]; then
    log "certificates expire $(date -u -d "@$expires" +%FT%TZ), within the renewal window: renewing them (Kubernetes $K8S_VERSION)"
    kubeadm certs renew all >&2 || die "kubeadm certs renew all failed; the old certificates stay until $(date -u -d "@$expires" +%FT%TZ)"
    restart_static_pods
    copy_admin_kubeconfig "$KUBECONFIG_USER"
    expires=$(earliest_expiry)
    log "certificates renewed; they now expire $(date -u -d "@$expires" +%FT%TZ)"
  fi
  printf 'certificates-expire: %s\n' "$(date -u -d "@$expires" +%FT%TZ)"
}

remove() {
  :
}

dispatch "$@"
