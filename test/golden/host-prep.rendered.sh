#!/usr/bin/env bash
# k8s-lab scripts/host-prep.sh, rendered: parameters, scripts/lib.sh, then the script.
{
set -euo pipefail
K8S_VERSION='1.36.4'
K8S_PACKAGE_VERSION='1.36.4-1.1'
K8S_APT_REPO='http://10.0.0.1/k8s/v1.36/'
K8S_APT_KEY='http://10.0.0.1/k8s/v1.36/Release.key'
CONTAINERD_SOURCE='docker'
CONTAINERD_APT_REPO='https://download.docker.com/linux'
CONTAINERD_VERSION='2.2.1'
PAUSE_IMAGE='registry.k8s.io/pause:3.10.2'
REGISTRY_MIRRORS='docker.io https://b.example.com https://c.example.com
registry.k8s.io https://a.example.com'
NODE_IP=''

# Where the lab records what it changed on a host, so that `remove` undoes exactly that.
readonly LAB_STATE_DIR=/var/lib/k8s-lab

log() { printf '[k8s-lab] %s\n' "$*" >&2; }
die() { printf '[k8s-lab] error: %s\n' "$*" >&2; exit 1; }

require_root() {
  [ "$(id -u)" -eq 0 ] || die "must run as root (the program runs it with sudo -n)"
}

# kubeadm prints bootstrap tokens in several shapes ("--token ID.SECRET", "Using token:
# ID.SECRET", the CA hash beside them); this filter blanks every one of them.
redact_tokens() {
  sed -E -e 's/[a-z0-9]{6}\.[a-z0-9]{16}/<token>/g' -e 's/sha256:[0-9a-f]{64}/sha256:<omitted>/g'
}

# Runs the function named by the first argument: apply or remove.
dispatch() {
  local action="${1:-}"
  case "$action" in
    apply | remove) require_root; "$action" ;;
    *) die "usage: $0 apply|remove" ;;
  esac
}

# Prints one field of /etc/os-release, unquoted.
os_field() {
  sed -n -E "s/^$1=\"?([^\"]*)\"?$/\1/p" /etc/os-release
}

# Refuses hosts the lab does not support, before anything is changed.
check_os() {
  [ -r /etc/os-release ] || die "no /etc/os-release: k8s-lab supports Ubuntu 22.04/24.04/26.04 and Debian 12/13"
  local id version pretty
  id=$(os_field ID)
  version=$(os_field VERSION_ID)
  pretty=$(os_field PRETTY_NAME)
  case "$id:$version" in
    ubuntu:22.04 | ubuntu:24.04 | ubuntu:26.04 | debian:12 | debian:13) ;;
    *) die "unsupported system: $pretty; k8s-lab supports Ubuntu 22.04/24.04/26.04 and Debian 12/13 (apt-based)" ;;
  esac
  command -v apt-get >/dev/null || die "apt-get not found on $pretty"
}

is_installed() {
  # "install ok installed", or "hold ok installed" for a held package.
  dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null | grep -qx installed
}
# apt-get without its progress output; its errors reach stderr once it has finished (so that
# none are lost when a failure ends the script).
apt_quiet() {
  local err rc=0
  err=$(mktemp)
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 -y -q "$@" >/dev/null 2>"$err" || rc=$?
  grep -v -e '^debconf: delaying package configuration' "$err" >&2 || true
  rm -f "$err"
  return "$rc"
}

# Finishes package configuration that an earlier run left half done. A run cut off midway
# (an SSH session that dropped) can leave dpkg running on in its own session, holding the
# lock for a while, so this waits for the lock before it gives up.
finish_interrupted_dpkg() {
  local out _
  for _ in $(seq 1 150); do
    if out=$(DEBIAN_FRONTEND=noninteractive dpkg --configure -a 2>&1); then return 0; fi
    case "$out" in
      *lock*) sleep 2 ;;
      *) printf '%s\n' "$out" >&2; die "dpkg --configure -a failed; see the messages above" ;;
    esac
  done
  die "dpkg has been locked by another process for 5 minutes; wait for it, or find it with: ps -ef | grep -e apt -e dpkg"
}

# Installs packages and records the ones that were not installed before, so that remove
# purges only what the lab brought. Arguments are apt specs: name or name=version.
install_packages() {
  local spec name missing=() before
  for spec in "$@"; do
    name="${spec%%=*}"
    if ! is_installed "$name" || [ "$spec" != "$name" ]; then
      missing+=("$spec")
    fi
  done
  [ "${#missing[@]}" -gt 0 ] || return 0
  mkdir -p "$LAB_STATE_DIR"
  for spec in "${missing[@]}"; do
    name="${spec%%=*}"
    if ! is_installed "$name" && ! grep -qx "$name" "$LAB_STATE_DIR/installed-packages" 2>/dev/null; then
      printf '%s\n' "$name" >>"$LAB_STATE_DIR/installed-packages"
    fi
  done
  log "installing ${missing[*]}"
  before=$(installed_package_names)
  apt_quiet install --no-install-recommends --allow-change-held-packages "${missing[@]}"
  # What apt brought in beside them (iptables, conntrack, ...): removal takes those too, once
  # nothing else needs them.
  comm -13 <(printf '%s\n' "$before") <(installed_package_names) |
    grep -vxF -f <(printf '%s\n' "${missing[@]%%=*}") >>"$LAB_STATE_DIR/installed-dependencies" || true
}

