#!/usr/bin/env bash
# etcd snapshots of the lab's control plane, run on it by `npm run lab -- backup|restore`.
#   save     streams a snapshot of the running etcd to stdout (and nothing else: every message
#            goes to stderr), taken by the etcd container's own etcdctl through crictl exec,
#            with kubeadm's etcd client certificate, and checked with etcdutl where the image
#            has it. The last message names its size and sha256, for the operator to compare.
#   restore  reads a snapshot on file descriptor 3 and restores it the way the Kubernetes docs
#            describe for a kubeadm control plane: the snapshot is checked and restored into a
#            new data directory first, then the control-plane static pods are stopped (their
#            manifests moved aside), the old data directory is kept as a dated copy beside
#            it (never deleted), the restored one takes its place, the manifests go back,
#            kubelet restarts and the API server is waited for. Refused on a lab with more
#            than one etcd member.
# Both make read-only checks before anything else. The etcd image has no shell, and its
# container sees only its two host mounts (the data directory and the etcd certificates), so
# the snapshot is written in a private directory under the data directory, which the
# container sees at the same path, and removed when the script ends.
#
# Parameters:
#   SNAPSHOT_SHA256  restore: the sha256 of the snapshot the operator sends (empty for save)
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

readonly MANIFESTS=/etc/kubernetes/manifests
readonly ETCD_MANIFEST=/etc/kubernetes/manifests/etcd.yaml
readonly ETCD_PKI=/etc/kubernetes/pki/etcd
readonly STOPPED_MANIFESTS=/etc/kubernetes/k8s-lab-restore-manifests
readonly ETCD_ENDPOINT=https://127.0.0.1:2379
# The static pods a restore stops and starts again, as kubeadm names their manifests.
readonly CONTROL_PLANE_PODS=(etcd kube-apiserver kube-controller-manager kube-scheduler)

# The value of one `--flag=value` of the etcd static pod's command, empty if it has none.
etcd_flag() {
  sed -n -E "/^[[:space:]]*-[[:space:]]+--$1=/{s/^[[:space:]]*-[[:space:]]+--$1=//;s/[\"']//g;p;q}" "$ETCD_MANIFEST"
}

# The data directory the etcd static pod uses (kubeadm mounts it at the same path).
etcd_data_dir() {
  local dir
  dir=$(etcd_flag data-dir)
  printf '%s\n' "${dir:-/var/lib/etcd}"
}

# The id of a running control-plane container, empty when none runs.
running_container() {
  local ids
  ids=$(crictl ps --state running --name "^$1\$" --label io.kubernetes.pod.namespace=kube-system -q 2>/dev/null) || true
  printf '%s\n' "${ids%%$'\n'*}"
}

# Runs etcdctl of the etcd container against the local member, with kubeadm's client certificate.
etcdctl_in() {
  local id="$1"
  shift
  crictl exec "$id" etcdctl --endpoints="$ETCD_ENDPOINT" --cacert="$ETCD_PKI/ca.crt" \
    --cert="$ETCD_PKI/healthcheck-client.crt" --key="$ETCD_PKI/healthcheck-client.key" "$@"
}

# The checks both actions make first; they change nothing. Prints the etcd container's id.
check_control_plane() {
  [ -f "$ETCD_MANIFEST" ] ||
    die "no $ETCD_MANIFEST: this host runs no kubeadm etcd; is it the lab's control plane (stacked etcd)?"
  command -v crictl >/dev/null ||
    die "crictl is not installed (cri-tools, which kubeadm's package depends on); is this the lab's control plane?"
  local f
  for f in ca.crt healthcheck-client.crt healthcheck-client.key; do
    [ -r "$ETCD_PKI/$f" ] || die "no $ETCD_PKI/$f: kubeadm's etcd client certificate is missing (kubeadm init phase certs etcd-healthcheck-client makes it)"
  done
}

# Fails unless exactly one etcd member runs: a restore of one member would split a larger cluster.
check_single_member() {
  local id="$1" members cluster
  if [ -n "$id" ]; then
    members=$(etcdctl_in "$id" member list) || die "etcdctl member list failed; see the messages above"
    if [ "$(grep -c . <<<"$members")" -ne 1 ]; then
      die "etcd has $(grep -c . <<<"$members") members; restoring one of them would split the cluster, so k8s-lab restores single-member etcd only:
$members"
    fi
  else
    # etcd is down: the members kubeadm configured are all there is to go by.
    cluster=$(etcd_flag initial-cluster)
    if [ -n "$cluster" ] && [ "$(tr ',' '\n' <<<"$cluster" | grep -c .)" -ne 1 ]; then
      die "etcd was set up with several members ($cluster); k8s-lab restores single-member etcd only"
    fi
  fi
}

