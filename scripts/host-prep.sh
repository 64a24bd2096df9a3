#!/usr/bin/env bash
# Prepares a host to be a Kubernetes node (apply) and takes that preparation back (remove).
#
# Parameters (set by the program when it renders this script):
#   K8S_VERSION          Kubernetes patch version, e.g. 1.37.1
#   K8S_PACKAGE_VERSION  Debian version of kubelet/kubeadm/kubectl, e.g. 1.37.1-1.1
#   K8S_APT_REPO         Kubernetes apt repository for this minor (flat repository URL)
#   K8S_APT_KEY          URL of its signing key (ASCII-armoured)
#   CONTAINERD_SOURCE    docker (containerd.io from Docker's repository) or distro
#   CONTAINERD_APT_REPO  Docker's apt repository base, e.g. https://download.docker.com/linux
#   CONTAINERD_VERSION   containerd.io upstream version, e.g. 2.2.1
#   PAUSE_IMAGE          the sandbox image kubeadm of this minor names, e.g. registry.k8s.io/pause:3.10.2
#   REGISTRY_MIRRORS     one line a registry: "registry mirror-url..." (may be empty)
#   NODE_IP              the host's address in the lab's configuration (empty for a DNS name)
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

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