installed_package_names() {
  dpkg-query -W -f='${db:Status-Status} ${Package}\n' | awk '$1 == "installed" { print $2 }' | sort
}

# Purges the dependencies the lab's installs brought in that nothing needs any more: those
# apt's autoremove would take, and only those of them the lab brought (the host's own stay).
# A package the host's others merely recommend counts as unneeded: the lab brought it, the
# host did without it before.
purge_unneeded_dependencies() {
  [ -s "$LAB_STATE_DIR/installed-dependencies" ] || return 0
  local unneeded
  mapfile -t unneeded < <(comm -12 <(sort -u "$LAB_STATE_DIR/installed-dependencies") \
    <(apt-get -s -o APT::AutoRemove::RecommendsImportant=false -o APT::AutoRemove::SuggestsImportant=false autoremove 2>/dev/null |
      awk '$1 == "Remv" { print $2 }' | sort -u))
  [ "${#unneeded[@]}" -gt 0 ] || return 0
  log "purging ${unneeded[*]} (brought in with the lab's packages)"
  apt_quiet purge "${unneeded[@]}"
}

# Purges the given packages if the lab installed them.
purge_recorded_packages() {
  local name purge=()
  for name in "$@"; do
    if grep -qx "$name" "$LAB_STATE_DIR/installed-packages" 2>/dev/null && is_installed "$name"; then
      purge+=("$name")
    fi
  done
  [ "${#purge[@]}" -gt 0 ] || return 0
  log "purging ${purge[*]}"
  apt-mark unhold "${purge[@]}" >/dev/null 2>&1 || true
  apt_quiet purge "${purge[@]}"
}

# Writes stdin to a file only when the content differs; returns 0 if it changed the file.
write_if_changed() {
  local file="$1" mode="${2:-0644}" tmp
  tmp=$(mktemp)
  cat >"$tmp"
  if [ -f "$file" ] && cmp -s "$tmp" "$file"; then
    rm -f "$tmp"
    return 1
  fi
  mkdir -p "$(dirname "$file")"
  install -m "$mode" "$tmp" "$file"
  rm -f "$tmp"
  return 0
}

# Keeps a copy of a host file the first time the lab changes it; restore_file puts it back.
backup_file() {
  local file="$1" copy="$LAB_STATE_DIR/backup${1}"
  [ -e "$file" ] || return 0
  [ -e "$copy" ] && return 0
  mkdir -p "$(dirname "$copy")"
  cp -a "$file" "$copy"
}

restore_file() {
  local file="$1" copy="$LAB_STATE_DIR/backup${1}"
  if [ -e "$copy" ]; then
    cp -a "$copy" "$file"
    rm -f "$copy"
  else
    rm -f "$file"
  fi
}

# True when version $1 is newer than version $2 (both like 1.37.1).
version_newer() {
  [ "$1" != "$2" ] && [ "$(printf '%s\n%s\n' "$1" "$2" | sort -V | tail -n 1)" = "$1" ]
}

# Moves held packages to one Debian version and holds them again (an upgrade step).
move_held_packages() {
  local version="$1" p specs=()
  shift
  for p in "$@"; do specs+=("$p=$version"); done
  apt-mark unhold "$@" >/dev/null
  apt_quiet update
  apt_quiet install --no-install-recommends --allow-change-held-packages "${specs[@]}"
  apt-mark hold "$@" >/dev/null
}

# Waits up to 5 minutes for the API server of this control plane (its admin kubeconfig) to
# answer /readyz; returns 1 when it does not, for the caller to say what that means there.
wait_for_api() {
  local i
  for i in $(seq 1 60); do
    if kubectl --kubeconfig /etc/kubernetes/admin.conf get --raw=/readyz >/dev/null 2>&1; then return 0; fi
    [ "$i" -lt 60 ] && sleep 5
  done
  return 1
}

# Copies the control plane's admin kubeconfig to root's ~/.kube/config and to the login
# user's, recording that home so that node_reset removes the copy (the login may be root).
copy_admin_kubeconfig() {
  local user="$1" home
  install -d -m 0700 /root/.kube
  install -m 0600 /etc/kubernetes/admin.conf /root/.kube/config
  [ "$user" != root ] || return 0
  home=$(getent passwd "$user" | cut -d: -f6)
  [ -n "$home" ] || return 0
  install -d -m 0700 -o "$user" "$home/.kube"
  install -m 0600 -o "$user" /etc/kubernetes/admin.conf "$home/.kube/config"
  grep -qx "$home" "$LAB_STATE_DIR/kubeconfig-copies" 2>/dev/null || printf '%s\n' "$home" >>"$LAB_STATE_DIR/kubeconfig-copies"
}

# The admin kubeconfig kube() uses: the control plane's own, or the one a step was given
# (open_admin_kubeconfig).
admin_file=/etc/kubernetes/admin.conf
# Files removed when the script ends, however it ends, once open_admin_kubeconfig has run.
remove_on_exit=()