# Fails unless the file system under a directory has room for a number of bytes and a margin.
check_space() {
  local dir="$1" bytes="$2" free
  free=$(df --output=avail -B1 "$dir" | tail -n 1 | tr -d ' ')
  [ "$free" -gt $((bytes + 64 * 1024 * 1024)) ] ||
    die "$dir has $((free / 1024 / 1024)) MiB free; the snapshot needs about $((bytes / 1024 / 1024)) MiB and a margin"
}

# Prints a private new directory under the data directory, which the etcd container sees too.
work_dir() {
  local dir
  dir=$(mktemp -d "$1/.k8s-lab-$2.XXXXXX")
  chmod 0700 "$dir"
  printf '%s\n' "$dir"
}

save() {
  # Only the snapshot goes to stdout: everything else goes to stderr.
  exec 4>&1 1>&2
  check_control_plane
  local id data db_size
  id=$(running_container etcd)
  [ -n "$id" ] || die "the etcd container is not running (crictl ps --name etcd shows none); a snapshot needs a running etcd"
  data=$(etcd_data_dir)
  db_size=$(stat -c %s "$data/member/snap/db" 2>/dev/null || echo 0)
  check_space "$data" "$db_size"

  work=$(work_dir "$data" snapshot)
  trap 'rm -rf "$work"' EXIT
  local file="$work/snapshot.db"
  log "etcd snapshot save (etcdctl of the etcd container $id)"
  etcdctl_in "$id" snapshot save "$file" >&2 || die "etcdctl snapshot save failed; see the messages above"
  chmod 0600 "$file"
  [ -s "$file" ] || die "etcdctl wrote an empty snapshot"
  if crictl exec "$id" etcdutl version >/dev/null 2>&1; then
    crictl exec "$id" etcdutl snapshot status "$file" -w table >&2 || die "etcdutl snapshot status: the snapshot does not check out"
  else
    log "this etcd image has no etcdutl: the snapshot's status was not checked"
  fi
  local sum size
  sum=$(sha256sum "$file" | cut -d' ' -f1)
  size=$(stat -c %s "$file")
  cat "$file" >&4
  exec 4>&-
  log "snapshot sent: $size bytes, sha256 $sum"
}

# etcdutl for a restore: the etcd container's own while it runs, else one on this host.
etcdutl_for_restore() {
  local id="$1"
  shift
  if [ -n "$id" ]; then
    crictl exec "$id" etcdutl "$@"
  else
    etcdutl "$@"
  fi
}

# Puts the moved manifests back, so kubelet starts the static pods again.
put_manifests_back() {
  local m
  [ -d "$STOPPED_MANIFESTS" ] || return 0
  for m in "$STOPPED_MANIFESTS"/*.yaml; do
    [ -e "$m" ] || continue
    mv "$m" "$MANIFESTS/"
  done
  rmdir "$STOPPED_MANIFESTS"
}

wait_for_pods_gone() {
  local i pod running
  for i in $(seq 1 60); do
    running=""
    for pod in etcd kube-apiserver; do
      [ -z "$(running_container "$pod")" ] || running="$running $pod"
    done
    [ -n "$running" ] || return 0
    [ "$i" -lt 60 ] && sleep 2
  done
  die "kubelet did not stop$running within 2 minutes"
}

# What a restore that fails midway undoes: the old data directory goes back where it was (the
# half-made one is kept beside it for a look), and the manifests go back in place. Either way
# the work directory goes, also from the kept copy, which then holds only the old data.
# shellcheck disable=SC2317 # run by the EXIT trap
undo_restore() {
  local status=$?
  if [ "$status" -ne 0 ]; then
    if [ -n "${kept:-}" ] && [ -d "$kept" ] && [ "${swapped:-false}" != true ]; then
      [ ! -e "$data" ] || mv "$data" "$data.failed-restore-$stamp"
      mv "$kept" "$data"
      log "put the old etcd data back in $data"
    fi
    put_manifests_back
  fi
  case "${work:-}" in
    */.k8s-lab-restore.*)
      rm -rf "$work"
      [ -z "${kept:-}" ] || rm -rf "${kept:?}/${work##*/}"
      ;;
  esac
}

