#!/usr/bin/env bash
# The control plane, on its host.
#   apply   kubeadm init on a fresh host. On a host that is the lab's control plane already,
#           it brings it to the configuration: upgrades it when the lab's Kubernetes version
#           is newer (kubeadm upgrade apply, then kubelet and kubectl), and sets or lifts the
#           control-plane taint as workers come and go. A different cluster identity is
#           refused: the program replaces this step (reset first) for that.
#   remove  resets the host, and takes the virtual IP off it if kube-vip left it there.
#
# Parameters:
#   KUBEADM_CONFIG       the kubeadm.k8s.io/v1beta4 configuration (InitConfiguration and friends)
#   CLUSTER_IDENTITY     what makes this cluster this cluster (name, endpoint, subnets, host)
#   NODE_NAME            the control plane's node name
#   K8S_VERSION          the lab's Kubernetes patch version, e.g. 1.37.1
#   K8S_PACKAGE_VERSION  Debian version of kubelet/kubeadm/kubectl, e.g. 1.37.1-1.1
#   SINGLE_NODE          true when the lab has no workers: the control plane takes workloads
#   KUBECONFIG_USER      login user who also gets ~/.kube/config (the SSH user; root is skipped)
#   IGNORE_PREFLIGHT_ERRORS  kubeadm preflight checks to skip, comma-separated, or empty: init
#                        reads them from KUBEADM_CONFIG, upgrade apply takes them as a flag
#   NODE_ADDRESS         the host's address in the configuration
#   KUBE_VIP_MANIFEST    kube-vip's static pod (components/lib/kubeVip.ts) when the lab has a virtual
#                        IP, else empty: written before init with super-admin.conf (admin.conf has
#                        no rights until init binds them), then with admin.conf
#   VIP                  the virtual IP, or empty
#   VIP_INTERFACE        the interface for it, or empty: the one that holds NODE_ADDRESS
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

readonly CONFIG_DIR="$LAB_STATE_DIR/kubeadm"
readonly ADMIN_CONF=/etc/kubernetes/admin.conf

api_ready() {
  wait_for_api || die "the API server did not become ready within 5 minutes; see journalctl -u kubelet on this host"
}

# kubeadm init makes a bootstrap token that lives 24 hours and prints it in its log. Workers
# make their own token when they join, so this one is deleted and kept out of the log.
forget_init_token() {
  local log="$CONFIG_DIR/init.log" id
  [ -f "$log" ] || return 0
  id=$(sed -n -E 's/.*--token ([a-z0-9]{6})\.[a-z0-9]{16}.*/\1/p' "$log" | head -n 1)
  [ -z "$id" ] || kubeadm token delete --kubeconfig "$ADMIN_CONF" "$id" >/dev/null 2>&1 || true
  redact_tokens <"$log" >"$log.redacted"
  mv "$log.redacted" "$log"
  chmod 0600 "$log"
}

init() {
  local config="$CONFIG_DIR/init.yaml"
  printf '%s\n' "$KUBEADM_CONFIG" | write_if_changed "$config" 0600 || true
  write_kube_vip "$KUBE_VIP_MANIFEST" "$NODE_ADDRESS" "$VIP_INTERFACE" /etc/kubernetes/super-admin.conf
  log "kubeadm init"
  # A failed init leaves half a control plane behind; reset it so that the next run starts clean.
  if ! kubeadm init --config "$config" >"$CONFIG_DIR/init.log" 2>&1; then
    chmod 0600 "$CONFIG_DIR/init.log"
    redact_tokens <"$CONFIG_DIR/init.log" | tail -n 30 >&2
    node_reset
    die "kubeadm init failed (the host was reset, so the next pulumi up retries from scratch)"
  fi
  printf '%s\n' "$CLUSTER_IDENTITY" >"$CONFIG_DIR/identity"
  kube_vip_to_admin_conf
}