kube() { kubectl --kubeconfig "$admin_file" --request-timeout=20s "$@"; }

# Writes the admin kubeconfig a step was given to a private file for kube(), removed when the
# script ends (with the upgrade lock released). Nothing the step leaves on the host can reach
# the cluster.
open_admin_kubeconfig() {
  admin_file=$(mktemp /run/k8s-lab-admin.XXXXXX)
  chmod 0600 "$admin_file"
  printf '%s\n' "$1" >"$admin_file"
  remove_on_exit+=("$admin_file")
  trap leave_script EXIT
}

leave_script() {
  release_upgrade_lock
  rm -f "${remove_on_exit[@]}"
}

# The kubelet's version on this host (1.37.1), empty when none is installed.
node_version() {
  kubelet --version 2>/dev/null | sed -E 's/^Kubernetes v//'
}

# --- Nodes that join: worker.sh and control-plane-member.sh ------------------------------------

readonly UPGRADE_LOCK=k8s-lab-upgrade-lock
upgrade_locked=0

# A join command made for this join, at the moment it runs: `kubeadm join <endpoint> --token
# ... --discovery-token-ca-cert-hash ...`, with a token that lives TTL. Arguments: the admin
# kubeconfig file, the node, the TTL.
join_command() {
  local printed
  printed=$(kubeadm token create --kubeconfig "$1" --ttl "$3" --description "k8s-lab: join of $2" --print-join-command 2>/dev/null) ||
    die "could not make a join token on the control plane; is its API server reachable from $2?"
  case "$printed" in
    "kubeadm join "*) printf '%s\n' "$printed" ;;
    *) die "the control plane returned no join command" ;;
  esac
}

# The bootstrap token's id in a join command, for deleting it once it is used.
token_id() {
  sed -n -E 's/.*--token ([a-z0-9]{6})\.[a-z0-9]{16}.*/\1/p' <<<"$1"
}

# Runs a join (the command and its arguments); on failure shows the redacted tail of kubeadm's
# log, deletes the token and resets the host, so that the next pulumi up starts from scratch.
run_join() {
  local admin="$1" token="$2"
  shift 2
  mkdir -p "$LAB_STATE_DIR"
  if ! "$@" >"$LAB_STATE_DIR/join.log" 2>&1; then
    redact_tokens <"$LAB_STATE_DIR/join.log" | tail -n 30 >&2
    [ -z "$token" ] || kubeadm token delete --kubeconfig "$admin" "$token" >/dev/null 2>&1 || true
    node_reset
    die "kubeadm join failed (the host was reset, so the next pulumi up retries from scratch)"
  fi
  # Used once: nothing that could join another node outlives the step.
  [ -z "$token" ] || kubeadm token delete --kubeconfig "$admin" "$token" >/dev/null 2>&1 || true
  chmod 0600 "$LAB_STATE_DIR/join.log"
}

wait_for_registration() {
  local node="$1" i
  for i in $(seq 1 60); do
    if kube get node "$node" >/dev/null 2>&1; then
      log "node $node registered"
      return 0
    fi
    [ "$i" -lt 60 ] && sleep 5
  done
  die "node $node did not register within 5 minutes; see journalctl -u kubelet on this host"
}

# One node of the lab upgrades at a time: the first to create the lock ConfigMap holds it.
take_upgrade_lock() {
  local node="$1" i
  for i in $(seq 1 120); do
    if kube -n kube-system create configmap "$UPGRADE_LOCK" --from-literal=holder="$node" >/dev/null 2>&1; then
      upgrade_locked=1
      return 0
    fi
    [ "$i" -eq 1 ] && log "waiting for another node's upgrade to finish"
    sleep 5
  done
  die "another node held $UPGRADE_LOCK for 10 minutes; if no upgrade runs, delete it: kubectl -n kube-system delete configmap $UPGRADE_LOCK"
}

release_upgrade_lock() {
  [ "$upgrade_locked" -eq 1 ] || return 0
  kube -n kube-system delete configmap "$UPGRADE_LOCK" --ignore-not-found >/dev/null 2>&1 || true
  upgrade_locked=0
}

# kubeadm's upgrade of a node that joined (a worker or another control plane), after the first
# control plane's `upgrade apply`: kubeadm upgrade node, drain, kubelet and kubectl, uncordon.
# Arguments: the node, the version, its Debian version, then kubeadm's extra flags.
upgrade_node() {
  local node="$1" version="$2" package="$3" current
  shift 3
  current=$(node_version)
  if [ "$current" = "$version" ]; then
    log "$node already joined, on Kubernetes $version"
    return 0
  fi
  version_newer "$version" "$current" ||
    die "$node runs Kubernetes $current, newer than $version; kubeadm cannot downgrade a node"
  take_upgrade_lock "$node"
  log "upgrading $node from $current to $version"
  move_held_packages "$package" kubeadm
  kubeadm upgrade node "$@" >"$LAB_STATE_DIR/upgrade.log" 2>&1 || {
    tail -n 30 "$LAB_STATE_DIR/upgrade.log" >&2
    die "kubeadm upgrade node failed on $node; the node is unchanged but for its kubeadm package"
  }
  kube drain "$node" --ignore-daemonsets --delete-emptydir-data --force --timeout=300s >&2 ||
    log "drain of $node did not finish; upgrading it anyway"
  move_held_packages "$package" kubelet kubectl
  systemctl daemon-reload
  systemctl restart kubelet
  kube uncordon "$node" >&2
  release_upgrade_lock
  log "$node upgraded to $version"
}

