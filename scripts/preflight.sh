#!/usr/bin/env bash
# Reads what a preview needs to know about a host before the lab touches it, and changes
# nothing: no package lists, no files, no services, no kernel settings. The program runs it
# at preview over SSH as root (sudo -n bash -s), one host at a time in parallel, and judges
# the facts in components/lib/preflight.ts. Run from the repository, give the parameters as
# environment variables.
#
# It prints one fact a line, each a keyword and its values:
#   os <id> <version>                 from /etc/os-release ("os unknown -" without one)
#   apt yes|no                        apt-get present
#   cgroup v2|v1|unknown              the cgroup hierarchy mounted on /sys/fs/cgroup
#   swap on|off                       any active swap
#   lab present|absent                the lab's own state directory (the lab has run here)
#   port <n> used <process>|free      a TCP listener on the port (process "-" when unknown)
#   nodeip <address> present|absent|unknown   the address on one of the host's interfaces
#   vip <address> held|answers|silent|unknown   the virtual IP: on one of this host's interfaces;
#                                     else a machine answered a TCP connection to it (accepted or
#                                     refused); else nothing answered; unknown: no ip command
#   clock <epoch seconds>             with milliseconds
#   mem <MiB>                         total memory
#   disk <path> <MiB>                 free space of the file system that holds the path
#   mirror <url> <status>|fail|unchecked   HTTP status of a HEAD request (after redirects);
#                                     fail: no answer; unchecked: neither curl nor wget
#
# Parameters (set by the program when it renders this script):
#   PORTS        TCP ports that must be free on a host new to the lab, space-separated
#   NODE_IP      the host's address in the lab's configuration (empty for a DNS name)
#   MIRROR_URLS  URLs the host must reach, one a line (may be empty); {os} becomes the
#                host's ID from /etc/os-release (debian, ubuntu)
#   DISK_PATHS   paths whose free space counts, space-separated (need not exist yet)
#   VIP          the control plane's virtual IP to look for (empty: none, or not this host)
#   VIP_PORT     the TCP port a connection to the virtual IP is tried on
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# Seconds a mirror gets to answer; the mirrors are asked in parallel.
readonly MIRROR_TIMEOUT=5
# Seconds a connection to the virtual IP gets: on the hosts' own network, an address nobody
# holds fails its ARP resolution in about 3 s (No route to host).
readonly VIP_TIMEOUT=4

fact_os() {
  if [ ! -r /etc/os-release ]; then
    echo "os unknown -"
    return 0
  fi
  local id version
  id=$(os_field ID)
  version=$(os_field VERSION_ID)
  echo "os ${id:-unknown} ${version:--}"
}

fact_apt() {
  if command -v apt-get >/dev/null; then echo "apt yes"; else echo "apt no"; fi
}

fact_cgroup() {
  case "$(stat -fc %T /sys/fs/cgroup 2>/dev/null || true)" in
    cgroup2fs) echo "cgroup v2" ;;
    tmpfs) echo "cgroup v1" ;;
    *) echo "cgroup unknown" ;;
  esac
}

fact_swap() {
  local active=0
  if [ -r /proc/swaps ]; then
    active=$(($(wc -l </proc/swaps) - 1))
  fi
  if [ "$active" -gt 0 ]; then echo "swap on"; else echo "swap off"; fi
}

fact_lab() {
  if [ -d "$LAB_STATE_DIR" ]; then echo "lab present"; else echo "lab absent"; fi
}