# kube-vip moves to admin.conf once init has bound its rights. kubelet restarts its pod within
# its file check period, and the virtual IP is gone until the new pod holds the lease again:
# wait for that, so that nothing after this step (a join) finds the API server's address gone.
kube_vip_to_admin_conf() {
  [ -n "$KUBE_VIP_MANIFEST" ] || return 0
  local before now="" _ started=$SECONDS
  before=$(crictl ps --state running --name '^kube-vip$' -q 2>/dev/null | head -n 1) || true
  write_kube_vip "$KUBE_VIP_MANIFEST" "$NODE_ADDRESS" "$VIP_INTERFACE" "$ADMIN_CONF"
  for _ in $(seq 1 180); do
    now=$(crictl ps --state running --name '^kube-vip$' -q 2>/dev/null | head -n 1) || true
    [ -z "$now" ] || [ "$now" = "$before" ] || break
    sleep 1
  done
  if [ -z "$now" ] || [ "$now" = "$before" ]; then
    log "kube-vip's pod did not restart within 3 minutes; see crictl ps -a --name kube-vip"
  else
    log "kube-vip's pod restarted on admin.conf in $((SECONDS - started)) s"
  fi
  api_ready
}

minor_of() { cut -d. -f1,2 <<<"$1"; }

# kubeadm's documented order: kubeadm first, `upgrade apply`, then drain, kubelet and kubectl,
# restart, uncordon. Workers follow in their own step, after this one.
upgrade() {
  local current="$1"
  local from to next
  from=$(minor_of "$current")
  to=$(minor_of "$K8S_VERSION")
  next=$(awk -F. '{ print $1 "." $2 + 1 }' <<<"$from")
  if [ "$to" != "$from" ] && [ "$to" != "$next" ]; then
    die "Kubernetes $current cannot be upgraded to $K8S_VERSION in one step; kubeadm upgrades one minor at a time (go to $next first)"
  fi
  log "upgrading the control plane from $current to $K8S_VERSION"
  move_held_packages "$K8S_PACKAGE_VERSION" kubeadm
  local skip_checks=()
  [ -z "$IGNORE_PREFLIGHT_ERRORS" ] || skip_checks=("--ignore-preflight-errors=$IGNORE_PREFLIGHT_ERRORS")
  if ! kubeadm upgrade apply "v$K8S_VERSION" -y "${skip_checks[@]}" >"$CONFIG_DIR/upgrade.log" 2>&1; then
    tail -n 30 "$CONFIG_DIR/upgrade.log" >&2
    die "kubeadm upgrade apply v$K8S_VERSION failed; the cluster still runs $current (see $CONFIG_DIR/upgrade.log)"
  fi
  if [ "$SINGLE_NODE" != true ]; then
    kube drain "$NODE_NAME" --ignore-daemonsets --delete-emptydir-data --force --timeout=300s >&2 ||
      log "drain of $NODE_NAME did not finish; upgrading its kubelet anyway"
  fi
  move_held_packages "$K8S_PACKAGE_VERSION" kubelet kubectl
  systemctl daemon-reload
  systemctl restart kubelet
  api_ready
  kube uncordon "$NODE_NAME" >&2
  log "control plane upgraded to $K8S_VERSION"
}

reconcile() {
  if [ -f "$CONFIG_DIR/identity" ] && [ "$(cat "$CONFIG_DIR/identity")" != "$CLUSTER_IDENTITY" ]; then
    die "this host is the control plane of another cluster ($(tr '\n' ' ' <"$CONFIG_DIR/identity")); pulumi resets it before a new init, or run: sudo kubeadm reset -f"
  fi
  printf '%s\n' "$CLUSTER_IDENTITY" >"$CONFIG_DIR/identity"
  api_ready
  local current
  current=$(node_version)
  if [ -n "$current" ] && version_newer "$K8S_VERSION" "$current"; then
    upgrade "$current"
  elif [ -n "$current" ] && version_newer "$current" "$K8S_VERSION"; then
    die "the cluster runs Kubernetes $current, newer than $K8S_VERSION; kubeadm cannot downgrade (a new cluster needs a destroy first)"
  fi
  printf '%s\n' "$KUBEADM_CONFIG" | write_if_changed "$CONFIG_DIR/init.yaml" 0600 || true
  write_kube_vip "$KUBE_VIP_MANIFEST" "$NODE_ADDRESS" "$VIP_INTERFACE" "$ADMIN_CONF"
  log "control plane already initialised, on Kubernetes $K8S_VERSION"
}

apply() {
  mkdir -p "$CONFIG_DIR"
  if [ -f "$ADMIN_CONF" ]; then
    reconcile
  else
    init
  fi
  api_ready
  forget_init_token
  # Workers come and go; the control planes take workloads only while there is none.
  control_plane_taint "$NODE_NAME" "$SINGLE_NODE"
  copy_admin_kubeconfig "$KUBECONFIG_USER"
  log "control plane ready"
}

remove() {
  node_reset
  drop_vip "$VIP"
}

dispatch "$@"
