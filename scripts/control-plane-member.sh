#!/usr/bin/env bash
# A control-plane host beside the first one (a highly available control plane), run on it.
#   apply   joins it with --control-plane: a join token made for this join, the certificates
#           the first control plane uploaded (certificate-key.sh) downloaded with the key it
#           left in CERTIFICATE_KEY_SECRET, which is deleted with kubeadm's copy of the
#           certificates once the join is done. kubeadm gets all of it in a configuration file
#           that only root reads and that is removed after the join, never on a command line.
#           Then kube-vip's static pod joins the others, and the step waits until the node has
#           registered. On a member that has joined already, it upgrades the node when the lab's
#           Kubernetes version is newer (as worker.sh does), and keeps kube-vip's pod and the
#           control-plane taint as the lab has them.
#   remove  checks first that etcd keeps a quorum without this member (refused when it would
#           not), then drains and deletes the node, removes its etcd member through another
#           control plane's etcd, resets the host and takes the virtual IP off it.
#
# Parameters:
#   NODE_NAME            the node name (the host's name in the configuration)
#   NODE_ADDRESS         the host's address: its API server's advertise address (an IPv4 address)
#   API_SERVER_PORT      the port its API server listens on, as the first control plane's
#   K8S_VERSION          the lab's Kubernetes patch version, e.g. 1.37.1
#   K8S_PACKAGE_VERSION  Debian version of kubelet/kubeadm/kubectl, e.g. 1.37.1-1.1
#   JOIN_TOKEN_TTL       life of the join token this step makes, e.g. 10m
#   ADMIN_KUBECONFIG     the cluster's admin kubeconfig (secret)
#   CERTIFICATE_KEY_SECRET  the Secret in kube-system holding the certificate key for this join
#   IGNORE_PREFLIGHT_ERRORS  kubeadm preflight checks to skip, comma-separated, or empty
#   TAKES_WORKLOADS      true when the lab has no workers: the control planes carry no taint
#   KUBE_VIP_MANIFEST    kube-vip's static pod (components/lib/kubeVip.ts)
#   VIP                  the virtual IP
#   VIP_INTERFACE        the interface for it, or empty: the one that holds NODE_ADDRESS
#   KUBECONFIG_USER      login user who also gets ~/.kube/config (the SSH user; root is skipped)
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

readonly ETCD_PKI=/etc/kubernetes/pki/etcd
skip_checks=()
[ -z "$IGNORE_PREFLIGHT_ERRORS" ] || skip_checks=("--ignore-preflight-errors=$IGNORE_PREFLIGHT_ERRORS")

# kubeadm's JoinConfiguration for this host. Arguments: endpoint, token, CA hash, certificate
# key, advertise address.
join_configuration() {
  local checks=() check
  [ -z "$IGNORE_PREFLIGHT_ERRORS" ] || IFS=, read -ra checks <<<"$IGNORE_PREFLIGHT_ERRORS"
  cat <<CONFIG
apiVersion: kubeadm.k8s.io/v1beta4
kind: JoinConfiguration
discovery:
  bootstrapToken:
    apiServerEndpoint: "$1"
    token: "$2"
    caCertHashes: ["$3"]
nodeRegistration:
  name: "$NODE_NAME"
  criSocket: unix:///run/containerd/containerd.sock
CONFIG
  if [ "$TAKES_WORKLOADS" = true ]; then
    echo "  taints: []"
  else
    printf '  taints:\n    - key: node-role.kubernetes.io/control-plane\n      effect: NoSchedule\n'
  fi
  if [ "${#checks[@]}" -gt 0 ]; then
    echo "  ignorePreflightErrors:"
    for check in "${checks[@]}"; do printf '    - "%s"\n' "$check"; done
  fi
  cat <<CONFIG
controlPlane:
  localAPIEndpoint:
    advertiseAddress: "$5"
    bindPort: $API_SERVER_PORT
  certificateKey: "$4"
CONFIG
}

