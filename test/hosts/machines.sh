#!/usr/bin/env bash
# Real test hosts for the lab's scripts: Debian 12 machines with systemd and sshd, booted as
# systemd-nspawn containers on a private bridge, reachable over SSH with a key made here.
#
#   machines.sh check          can this machine run them? (prints the reason if not)
#   machines.sh up NAME...     boots fresh copies of the cached base, one per name
#   machines.sh up --kubernetes NAME...
#                              the same, able to run real Kubernetes (see boot_machine)
#   machines.sh down           stops every machine and removes bridge, NAT and copies
#   machines.sh kill NAME      makes one machine vanish at once, as a deleted VM does
#
# The base root filesystem is cached in $K8S_LAB_TEST_CACHE (made by debootstrap the first
# time); every `up` starts from clean copies of it. Addresses: 10.213.0.1 is this machine on
# the bridge, hosts get 10.213.0.11, .12, ... in the order named.
set -euo pipefail

readonly BRIDGE=k8slab0
readonly SUBNET=10.213.0
readonly CACHE="${K8S_LAB_TEST_CACHE:-/var/cache/k8s-lab-test}"
readonly WORK=/var/lib/k8s-lab-test
readonly BASE_PACKAGES=systemd,systemd-sysv,dbus,openssh-server,iproute2,sudo,ca-certificates
BASE="$CACHE/base-bookworm-$(printf '%s' "$BASE_PACKAGES" | sha256sum | cut -c1-12)"
readonly BASE
readonly NFT_TABLE=k8s_lab_test

log() { printf '[machines] %s\n' "$*" >&2; }
die() { printf '[machines] %s\n' "$*" >&2; exit 1; }

check() {
  [ "$(id -u)" -eq 0 ] || { echo "not root"; return 1; }
  local tool
  for tool in systemd-nspawn debootstrap nft ip ssh ssh-keygen; do
    command -v "$tool" >/dev/null || { echo "$tool is not installed"; return 1; }
  done
  [ -e /dev/net/tun ] || [ -d /sys/class/net ] || { echo "no network devices"; return 1; }
  return 0
}

make_base() {
  [ -f "$BASE/.complete" ] && return 0
  log "building the base root filesystem (debootstrap, about a minute)"
  rm -rf "$BASE.tmp"
  mkdir -p "$CACHE"
  debootstrap --variant=minbase --include="$BASE_PACKAGES" bookworm "$BASE.tmp" >"$CACHE/debootstrap.log" 2>&1 ||
    die "debootstrap failed; see $CACHE/debootstrap.log"
  rm -rf "$BASE"
  mv "$BASE.tmp" "$BASE"
  touch "$BASE/.complete"
}

network_up() {
  if ! ip link show "$BRIDGE" >/dev/null 2>&1; then
    ip link add "$BRIDGE" type bridge
    ip addr add "$SUBNET.1/24" dev "$BRIDGE"
  fi
  ip link set "$BRIDGE" up
  mkdir -p "$WORK"
  [ -f "$WORK/sysctl.saved" ] || sysctl -n net.ipv4.ip_forward vm.max_map_count >"$WORK/sysctl.saved"
  sysctl -q -w net.ipv4.ip_forward=1
  # A container cannot set this one; the lab's host preparation checks it (Elasticsearch).
  sysctl -q -w vm.max_map_count=262144
  nft delete table ip "$NFT_TABLE" 2>/dev/null || true
  nft -f - <<EOF
table ip $NFT_TABLE {
  chain postrouting {
    type nat hook postrouting priority srcnat; policy accept;
    ip saddr $SUBNET.0/24 ip daddr != $SUBNET.0/24 masquerade
  }
  chain forward {
    type filter hook forward priority filter; policy accept;
    iifname "$BRIDGE" accept
    oifname "$BRIDGE" ct state established,related accept
  }
}
EOF
}

# Sets up one copy: address, SSH key for user "lab" (passwordless sudo), resolver.
prepare_machine() {
  local name="$1" address="$2" dir="$WORK/machines/$1"
  rm -rf "$dir"
  mkdir -p "$WORK/machines"
  cp -a "$BASE" "$dir"
  printf '%s\n' "$name" >"$dir/etc/hostname"
  printf '127.0.0.1 localhost\n127.0.1.1 %s\n' "$name" >"$dir/etc/hosts"
  rm -f "$dir/etc/machine-id"
  systemd-machine-id-setup --root="$dir" >/dev/null 2>&1 || true
  # Host keys of its own, as every real machine has (the base's would be shared by all copies).
  rm -f "$dir"/etc/ssh/ssh_host_*
  chroot "$dir" ssh-keygen -A >/dev/null
  # Sorts before nspawn's own 80-container-host0.network, so the static address wins.
  mkdir -p "$dir/etc/systemd/network"
  cat >"$dir/etc/systemd/network/10-host0.network" <<EOF
[Match]
Name=host0

[Network]
Address=$address/24
Gateway=$SUBNET.1
EOF
  ln -sf /lib/systemd/system/systemd-networkd.service "$dir/etc/systemd/system/multi-user.target.wants/systemd-networkd.service"
  grep -v '^#' /etc/resolv.conf | grep nameserver >"$dir/etc/resolv.conf" || echo "nameserver $SUBNET.1" >"$dir/etc/resolv.conf"
  chroot "$dir" useradd -m -s /bin/bash lab
  install -d -m 0700 -o 1000 -g 1000 "$dir/home/lab/.ssh"
  install -m 0600 -o 1000 -g 1000 "$WORK/id_ed25519.pub" "$dir/home/lab/.ssh/authorized_keys"
  printf 'lab ALL=(ALL) NOPASSWD:ALL\n' >"$dir/etc/sudoers.d/lab"
  chmod 0440 "$dir/etc/sudoers.d/lab"
}