restore() {
  check_control_plane
  [ -n "$SNAPSHOT_SHA256" ] || die "restore needs the snapshot's sha256 (the lab command passes it)"
  { : <&3; } 2>/dev/null || die "restore reads the snapshot on file descriptor 3: run it as bash -c 'exec 3<&0 && exec bash -s -- restore', the script then the snapshot on stdin (npm run lab -- restore does)"
  [ ! -e "$STOPPED_MANIFESTS" ] ||
    die "$STOPPED_MANIFESTS exists: an earlier restore stopped here. Put its manifests back in $MANIFESTS (mv $STOPPED_MANIFESTS/*.yaml $MANIFESTS/) and look at the data directory before trying again"
  local id m
  for m in "${CONTROL_PLANE_PODS[@]}"; do
    [ -f "$MANIFESTS/$m.yaml" ] || die "no $MANIFESTS/$m.yaml: the control plane is not complete; restore puts back what it stops, so it needs all of ${CONTROL_PLANE_PODS[*]}"
  done
  id=$(running_container etcd)
  check_single_member "$id"
  if [ -z "$id" ] && ! command -v etcdutl >/dev/null; then
    die "etcd is not running and this host has no etcdutl to restore with; install the etcdutl of the cluster's etcd version (etcd's release archive) in /usr/local/bin"
  fi
  data=$(etcd_data_dir)
  [ -d "$data" ] || die "no etcd data directory $data"

  stamp=$(date -u +%Y%m%dT%H%M%SZ)
  kept="" swapped=false
  work=$(work_dir "$data" restore)
  trap undo_restore EXIT
  local file="$work/snapshot.db"
  log "receiving the snapshot"
  # Everything after the script on stdin is the snapshot, read to its end here: bash, which
  # reads its script from the same pipe, finds nothing after it to run.
  (umask 077 && cat <&3 >"$file")
  exec 3<&-
  local size sum
  size=$(stat -c %s "$file")
  [ "$size" -gt 0 ] || die "no snapshot arrived on stdin"
  sum=$(sha256sum "$file" | cut -d' ' -f1)
  [ "$sum" = "$SNAPSHOT_SHA256" ] || die "the snapshot arrived damaged: sha256 $sum, the operator sent $SNAPSHOT_SHA256 ($size bytes arrived)"
  check_space "$data" "$((size * 2))"
  etcdutl_for_restore "$id" snapshot status "$file" -w table >&2 || die "etcdutl snapshot status: this is not an etcd snapshot, or it is damaged"

  # The restore itself goes into a new directory while everything still runs, so a failure
  # here changes nothing.
  local args=(snapshot restore "$file" --data-dir "$work/data")
  local name cluster peers
  name=$(etcd_flag name)
  cluster=$(etcd_flag initial-cluster)
  peers=$(etcd_flag initial-advertise-peer-urls)
  [ -z "$name" ] || args+=(--name "$name")
  [ -z "$cluster" ] || args+=(--initial-cluster "$cluster")
  [ -z "$peers" ] || args+=(--initial-advertise-peer-urls "$peers")
  # Revisions move past any a client has seen, and the old ones read as compacted, so that
  # watches (kubelets, controllers) start over instead of missing changes (etcd 3.5.10+).
  local help
  help=$(etcdutl_for_restore "$id" snapshot restore --help 2>&1) || true
  if grep -q -- --bump-revision <<<"$help"; then
    args+=(--bump-revision 1000000000 --mark-compacted)
  fi
  log "etcdutl snapshot restore into a new data directory"
  etcdutl_for_restore "$id" "${args[@]}" >&2 || die "etcdutl snapshot restore failed; nothing was changed"
  [ -d "$work/data/member" ] || die "etcdutl made no member directory; nothing was changed"

  log "stopping the control-plane static pods (their manifests go to $STOPPED_MANIFESTS)"
  mkdir -m 0700 "$STOPPED_MANIFESTS"
  for m in "${CONTROL_PLANE_PODS[@]}"; do
    mv "$MANIFESTS/$m.yaml" "$STOPPED_MANIFESTS/"
  done
  wait_for_pods_gone

  kept="$data.before-restore-$stamp"
  mv "$data" "$kept"
  mv "$kept/${work##*/}/data" "$data"
  chmod 0700 "$data"
  swapped=true
  log "the old etcd data is kept in $kept"

  put_manifests_back
  systemctl restart kubelet
  log "waiting for the API server"
  wait_for_api ||
    die "the API server did not become ready within 5 minutes after the restore; see journalctl -u kubelet and crictl ps -a. The data before the restore is in $kept"
  log "restored: the API server answers; the data from before is kept in $kept (remove it when you no longer need it)"
}

run_action() {
  local action="${1:-}"
  case "$action" in
    save) require_root; save ;;
    restore) require_root; restore ;;
    *) die "usage: $0 save|restore" ;;
  esac
}

run_action "$@"
