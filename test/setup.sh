#!/usr/bin/env bash
# Installs, from Debian's packages, the tools the test tiers need and this machine lacks: the
# shell linter (tier 1); for the real test hosts (tier 3), debootstrap and systemd-nspawn to
# boot them, nftables for their NAT, dpkg-scanpackages, apt-ftparchive and gpg for the signed
# apt repository of stand-in packages, ssh to reach them, python3 to serve the repository;
# for the engine tier (tier 4), flock (the engine cache's lock; Go itself is on the machine);
# for runc in the test hosts' containerd.io (test/kube/build.sh), gcc, binutils (objdump),
# pkg-config and the headers of libc and libseccomp.
# With nothing missing it does nothing; otherwise it installs as root, through sudo if need be.
set -euo pipefail

need=()
want() { command -v "$1" >/dev/null || need+=("$2"); }
want shellcheck shellcheck
want debootstrap debootstrap
want systemd-nspawn systemd-container
want nft nftables
want dpkg-scanpackages dpkg-dev
want apt-ftparchive apt-utils
want gpg gnupg
want ssh openssh-client
want python3 python3
want flock util-linux
want gcc gcc
[ -f /usr/include/stdio.h ] || need+=(libc6-dev)
want pkg-config pkg-config
want objdump binutils
[ -f /usr/include/seccomp.h ] || need+=(libseccomp-dev)

if [ "${#need[@]}" -eq 0 ]; then
  exit 0
fi
as_root=()
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "test/setup.sh: become root to install ${need[*]}" >&2; exit 1; }
  as_root=(sudo)
fi
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
echo "installed ${need[*]}"