# The values kubelet sets on kernel settings that are not per container; it writes only when
# the value differs, and files bound read-only over the entries say it does not.
readonly KUBELET_SYSCTLS="vm/overcommit_memory=1 kernel/panic=10 kernel/panic_on_oops=1"

# Boots a machine. With "kubernetes" it can run real Kubernetes (facts and how each was found:
# /work/shared/reference/real-cluster.md): every capability and /dev/kmsg (kubelet reads it),
# the keyring calls runc makes, its own cgroup in every hierarchy, and a PID 1 of its own
# that, before it starts systemd, makes the cgroup v1 controllers writable (nspawn mounts them
# read-only) and answers kubelet's kernel settings with files, so that this machine's kernel
# is never written (/proc/sys stays read-only).
boot_machine() {
  local name="$1" kind="${2:-}" dir="$WORK/machines/$1" extra=(--boot) command=() entry
  mkdir -p /run/systemd/nspawn "$WORK/logs"
  if [ "$kind" = kubernetes ]; then
    extra=(--capability=all --system-call-filter=@keyring --bind=/dev/kmsg --kill-signal=SIGRTMIN+3)
    command=(/usr/local/sbin/k8s-lab-test-init)
    for entry in $KUBELET_SYSCTLS; do
      mkdir -p "$dir/etc/k8s-lab-test/sysctl/${entry%/*}"
      printf '%s\n' "${entry#*=}" >"$dir/etc/k8s-lab-test/sysctl/${entry%=*}"
    done
    install -m 0755 /dev/stdin "$dir/usr/local/sbin/k8s-lab-test-init" <<INIT
#!/bin/sh
# PID 1 of a test host that runs real Kubernetes (test/hosts/machines.sh).
for controller in /sys/fs/cgroup/*/; do
  mount -o remount,bind,rw "\$controller" 2>/dev/null || true
done
for entry in $KUBELET_SYSCTLS; do
  setting=\${entry%=*}
  mount --bind "/etc/k8s-lab-test/sysctl/\$setting" "/proc/sys/\$setting"
  mount -o remount,bind,ro "/proc/sys/\$setting"
done
exec /lib/systemd/systemd
INIT
  fi
  (
    [ "$kind" != kubernetes ] || own_cgroups "$name" "$BASHPID"
    exec setsid systemd-nspawn --register=no --keep-unit -D "$dir" -M "$name" \
      --network-bridge="$BRIDGE" --resolv-conf=off --console=passive "${extra[@]}" "${command[@]}"
  ) >"$WORK/logs/$name.log" 2>&1 </dev/null &
  echo "$!" >"$WORK/machines/$name.pid"
}

# Moves PID into a cgroup of the machine's own in each hierarchy, below the one this script
# runs in, so that two machines' kubelets never share kubepods.slice.
own_cgroups() {
  local name="$1" pid="$2" hierarchy current path
  for hierarchy in /sys/fs/cgroup/*/; do
    hierarchy=${hierarchy%/}
    [ -f "$hierarchy/cgroup.procs" ] || continue
    current=$(awk -F: -v h="${hierarchy##*/}" '$2 == h || $2 == "name=" h || ($2 == "" && h == "unified") {print $3}' /proc/self/cgroup)
    path="$hierarchy${current%/}/k8s-lab-test-$name"
    mkdir -p "$path"
    if [ -f "$path/cpuset.cpus" ]; then
      cat "${path%/*}/cpuset.cpus" >"$path/cpuset.cpus"
      cat "${path%/*}/cpuset.mems" >"$path/cpuset.mems"
    fi
    printf '%s\n' "$pid" >"$path/cgroup.procs"
    printf '%s\n' "$path" >>"$WORK/cgroups"
  done
}

# Removes the machines' cgroups, deepest first (kubelet and systemd make their own inside).
# A cgroup whose last process was just killed can stay busy for a moment: retry for up to 10 s.
remove_cgroups() {
  [ -f "$WORK/cgroups" ] || return 0
  local path left _
  for _ in $(seq 1 20); do
    left=0
    while read -r path; do
      [ -d "$path" ] || continue
      find "$path" -depth -type d -exec rmdir {} + 2>/dev/null || true
      [ ! -d "$path" ] || left=1
    done <"$WORK/cgroups"
    [ "$left" -eq 1 ] || break
    sleep 0.5
  done
  [ "$left" -eq 0 ] || log "some of the machines' cgroups are still busy; listed in $WORK/cgroups"
  [ "$left" -eq 1 ] || rm -f "$WORK/cgroups"
}