# Deletes the certificates `kubeadm init phase upload-certs` left in kube-system, with the
# bootstrap token that owns them (kubeadm's timer for them: it would live two hours more).
delete_uploaded_certificates() {
  local owner
  owner=$(kube -n kube-system get secret kubeadm-certs -o jsonpath='{.metadata.ownerReferences[0].name}' 2>/dev/null) || true
  kube -n kube-system delete secret kubeadm-certs ${owner:+"$owner"} --ignore-not-found >/dev/null
}

readonly CONTROL_PLANE_TAINT=node-role.kubernetes.io/control-plane:NoSchedule

# Sets the control-plane taint on a node, or lifts it: arguments, the node and "true" when the
# control planes take workloads (a lab without workers).
control_plane_taint() {
  if [ "$2" = true ]; then
    kube taint node "$1" "$CONTROL_PLANE_TAINT-" >/dev/null 2>&1 || true
  else
    kube taint node "$1" "$CONTROL_PLANE_TAINT" --overwrite >/dev/null
  fi
}

# Drains and deletes a node when the API server answers; a lab has no disruption budget worth
# waiting for: what can be evicted is, then it goes on.
leave_cluster() {
  local node="$1"
  if kube get node "$node" >/dev/null 2>&1; then
    kube drain "$node" --ignore-daemonsets --delete-emptydir-data --force --timeout=120s >&2 ||
      log "drain of $node did not finish; deleting the node anyway"
    kube delete node "$node" --ignore-not-found >&2 || log "could not delete node $node; reset goes on"
  else
    log "node $node is not registered, or the API server does not answer: nothing to drain"
  fi
}

# --- kube-vip: the virtual IP of several control planes --------------------------------------

# The interface that holds an address of this host (an IPv4 address, or a name for one).
interface_holding() {
  local ip
  ip=$(getent ahostsv4 "$1" | awk 'NR == 1 { print $1 }')
  [ -n "$ip" ] || return 0
  ip -o -4 addr show | awk -v ip="$ip" '{ split($4, a, "/"); if (a[1] == ip) { print $2; exit } }'
}

# Writes kube-vip's static pod with the host's values in its placeholders (components/lib/kubeVip.ts).
# Arguments: the manifest (nothing to do when empty), the host's address, the interface or empty
# (the one holding the address), the kubeconfig kube-vip uses.
write_kube_vip() {
  local manifest="$1" address="$2" interface="$3" kubeconfig="$4"
  [ -n "$manifest" ] || return 0
  if [ -z "$interface" ]; then
    interface=$(interface_holding "$address")
    [ -n "$interface" ] || die "no interface of this host holds $address; set k8s-lab:controlPlane.vipInterface to the one kube-vip should put the virtual IP on"
  fi
  ip link show "$interface" >/dev/null 2>&1 || die "this host has no interface $interface (k8s-lab:controlPlane.vipInterface)"
  manifest=${manifest//@VIP_INTERFACE@/$interface}
  manifest=${manifest//@KUBECONFIG@/$kubeconfig}
  printf '%s\n' "$manifest" | write_if_changed /etc/kubernetes/manifests/kube-vip.yaml 0600 || true
}

# Takes the virtual IP off this host if kube-vip left it here: a reset stops kube-vip, which
# may not get to release it, and another control plane's kube-vip takes it over.
drop_vip() {
  local vip="$1" interface
  [ -n "$vip" ] || return 0
  while read -r interface; do
    ip addr del "$vip/32" dev "$interface" 2>/dev/null && log "took the virtual IP $vip off $interface"
  done < <(ip -o -4 addr show | awk -v vip="$vip" '{ split($4, a, "/"); if (a[1] == vip) print $2 }')
}

# Removes only the iptables rules and chains that Kubernetes, kube-proxy and the CNI plugins
# made. The host's own rules and chain policies are kept as they are: the filtered save is
# restored table by table, so INPUT policy and SSH rules are never flushed.
clean_kubernetes_iptables() {
  local save cmd pattern='(KUBE-|cali-|CNI-|FLANNEL|KUBE_)'
  for cmd in iptables ip6tables; do
    command -v "$cmd-save" >/dev/null || continue
    save=$("$cmd-save" 2>/dev/null) || continue
    if grep -Eq -- "$pattern" <<<"$save"; then
      grep -Ev -- "$pattern" <<<"$save" | "$cmd-restore"
      log "removed Kubernetes and CNI $cmd chains"
    fi
  done
  if command -v nft >/dev/null; then
    local family table
    while read -r _ family table; do
      case "$table" in
        kube-proxy | calico* | cali-*) nft delete table "$family" "$table" && log "removed nftables table $family $table" ;;
      esac
    done < <(nft list tables 2>/dev/null)
  fi
}

# Mount points under a directory, deepest first (as the kernel lists them, octal escapes kept).
mounts_under() {
  awk -v dir="$1" '$2 == dir || index($2, dir "/") == 1 { print $3 " " $2 }' /proc/self/mounts | sort -k2 -r
}

# Unmounts what kubelet mounted for pods. NFS is detached lazily, so that a server that is
# already gone cannot hang the reset; anything else gets a bounded try first.
unmount_under() {
  local type mnt
  while read -r type mnt; do
    case "$type" in
      nfs | nfs4) umount -l "$mnt" 2>/dev/null || true ;;
      *) timeout 30 umount "$mnt" 2>/dev/null || umount -l "$mnt" 2>/dev/null || true ;;
    esac
  done < <(mounts_under "$1")
}