join() {
  local key printed words=() token hash advertise config="$LAB_STATE_DIR/kubeadm/join.yaml"
  key=$(kube -n kube-system get secret "$CERTIFICATE_KEY_SECRET" -o jsonpath='{.data.key}' 2>/dev/null | base64 -d) || true
  [ -n "$key" ] ||
    die "no certificate key in the Secret kube-system/$CERTIFICATE_KEY_SECRET: the first control plane's certificate-key step makes it just before this join; replace that step (pulumi up --replace with its URN, from pulumi stack --show-urns) and run pulumi up again"
  kube -n kube-system get secret kubeadm-certs >/dev/null 2>&1 ||
    die "the certificates the first control plane uploaded for this join are gone (kubeadm deletes them after two hours); replace its certificate-key step for $NODE_NAME (pulumi up --replace with its URN, from pulumi stack --show-urns) and run pulumi up again"
  printed=$(join_command "$admin_file" "$NODE_NAME" "$JOIN_TOKEN_TTL")
  read -ra words <<<"$printed"
  token=$(sed -n -E 's/.*--token ([a-z0-9]{6}\.[a-z0-9]{16}).*/\1/p' <<<"$printed")
  hash=$(sed -n -E 's/.*--discovery-token-ca-cert-hash (sha256:[0-9a-f]+).*/\1/p' <<<"$printed")
  if [ -z "$token" ] || [ -z "$hash" ]; then die "the control plane's join command has no token or CA hash"; fi
  advertise=$(getent ahostsv4 "$NODE_ADDRESS" | awk 'NR == 1 { print $1 }') || true
  [ -n "$advertise" ] || die "$NODE_ADDRESS does not resolve to an IPv4 address on this host; the API server needs one to advertise"
  install -d -m 0700 "$LAB_STATE_DIR/kubeadm"
  remove_on_exit+=("$config")
  (umask 077 && join_configuration "${words[2]}" "$token" "$hash" "$key" "$advertise" >"$config")
  log "kubeadm join --control-plane as $NODE_NAME"
  run_join "$admin_file" "$(token_id "$printed")" kubeadm join --config "$config"
  rm -f "$config"
  kube -n kube-system delete secret "$CERTIFICATE_KEY_SECRET" --ignore-not-found >/dev/null
  delete_uploaded_certificates
  write_kube_vip "$KUBE_VIP_MANIFEST" "$NODE_ADDRESS" "$VIP_INTERFACE" /etc/kubernetes/admin.conf
  wait_for_registration "$NODE_NAME"
  log "$NODE_NAME joined the control plane"
}

apply() {
  open_admin_kubeconfig "$ADMIN_KUBECONFIG"
  if [ -f /etc/kubernetes/kubelet.conf ]; then
    upgrade_node "$NODE_NAME" "$K8S_VERSION" "$K8S_PACKAGE_VERSION" "${skip_checks[@]}"
    write_kube_vip "$KUBE_VIP_MANIFEST" "$NODE_ADDRESS" "$VIP_INTERFACE" /etc/kubernetes/admin.conf
  else
    join
  fi
  # The control planes take workloads only while there is no worker.
  control_plane_taint "$NODE_NAME" "$TAKES_WORKLOADS"
  copy_admin_kubeconfig "$KUBECONFIG_USER"
}

# etcdctl in the etcd pod of another control plane, through the API server: this host's own
# etcd may be the broken one.
etcdctl_on() {
  local node="$1"
  shift
  kube -n kube-system exec "etcd-$node" -- etcdctl --endpoints=https://127.0.0.1:2379 --cacert="$ETCD_PKI/ca.crt" \
    --cert="$ETCD_PKI/healthcheck-client.crt" --key="$ETCD_PKI/healthcheck-client.key" "$@"
}

# Another control plane whose etcd answers, empty when there is none. A pod the API shows as
# running may be gone (its node's API server is the one that is down), so each is asked.
etcd_peer() {
  local node
  while read -r node; do
    if etcdctl_on "$node" endpoint health >/dev/null 2>&1; then
      printf '%s\n' "$node"
      return 0
    fi
  done < <(kube -n kube-system get pods -l component=etcd --field-selector=status.phase=Running \
    -o jsonpath='{range .items[*]}{.spec.nodeName}{"\n"}{end}' 2>/dev/null | grep -vx "$NODE_NAME" || true)
}