# "port process" for every listening TCP socket: ss where it is, else /proc/net/tcp{,6}
# (state 0A is LISTEN; the port is hex after the colon).
listeners() {
  if command -v ss >/dev/null; then
    ss -Htlnp 2>/dev/null | awk '{
      n = split($4, a, ":"); p = "-"
      if (match($0, /users:\(\("[^"]+"/)) p = substr($0, RSTART + 9, RLENGTH - 10)
      print a[n], p
    }'
    return 0
  fi
  local _sl addr _rem state _rest
  cat /proc/net/tcp /proc/net/tcp6 2>/dev/null | while read -r _sl addr _rem state _rest; do
    [ "$state" = 0A ] || continue
    printf '%d -\n' "0x${addr##*:}"
  done
}

fact_ports() {
  local all port process
  all=$(listeners || true)
  for port in $PORTS; do
    process=$(awk -v port="$port" '$1 == port { print $2; exit }' <<<"$all")
    if [ -n "$process" ]; then echo "port $port used $process"; else echo "port $port free"; fi
  done
}

# Whether an IPv4 address is on one of this host's interfaces: present, absent, or unknown
# (no ip command).
address_state() {
  local addresses
  if ! command -v ip >/dev/null; then
    echo unknown
    return 0
  fi
  # Read whole before grep looks: grep -q stops early, and ip's SIGPIPE would fail the pipe.
  addresses=$(ip -o -4 addr show 2>/dev/null || true)
  if grep -qF "inet $1/" <<<"$addresses"; then echo present; else echo absent; fi
}

fact_nodeip() {
  [ -n "$NODE_IP" ] || return 0
  echo "nodeip $NODE_IP $(address_state "$NODE_IP")"
}

# Whether the virtual IP is somebody's already. A TCP connection is the probe every host can
# make without a tool or a change: accepted or refused, a machine holds the address.
fact_vip() {
  [ -n "$VIP" ] || return 0
  local said
  case "$(address_state "$VIP")" in
    present) echo "vip $VIP held" ;;
    unknown) echo "vip $VIP unknown" ;;
    *)
      # shellcheck disable=SC2016 # the inner bash expands its own arguments
      if said=$(timeout "$VIP_TIMEOUT" bash -c 'exec 3<>"/dev/tcp/$1/$2"' vip "$VIP" "$VIP_PORT" 2>&1); then
        echo "vip $VIP answers"
      elif grep -qi "connection refused" <<<"$said"; then
        echo "vip $VIP answers"
      else
        echo "vip $VIP silent"
      fi
      ;;
  esac
}

fact_clock() {
  echo "clock $(date +%s.%3N)"
}

fact_mem() {
  echo "mem $(awk '/^MemTotal:/ { print int($2 / 1024) }' /proc/meminfo)"
}

fact_disks() {
  local path at free
  for path in $DISK_PATHS; do
    at="$path"
    while [ ! -e "$at" ] && [ "$at" != / ]; do at=$(dirname "$at"); done
    free=$(df -Pm "$at" 2>/dev/null | awk 'NR == 2 { print $4 }')
    echo "disk $path ${free:-unknown}"
  done
}

# The HTTP status of a HEAD request after redirects, "fail" when nothing answered. curl and
# wget are told to write nothing: no output file, no HSTS database, no cookies.
http_status() {
  local url="$1" code=""
  if command -v curl >/dev/null; then
    code=$(curl -q -sS -o /dev/null -I -L --connect-timeout 3 --max-time "$MIRROR_TIMEOUT" -w '%{http_code}' "$url" 2>/dev/null || true)
  elif command -v wget >/dev/null; then
    code=$(wget --no-hsts -q -S --spider -T "$MIRROR_TIMEOUT" -t 1 "$url" 2>&1 | awk '/^ *HTTP\// { c = $2 } END { print c }' || true)
  else
    echo unchecked
    return 0
  fi
  case "$code" in
    [1-5][0-9][0-9]) echo "$code" ;;
    *) echo fail ;;
  esac
}

fact_mirrors() {
  local url id=""
  if [ -r /etc/os-release ]; then id=$(os_field ID); fi
  while read -r url; do
    [ -n "$url" ] || continue
    url="${url//\{os\}/$id}"
    # One line a mirror, written at once: the parallel checks never mix their lines.
    (printf 'mirror %s %s\n' "$url" "$(http_status "$url")") &
  done <<<"$MIRROR_URLS"
  wait
}

preflight() {
  fact_os
  fact_apt
  fact_cgroup
  fact_swap
  fact_lab
  fact_ports
  fact_nodeip
  fact_vip
  fact_clock
  fact_mem
  fact_disks
  fact_mirrors
}

preflight