# Empties a directory without ever crossing into a mount: it refuses while anything is still
# mounted below it, and rm stays on the directory's own file system either way.
empty_dir_safely() {
  local dir="$1"
  [ -d "$dir" ] || return 0
  unmount_under "$dir"
  if [ -n "$(mounts_under "$dir")" ]; then
    log "left $dir as it is: still mounted below it: $(mounts_under "$dir" | cut -d' ' -f2 | tr '\n' ' ')"
    return 0
  fi
  find "$dir" -mindepth 1 -maxdepth 1 -exec rm -rf --one-file-system {} +
}

# Undoes kubeadm init/join: kubeadm reset plus the leftovers it does not clean (among them the
# etcd data a restore kept aside and the backups `kubeadm upgrade` keeps in /etc/kubernetes/tmp,
# of the static pods and of etcd's data, which hold every Secret). Pod volumes are unmounted first,
# so neither kubeadm nor rm can reach into an NFS export through them.
# A control plane whose etcd member was removed first sets reset_skip_phases=remove-etcd-member.
reset_skip_phases=""
node_reset() {
  local skip=()
  [ -z "$reset_skip_phases" ] || skip=("--skip-phases=$reset_skip_phases")
  unmount_under /var/lib/kubelet
  if command -v kubeadm >/dev/null; then
    timeout 180 kubeadm reset -f --cri-socket unix:///run/containerd/containerd.sock "${skip[@]}" >/dev/null 2>&1 ||
      timeout 180 kubeadm reset -f "${skip[@]}" >/dev/null 2>&1 || true
  fi
  systemctl stop kubelet 2>/dev/null || true
  empty_dir_safely /var/lib/kubelet
  rm -rf /etc/cni/net.d/* /var/lib/cni /var/lib/calico /var/run/calico /var/log/calico \
    /var/lib/etcd /var/lib/etcd.before-restore-* /etc/kubernetes/*.conf /etc/kubernetes/pki \
    /etc/kubernetes/manifests/* /etc/kubernetes/tmp "$LAB_STATE_DIR/kubeadm" /root/.kube/config
  local home
  if [ -f "$LAB_STATE_DIR/kubeconfig-copies" ]; then
    while read -r home; do rm -f "$home/.kube/config"; rmdir "$home/.kube" 2>/dev/null || true; done <"$LAB_STATE_DIR/kubeconfig-copies"
    rm -f "$LAB_STATE_DIR/kubeconfig-copies"
  fi
  rmdir /root/.kube 2>/dev/null || true
  local link
  for link in vxlan.calico vxlan-v6.calico flannel.1 cni0 kube-ipvs0 nodelocaldns; do
    ip link delete "$link" 2>/dev/null || true
  done
  # tunl0 belongs to the ipip module and cannot be deleted, only taken down.
  ip link set tunl0 down 2>/dev/null || true
  while read -r link; do
    ip link delete "$link" 2>/dev/null || true
  done < <(ip -o link show 2>/dev/null | awk -F': ' '{print $2}' | sed 's/@.*//' | grep '^cali' || true)
  clean_kubernetes_iptables
  log "node reset"
}

readonly K8S_KEYRING=/etc/apt/keyrings/k8s-lab-kubernetes.gpg
readonly K8S_SOURCES=/etc/apt/sources.list.d/k8s-lab-kubernetes.list
readonly DOCKER_KEYRING=/etc/apt/keyrings/k8s-lab-docker.gpg
readonly DOCKER_SOURCES=/etc/apt/sources.list.d/k8s-lab-docker.list
readonly MODULES_FILE=/etc/modules-load.d/k8s-lab.conf
readonly SYSCTL_FILE=/etc/sysctl.d/99-k8s-lab.conf
readonly CONTAINERD_CONFIG=/etc/containerd/config.toml
readonly CERTS_DIR=/etc/containerd/certs.d
readonly CRICTL_CONFIG=/etc/crictl.yaml
readonly KUBELET_DEFAULTS=/etc/default/kubelet
readonly KUBE_PACKAGES=(kubelet kubeadm kubectl)
readonly SWAP_MARK='#k8s-lab-swap# '