# Fails unless etcd can remove this member and keep a quorum after: more than half of the
# members must be healthy to agree to the removal, and more than half of those left after it.
# Prints the member's id, or nothing when it has none.
check_quorum() {
  local peer="$1" members own total health all healthy needed
  members=$(etcdctl_on "$peer" member list) || die "etcdctl member list on $peer failed; see the messages above"
  own=$(awk -F', ' -v name="$NODE_NAME" '$3 == name { print $1 " " $5 }' <<<"$members")
  [ -n "$own" ] || return 0
  total=$(grep -c . <<<"$members")
  health=$(etcdctl_on "$peer" endpoint health --cluster 2>&1) || true
  all=$(grep -c ' is healthy' <<<"$health" || true)
  healthy=$(grep ' is healthy' <<<"$health" | grep -cvF "${own#* } is healthy" || true)
  needed=$(( (total - 1) / 2 + 1 ))
  if [ "$all" -lt $((total / 2 + 1)) ]; then
    die "etcd has $all healthy of $total members, fewer than the $((total / 2 + 1)) that must agree to remove $NODE_NAME's; nothing was changed. Bring the other control planes back (etcdctl endpoint health --cluster shows them), then run pulumi up again:
$health"
  fi
  if [ "$healthy" -lt "$needed" ]; then
    die "removing $NODE_NAME's etcd member would leave $healthy healthy of $((total - 1)) members, fewer than the $needed a quorum needs, and stop the cluster; nothing was changed. Bring the other control planes back (etcdctl endpoint health --cluster shows them), then run pulumi up again:
$health"
  fi
  printf '%s\n' "${own%% *}"
}

# etcd refuses a removal ("unhealthy cluster") until the members left have been connected for
# a few seconds, as after a member came back: it is asked again for a minute.
remove_etcd_member() {
  local peer="$1" member="$2" out _
  for _ in $(seq 1 12); do
    if out=$(etcdctl_on "$peer" member remove "$member" 2>&1); then
      printf '%s\n' "$out" >&2
      return 0
    fi
    case "$out" in
      *"unhealthy cluster"*) sleep 5 ;;
      *) printf '%s\n' "$out" >&2; die "etcdctl member remove failed on $peer; $NODE_NAME is drained and deleted but not reset: run pulumi up again" ;;
    esac
  done
  die "etcd refused to remove $NODE_NAME's member for a minute (unhealthy cluster); $NODE_NAME is drained and deleted but not reset. Check etcdctl endpoint health --cluster, then run pulumi up again"
}

# Whether the API server answers within a minute: the virtual IP may be moving just now.
api_answers() {
  local _
  for _ in $(seq 1 12); do
    kube get --raw=/readyz >/dev/null 2>&1 && return 0
    sleep 5
  done
  return 1
}

remove() {
  open_admin_kubeconfig "$ADMIN_KUBECONFIG"
  local peer="" member=""
  if api_answers; then
    peer=$(etcd_peer)
    [ -n "$peer" ] ||
      die "no other control plane's etcd answers, so $NODE_NAME's may be the one that keeps etcd's quorum; nothing was changed. Bring the other control planes back (kubectl -n kube-system get pods -l component=etcd), then run pulumi up again"
    member=$(check_quorum "$peer")
  else
    log "the API server does not answer: etcd's quorum cannot be checked, and $NODE_NAME's etcd member (if any) is left to kubeadm reset"
  fi
  leave_cluster "$NODE_NAME"
  if [ -n "$member" ]; then
    remove_etcd_member "$peer" "$member"
    reset_skip_phases=remove-etcd-member
  fi
  node_reset
  drop_vip "$VIP"
  rm -f "$LAB_STATE_DIR/join.log" "$LAB_STATE_DIR/upgrade.log"
}

dispatch "$@"
