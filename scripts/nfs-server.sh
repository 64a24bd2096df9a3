#!/usr/bin/env bash
# Serves the lab's NFS export (apply) and takes it away (remove), keeping the data unless
# asked to delete it.
#
# Parameters:
#   EXPORT_PATH  the exported directory, e.g. /srv/nfs/k8s-lab
#   CLIENTS      space-separated addresses of the lab's hosts, the only clients allowed
#   DELETE_DATA  true to delete the exported directory on remove, false to keep it
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

readonly EXPORTS_FILE=/etc/exports.d/k8s-lab.exports

# csi-driver-nfs makes a sub-directory per claim as root, hence no_root_squash; the export
# is limited to the lab's own hosts.
exports_line() {
  local client line="$EXPORT_PATH"
  for client in $CLIENTS; do
    line+=" $client(rw,sync,no_subtree_check,no_root_squash)"
  done
  printf '%s\n' "$line"
}

apply() {
  check_os
  [ -n "$CLIENTS" ] || die "no NFS clients given"
  mkdir -p "$LAB_STATE_DIR"
  finish_interrupted_dpkg
  if ! is_installed nfs-kernel-server; then
    apt_quiet update
    install_packages nfs-kernel-server
  fi
  install -d -m 0755 "$EXPORT_PATH"
  mkdir -p /etc/exports.d
  exports_line | write_if_changed "$EXPORTS_FILE" || true
  # nfsd is usually a module that loads on demand; /proc/fs/nfsd can exist without it.
  modprobe nfsd 2>/dev/null || true
  grep -qw nfsd /proc/filesystems ||
    die "this kernel has no NFS server (nfsd); give the nfs role to a VM or bare-metal host"
  systemctl enable --now nfs-server
  exportfs -ra
  log "exporting $EXPORT_PATH to $CLIENTS"
}

remove() {
  rm -f "$EXPORTS_FILE"
  exportfs -ra 2>/dev/null || true
  purge_recorded_packages nfs-kernel-server
  purge_unneeded_dependencies
  if [ "$DELETE_DATA" = true ]; then
    rm -rf "${EXPORT_PATH:?}"
    log "deleted $EXPORT_PATH"
  else
    log "kept the data in $EXPORT_PATH"
  fi
}

dispatch "$@"
