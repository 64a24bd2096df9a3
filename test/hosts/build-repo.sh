#!/usr/bin/env bash
# Builds the stand-in kubelet, kubeadm and kubectl packages at a version, and cri-tools (crictl)
# at its minor's .0 as pkgs.k8s.io versions it, and publishes them in a signed flat apt
# repository laid out like pkgs.k8s.io (`deb [signed-by=...] URL /`, with Release.key beside
# it), so the lab's host preparation installs them the way it installs the real ones from a
# mirror: kubeadm depends on cri-tools there too.
#
#   build-repo.sh OUT_DIR VERSION...   e.g. build-repo.sh /tmp/repo/core/v1.35/deb 1.35.8 1.35.9
#   (several versions of one minor make a repository an upgrade can move through)
#   build-repo.sh OUT_DIR --debs DIR...
#   publishes the packages already built in each DIR instead (real Kubernetes, test/kube/build.sh)
#   build-repo.sh OUT_DIR --docker DEB...
#   lays the packages out as Docker's repository is (download.docker.com/linux): OUT_DIR/debian/gpg
#   and `deb [signed-by=...] OUT_DIR/debian bookworm stable`, for containerd.io (the test hosts
#   are Debian 12)
set -euo pipefail

out="$1"
shift
here="$(cd "$(dirname "$0")" && pwd)"
revision=1.1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# package NAME DEPENDS [COMMAND [VERSION]]: the stand-in for COMMAND (NAME by default) in
# /usr/bin, at VERSION ($version by default).
package() {
  local name="$1" depends="$2" command="${3:-$1}" at="${4:-$version}" root="$work/$1"
  mkdir -p "$root/DEBIAN" "$root/usr/bin"
  sed "s/@VERSION@/$at/g" "$here/standins/$command" >"$root/usr/bin/$command"
  chmod 0755 "$root/usr/bin/$command"
  cat >"$root/DEBIAN/control" <<CONTROL
Package: $name
Version: $at-$revision
Architecture: amd64
Maintainer: k8s-lab tests <tests@k8s-lab.invalid>
Depends: $depends
Description: k8s-lab test stand-in for $command
 Records its arguments and creates what the real $command creates; for tests only.
CONTROL
  sed -i '/^Depends: $/d' "$root/DEBIAN/control"
}

kubelet_unit() {
  mkdir -p "$work/kubelet/lib/systemd/system"
  cat >"$work/kubelet/lib/systemd/system/kubelet.service" <<'UNIT'
[Unit]
Description=kubelet (k8s-lab test stand-in)

[Service]
ExecStart=/usr/bin/kubelet
Restart=always

[Install]
WantedBy=multi-user.target
UNIT
}

# cri-tools: crictl, with the etcd image's etcdctl and etcdutl that its `exec` reaches. One
# version a minor, as pkgs.k8s.io has it (cri-tools 1.35.0 beside kubeadm 1.35.x).
cri_tools() {
  local at="${version%.*}.0" deb
  deb="$out/cri-tools_${at}-${revision}_amd64.deb"
  [ ! -f "$deb" ] || return 0
  rm -rf "${work:?}/cri-tools"
  package cri-tools "" crictl "$at"
  mkdir -p "$work/cri-tools/usr/lib/cri-tools-standin/etcd-image"
  install -m 0755 "$here/standins/etcdctl" "$here/standins/etcdutl" "$work/cri-tools/usr/lib/cri-tools-standin/etcd-image/"
  dpkg-deb --root-owner-group --build "$work/cri-tools" "$deb" >/dev/null
}

build_version() {
  version="$1"
  rm -rf "${work:?}/kubelet" "$work/kubeadm" "$work/kubectl"
  package kubelet "iptables, nftables, conntrack"
  kubelet_unit
  # Like pkgs.k8s.io's kubeadm, it does not pin kubelet's version: an upgrade moves kubeadm first.
  package kubeadm "kubelet, kubectl, cri-tools, python3, curl"
  mkdir -p "$work/kubeadm/usr/lib/kubeadm-standin"
  cp "$here/standins/apiserver.py" "$work/kubeadm/usr/lib/kubeadm-standin/apiserver.py"
  package kubectl ""
  local name
  for name in kubelet kubeadm kubectl; do
    dpkg-deb --root-owner-group --build "$work/$name" "$out/${name}_${version}-${revision}_amd64.deb" >/dev/null
  done
  cri_tools
}

export GNUPGHOME="$work/gnupg"
mkdir -m 0700 "$GNUPGHOME"
gpg --batch --quiet --passphrase '' --quick-gen-key "k8s-lab test repository <repo@k8s-lab.invalid>" ed25519 sign never

# sign DIR: InRelease, Release.gpg for DIR/Release.
sign() {
  rm -f "$1/InRelease" "$1/Release.gpg"
  gpg --batch --quiet --clearsign -o "$1/InRelease" "$1/Release"
  gpg --batch --quiet --armor --detach-sign -o "$1/Release.gpg" "$1/Release"
}

if [ "${1:-}" = --docker ]; then
  shift
  base=$out/debian suite=bookworm
  mkdir -p "$base/pool/stable" "$base/dists/$suite/stable/binary-amd64"
  cp "$@" "$base/pool/stable/"
  (
    cd "$base"
    dpkg-scanpackages --multiversion pool/stable /dev/null 2>/dev/null >"dists/$suite/stable/binary-amd64/Packages"
    gzip -kf "dists/$suite/stable/binary-amd64/Packages"
    apt-ftparchive -o APT::FTPArchive::Release::Suite="$suite" -o APT::FTPArchive::Release::Codename="$suite" \
      -o APT::FTPArchive::Release::Components=stable -o APT::FTPArchive::Release::Architectures=amd64 \
      release "dists/$suite" >"$work/Release"
    mv "$work/Release" "dists/$suite/Release"
    sign "dists/$suite"
    gpg --batch --quiet --armor --export >"$base/gpg"
  )
  echo "$out"
  exit 0
fi

mkdir -p "$out"
if [ "${1:-}" = --debs ]; then
  shift
  for dir in "$@"; do cp "$dir"/*.deb "$out/"; done
else
  for version in "$@"; do build_version "$version"; done
fi

(
  cd "$out"
  dpkg-scanpackages --multiversion . /dev/null 2>/dev/null >Packages
  gzip -kf Packages
  apt-ftparchive release . >Release
  sign .
  gpg --batch --quiet --armor --export >Release.key
)
echo "$out"