wait_for_ssh() {
  local address="$1" i
  for i in $(seq 1 90); do
    if ssh -i "$WORK/id_ed25519" -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
      -o LogLevel=ERROR -o ConnectTimeout=2 "lab@$address" true 2>/dev/null; then
      return 0
    fi
    [ "$i" -lt 90 ] && sleep 1
  done
  die "$address did not answer over SSH within 90 s"
}

up() {
  check >/dev/null || die "cannot run test hosts here: $(check)"
  make_base
  network_up
  [ -f "$WORK/id_ed25519" ] || ssh-keygen -q -t ed25519 -N '' -C k8s-lab-test -f "$WORK/id_ed25519"
  local n=11 name addresses=() kind=""
  if [ "${1:-}" = --kubernetes ]; then kind=kubernetes; shift; fi
  for name in "$@"; do
    prepare_machine "$name" "$SUBNET.$n"
    boot_machine "$name" "$kind"
    addresses+=("$SUBNET.$n")
    n=$((n + 1))
  done
  local address
  for address in "${addresses[@]}"; do wait_for_ssh "$address"; done
  log "up: $* (${addresses[*]})"
}

# Kills every process whose root is inside a machine's folder: the container's init and all it
# runs survive their nspawn being killed, and would keep the machine (and its link) alive.
kill_rooted_in() {
  local dir="$1" proc root
  for proc in /proc/[0-9]*; do
    root=$(readlink "$proc/root" 2>/dev/null) || continue
    case "$root" in "$dir" | "$dir"/*) kill -KILL "${proc#/proc/}" 2>/dev/null || true ;; esac
  done
}

# The host PIDs of a process's children, from /proc (no procps needed).
children_of() {
  local file stat fields
  for file in /proc/[0-9]*/stat; do
    stat=$(cat "$file" 2>/dev/null) || continue
    read -r -a fields <<<"${stat##*) }"
    [ "${fields[1]:-}" != "$1" ] || { file=${file#/proc/}; echo "${file%/stat}"; }
  done
}

# Kills nspawn and its machine outright. Killing nspawn alone leaves the machine running,
# reparented to this machine's PID 1 (its processes' root reads as / from here, so
# kill_rooted_in misses them): its PID 1, nspawn's child, goes first, and the kernel takes every
# other process of its PID namespace with it.
kill_nspawn() {
  local pid="$1" child ours
  ours=$(readlink /proc/self/ns/pid)
  for child in $(children_of "$pid"); do
    [ "$(readlink "/proc/$child/ns/pid" 2>/dev/null)" = "$ours" ] || kill -KILL "$child" 2>/dev/null || true
  done
  kill -KILL "$pid" 2>/dev/null || true
}

kill_machine() {
  local name="$1" pidfile="$WORK/machines/$1.pid"
  [ ! -f "$pidfile" ] || kill_nspawn "$(cat "$pidfile")"
  kill_rooted_in "$WORK/machines/$name"
  rm -f "$pidfile"
  ip link delete "vb-$name" 2>/dev/null || true
  log "killed $name"
}

down() {
  local pidfile pid i
  for pidfile in "$WORK"/machines/*.pid; do
    [ -f "$pidfile" ] || continue
    pid=$(cat "$pidfile")
    # SIGTERM asks nspawn to shut the container down cleanly; SIGKILL if it will not.
    kill -TERM "$pid" 2>/dev/null || true
    for i in $(seq 1 20); do kill -0 "$pid" 2>/dev/null || break; [ "$i" -lt 20 ] && sleep 0.5; done
    ! kill -0 "$pid" 2>/dev/null || kill_nspawn "$pid"
    rm -f "$pidfile"
  done
  kill_rooted_in "$WORK/machines"
  remove_cgroups
  # A machine whose nspawn was killed outright leaves its veth behind, and the next boot of
  # that name then fails ("File exists").
  local dir
  for dir in "$WORK"/machines/*/; do
    if [ -d "$dir" ]; then ip link delete "vb-$(basename "$dir")" 2>/dev/null || true; fi
  done
  rm -rf "$WORK/machines"
  ip link delete "$BRIDGE" 2>/dev/null || true
  nft delete table ip "$NFT_TABLE" 2>/dev/null || true
  if [ -f "$WORK/sysctl.saved" ]; then
    { read -r forward; read -r maps; } <"$WORK/sysctl.saved"
    sysctl -q -w net.ipv4.ip_forward="$forward" vm.max_map_count="$maps" || true
    rm -f "$WORK/sysctl.saved"
  fi
  log "down"
}

case "${1:-}" in
  check) check ;;
  up) shift; up "$@" ;;
  down) down ;;
  kill) kill_machine "${2:?machines.sh kill NAME}" ;;
  base) make_base ;;
  *) die "usage: $0 check|up NAME...|down|kill NAME|base" ;;
esac