disable_swap() {
  if [ -n "$(swapon --noheadings --show 2>/dev/null)" ]; then
    swapoff -a
    log "turned swap off"
  fi
  if grep -Eq '^[^#].*[[:space:]]swap[[:space:]]' /etc/fstab; then
    backup_file /etc/fstab
    sed -i -E "s|^([^#].*[[:space:]]swap[[:space:]].*)$|${SWAP_MARK}\1|" /etc/fstab
    log "commented swap entries in /etc/fstab"
  fi
  # Masking swap.target also keeps zram and generator-made swap units from starting at boot.
  if [ "$(systemctl is-enabled swap.target 2>/dev/null || true)" != masked ]; then
    systemctl mask swap.target >/dev/null 2>&1
    log "masked swap.target"
  fi
}

restore_swap() {
  if grep -q "^${SWAP_MARK}" /etc/fstab; then
    sed -i "s|^${SWAP_MARK}||" /etc/fstab
  fi
  rm -f "$LAB_STATE_DIR/backup/etc/fstab"
  if [ "$(systemctl is-enabled swap.target 2>/dev/null || true)" = masked ]; then
    systemctl unmask swap.target >/dev/null 2>&1
  fi
  swapon -a 2>/dev/null || true
}

# True when a module's feature is there, loaded or built in (a built-in one may have no
# /sys/module entry, and a container cannot load modules at all).
module_present() {
  case "$1" in
    overlay) grep -qw overlay /proc/filesystems ;;
    br_netfilter) [ -d /proc/sys/net/bridge ] ;;
    *) [ -d "/sys/module/$1" ] ;;
  esac
}

configure_kernel() {
  local m
  printf '%s\n' overlay br_netfilter | write_if_changed "$MODULES_FILE" || true
  for m in overlay br_netfilter; do
    modprobe "$m" 2>/dev/null || module_present "$m" || die "kernel module $m cannot be loaded"
  done
  write_if_changed "$SYSCTL_FILE" <<'EOF' || true
net.ipv4.ip_forward = 1
net.bridge.bridge-nf-call-iptables = 1
net.bridge.bridge-nf-call-ip6tables = 1
vm.max_map_count = 262144
EOF
  local key value current
  while IFS=' =' read -r key value; do
    [ -n "$key" ] || continue
    current=$(sysctl -n "$key" 2>/dev/null || true)
    [ "$current" = "$value" ] && continue
    sysctl -q -w "$key=$value" >/dev/null 2>&1 ||
      die "cannot set $key=$value (it is $current); set it on this host, or on the machine that runs this container"
  done <"$SYSCTL_FILE"
}

readonly APT_ASIDE="$LAB_STATE_DIR/apt-sources-set-aside"

# An entry of the host's own for the same repository (as Docker's and Kubernetes' install
# guides write one, with another keyring) makes apt refuse both ("Conflicting values set for
# option Signed-By"). Such entries are set aside while the lab's is there, and put back by
# remove, unchanged.
set_aside_entries_for() {
  local url="${1%/}" ours="$2" file pattern
  # The URL as a whole word, with or without its trailing slash (one-line and deb822 files).
  pattern="(^|[[:space:]])$(sed 's/[][\.*^$+?(){}|/]/\\&/g' <<<"$url")/?([[:space:]]|$)"
  for file in /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
    if [ ! -f "$file" ] || [ "$file" = "$ours" ]; then continue; fi
    grep -Eq "$pattern" "$file" || continue
    mkdir -p "$APT_ASIDE"
    mv "$file" "$APT_ASIDE/"
    log "set $file aside while the lab's entry for $url is there (remove puts it back)"
  done
}

put_back_set_aside_entries() {
  local file
  [ -d "$APT_ASIDE" ] || return 0
  for file in "$APT_ASIDE"/*; do
    [ -f "$file" ] && mv "$file" /etc/apt/sources.list.d/
  done
  rmdir "$APT_ASIDE"
}

add_apt_source() {
  local keyring="$1" key_url="$2" sources="$3" line="$4" url="$5" changed=1 tmp
  set_aside_entries_for "$url" "$sources"
  tmp=$(mktemp)
  curl -fsSL --retry 3 "$key_url" -o "$tmp" || die "cannot download the apt key $key_url"
  install -d -m 0755 /etc/apt/keyrings
  if gpg --batch --no-secmem-warning --dearmor <"$tmp" | write_if_changed "$keyring"; then changed=0; fi
  rm -f "$tmp"
  if printf '%s\n' "$line" | write_if_changed "$sources"; then changed=0; fi
  return "$changed"
}

install_kubernetes_packages() {
  local p current need=0 installed=0
  for p in "${KUBE_PACKAGES[@]}"; do
    current=$(dpkg-query -W -f='${Version}' "$p" 2>/dev/null || true)
    [ "$current" = "$K8S_PACKAGE_VERSION" ] || need=1
    [ -z "$current" ] || installed=1
  done
  [ "$need" -eq 1 ] || return 0
  # On a node of a running cluster a version bump is an upgrade, which must move the control
  # plane first and each node in turn: the control-plane and worker steps do that.
  if [ "$installed" -eq 1 ] && [ -f /etc/kubernetes/kubelet.conf ]; then
    log "kubelet, kubeadm and kubectl stay as they are until this node's upgrade step moves them to $K8S_PACKAGE_VERSION"
    return 0
  fi
  apt_quiet update
  install_packages kubelet="$K8S_PACKAGE_VERSION" kubeadm="$K8S_PACKAGE_VERSION" kubectl="$K8S_PACKAGE_VERSION"
  apt-mark hold "${KUBE_PACKAGES[@]}" >/dev/null
}

install_containerd() {
  if [ "$CONTAINERD_SOURCE" = docker ]; then
    local id codename current
    id=$(os_field ID)
    codename=$(os_field VERSION_CODENAME)
    if add_apt_source "$DOCKER_KEYRING" "$CONTAINERD_APT_REPO/$id/gpg" "$DOCKER_SOURCES" \
      "deb [signed-by=$DOCKER_KEYRING] $CONTAINERD_APT_REPO/$id $codename stable" "$CONTAINERD_APT_REPO/$id"; then
      apt_quiet update
    fi
    current=$(dpkg-query -W -f='${Version}' containerd.io 2>/dev/null || true)
    # A containerd.io the host had before (Docker's) is the host's: used as it is, never
    # upgraded or held. configure_containerd says so if it is too old.
    if [ -n "$current" ] && ! grep -qx containerd.io "$LAB_STATE_DIR/installed-packages" 2>/dev/null; then
      log "using the host's own containerd.io $current as it is"
      return 0
    fi
    case "$current" in
      "$CONTAINERD_VERSION"-*) ;;
      *)
        [ -n "$current" ] || apt_quiet update
        install_packages "containerd.io=$CONTAINERD_VERSION-*"
        apt-mark hold containerd.io >/dev/null
        ;;
    esac
  else
    install_packages containerd
  fi
}

containerd_major() {
  containerd --version | sed -E 's/.* v?([0-9]+)\.[0-9]+.*/\1/'
}

# A host that is itself a container (LXC, systemd-nspawn) may lack CAP_SYS_RESOURCE (bit 24
# of the bounding set): containerd must then not raise a container's OOM score above its own,
# or every sandbox fails to start.
lacks_sys_resource() {
  local bounding
  bounding=$(sed -n 's/^CapBnd:[[:space:]]*//p' /proc/self/status)
  [ $(((16#$bounding >> 24) & 1)) -eq 0 ]
}

# Writes a minimal containerd configuration: containerd fills in its defaults for the rest,
# so nothing has to be edited with sed (containerd 2.x has no SystemdCgroup line to edit).
render_containerd_config() {
  # Only where it is needed, so that other hosts' configuration (and containerd) stay as they were.
  local pause="$1" restrict=""
  if lacks_sys_resource; then restrict="restrict_oom_score_adj = true"; fi
  if [ "$(containerd_major)" -ge 2 ]; then
    cat <<EOF
# Written by k8s-lab (containerd 2.x, configuration version 3).
version = 3
${restrict:+
[plugins.'io.containerd.cri.v1.runtime']
  $restrict
}
[plugins.'io.containerd.cri.v1.images'.pinned_images]
  sandbox = '$pause'

[plugins.'io.containerd.cri.v1.images'.registry]
  config_path = '$CERTS_DIR'

[plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc]
  runtime_type = 'io.containerd.runc.v2'

[plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options]
  SystemdCgroup = true
EOF
  else
    cat <<EOF
# Written by k8s-lab (containerd 1.x, configuration version 2).
version = 2

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$pause"${restrict:+
  $restrict}

[plugins."io.containerd.grpc.v1.cri".registry]
  config_path = "$CERTS_DIR"

[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
  runtime_type = "io.containerd.runc.v2"

[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
  SystemdCgroup = true
EOF
  fi
}

hosts_toml() {
  local registry="$1" server mirror
  shift
  server="https://$registry"
  [ "$registry" != docker.io ] || server=https://registry-1.docker.io
  printf 'server = "%s"\n' "$server"
  for mirror in "$@"; do
    printf '\n[host."%s"]\n  capabilities = ["pull", "resolve"]\n' "$mirror"
  done
}

# One hosts.toml per mirrored registry, its mirrors tried in order; registries that are no
# longer mirrored lose theirs. Returns 0 if anything changed.
configure_registry_mirrors() {
  local changed=1 registry rest mirrors wanted=" "
  : >"$LAB_STATE_DIR/mirrors.new"
  while read -r registry rest; do
    [ -n "$registry" ] || continue
    read -ra mirrors <<<"$rest"
    wanted+="$registry "
    if hosts_toml "$registry" "${mirrors[@]}" | write_if_changed "$CERTS_DIR/$registry/hosts.toml"; then
      changed=0
    fi
    printf '%s\n' "$registry" >>"$LAB_STATE_DIR/mirrors.new"
  done <<<"$REGISTRY_MIRRORS"
  if [ -f "$LAB_STATE_DIR/mirrors" ]; then
    while read -r registry; do
      case "$wanted" in *" $registry "*) ;; *) rm -rf "${CERTS_DIR:?}/$registry"; changed=0 ;; esac
    done <"$LAB_STATE_DIR/mirrors"
  fi
  mv "$LAB_STATE_DIR/mirrors.new" "$LAB_STATE_DIR/mirrors"
  return "$changed"
}

configure_containerd() {
  local restart=1
  mkdir -p "$LAB_STATE_DIR"
  local minor
  minor=$(cut -d. -f2 <<<"$K8S_VERSION")
  if [ "$(containerd_major)" -lt 2 ] && [ "$minor" -ge 36 ]; then
    die "Kubernetes $K8S_VERSION needs containerd 2.x but $(containerd --version) is installed; set k8s-lab:kubernetes.containerd to docker"
  fi
  if [ -f "$CONTAINERD_CONFIG" ] && ! grep -q '^# Written by k8s-lab' "$CONTAINERD_CONFIG"; then
    backup_file "$CONTAINERD_CONFIG"
  fi
  if render_containerd_config "$PAUSE_IMAGE" | write_if_changed "$CONTAINERD_CONFIG"; then restart=0; fi
  if configure_registry_mirrors; then restart=0; fi
  printf 'runtime-endpoint: unix:///run/containerd/containerd.sock\nimage-endpoint: unix:///run/containerd/containerd.sock\n' |
    write_if_changed "$CRICTL_CONFIG" || true
  systemctl enable containerd >/dev/null 2>&1
  if [ "$restart" -eq 0 ] || ! systemctl is-active -q containerd; then
    systemctl restart containerd
    log "containerd configured (systemd cgroups, sandbox $PAUSE_IMAGE)"
  fi
}

# On hosts with several interfaces (a VM with NAT and host-only networks), kubelet would
# register the node with the first one; pin it to the lab's address, if the host has it.
configure_kubelet_node_ip() {
  [ -n "$NODE_IP" ] || return 0
  if ! ip -o -4 addr show | grep -q "inet $NODE_IP/"; then
    log "$NODE_IP is not on this host's interfaces (NAT?); kubelet chooses the node address itself"
    return 0
  fi
  if [ -f "$KUBELET_DEFAULTS" ] && ! grep -q '^# Written by k8s-lab' "$KUBELET_DEFAULTS"; then
    backup_file "$KUBELET_DEFAULTS"
  fi
  printf '# Written by k8s-lab: the node address kubelet registers.\nKUBELET_EXTRA_ARGS=--node-ip=%s\n' "$NODE_IP" |
    write_if_changed "$KUBELET_DEFAULTS" || true
}

apply() {
  check_os
  mkdir -p "$LAB_STATE_DIR"
  finish_interrupted_dpkg
  if ! command -v curl >/dev/null || ! command -v gpg >/dev/null || ! command -v sysctl >/dev/null; then
    apt_quiet update
    install_packages ca-certificates curl gnupg procps
  fi
  disable_swap
  configure_kernel
  if add_apt_source "$K8S_KEYRING" "$K8S_APT_KEY" "$K8S_SOURCES" "deb [signed-by=$K8S_KEYRING] $K8S_APT_REPO /" "$K8S_APT_REPO"; then
    apt_quiet update
  fi
  install_kubernetes_packages
  configure_kubelet_node_ip
  install_containerd
  configure_containerd
  if ! is_installed nfs-common; then
    apt_quiet update
    install_packages nfs-common
  fi
  systemctl enable kubelet >/dev/null 2>&1
  log "host prepared for Kubernetes $K8S_VERSION"
}

remove() {
  systemctl disable --now kubelet >/dev/null 2>&1 || true
  purge_recorded_packages "${KUBE_PACKAGES[@]}" kubernetes-cni cri-tools
  restore_file "$KUBELET_DEFAULTS"
  rm -f "$K8S_SOURCES" "$K8S_KEYRING"
  local registry
  if [ -f "$LAB_STATE_DIR/mirrors" ]; then
    while read -r registry; do rm -rf "${CERTS_DIR:?}/$registry"; done <"$LAB_STATE_DIR/mirrors"
  fi
  rm -f "$CRICTL_CONFIG"
  if grep -qx -e containerd -e containerd.io "$LAB_STATE_DIR/installed-packages" 2>/dev/null; then
    systemctl stop containerd 2>/dev/null || true
    purge_recorded_packages containerd containerd.io
    rm -rf /etc/containerd /var/lib/containerd /run/containerd
  else
    restore_file "$CONTAINERD_CONFIG"
    systemctl restart containerd 2>/dev/null || true
  fi
  rm -f "$DOCKER_SOURCES" "$DOCKER_KEYRING"
  put_back_set_aside_entries
  purge_recorded_packages nfs-common
  # The tools it fetched the repositories' keys with, if the host did not have them.
  purge_recorded_packages ca-certificates curl gnupg procps
  purge_unneeded_dependencies
  # The folders kubeadm and kubelet leave empty after a reset; one with anything in it (or a
  # mount point) stays, as rmdir refuses both.
  local dir
  for dir in /etc/kubernetes/manifests /etc/kubernetes /var/lib/kubelet /etc/cni/net.d /etc/cni; do
    rmdir "$dir" 2>/dev/null || true
  done
  rm -f "$MODULES_FILE" "$SYSCTL_FILE"
  sysctl -q --system >/dev/null 2>&1 || true
  restore_swap
  rm -rf "$LAB_STATE_DIR"
  apt_quiet update || true
  log "host preparation removed"
}

dispatch "$@"
} </dev/null
