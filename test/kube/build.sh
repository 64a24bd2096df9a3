#!/usr/bin/env bash
# Builds real Kubernetes for the test hosts from Go modules (pkgs.k8s.io, registry.k8s.io and
# GitHub are out of reach here; the Go module proxy and Debian's archive are not), into a cache
# kept between runs. For each VERSION:
#   $cache/release-v<VERSION>/debs/     kubelet, kubeadm, kubectl (<VERSION>-1.1), cri-tools and
#                                       kubernetes-cni, named and versioned as pkgs.k8s.io does,
#                                       so the lab's host preparation installs them unchanged
#   $cache/release-v<VERSION>/images/   one docker archive an image, under the names and tags
#                                       `kubeadm config images list` prints for VERSION, plus
#                                       kube-proxy and CoreDNS; test/kube/tools serves them
#   $cache/bin/imagetool                builds and serves those images
# The pieces, each from its own module (facts: /work/shared/reference/real-cluster.md):
#   kubernetes  k8s.io/kubernetes at VERSION, through a wrapper module that requires every
#               staging module (k8s.io/<name> v0.<minor>.<patch>), which its go.mod replaces
#               with local paths
#   etcd        go.etcd.io/etcd/{server,etcdctl,etcdutl}/v3 at the version kubeadm asks for
#   coredns     github.com/coredns/coredns at the version kubeadm asks for, without the plugins
#               no lab's Corefile names (build_coredns says which)
#   cni         github.com/containernetworking/plugins (bridge, host-local, loopback, portmap)
#   crictl      sigs.k8s.io/cri-tools (1.35.0 is not served: 1.34.0, named in the README)
#   kube-vip    github.com/kube-vip/kube-vip at the version the lab pins (components/lib/versions.ts),
#               for the highly available control plane's virtual IP
#   netfilter   Debian's iptables, nftables and conntrack with their libraries, for kube-proxy's
#               image (its iptables mode runs them)
#   tools       test/kube/tools: pause and imagetool
#   containerd  (with --containerd) github.com/containerd/containerd/v2 at the version the lab pins
#               and github.com/opencontainers/runc at the version that containerd release names
#               (script/setup/runc-version), packaged as Docker's containerd.io, for the lab's
#               default `kubernetes.containerd: docker`; runc is the one cgo build (libseccomp)
# Versions of etcd, CoreDNS and pause are read from the built kubeadm itself, so they are the
# ones it will ask the hosts for.
#
#   $cache/containerd-io/debs/          (with --containerd) containerd.io_<pin>-1~debian.12~bookworm_amd64.deb
#
# Usage: test/kube/build.sh [--containerd] VERSION...   cache: ${K8S_LAB_KUBE_CACHE:-/var/cache/k8s-lab-kube}
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cache=${K8S_LAB_KUBE_CACHE:-/var/cache/k8s-lab-kube}
containerd=false
[ "${1:-}" != --containerd ] || { containerd=true; shift; }
[ "$#" -gt 0 ] || { echo "usage: $0 [--containerd] VERSION..." >&2; exit 2; }

cni_version=1.9.1
crictl_version=1.34.0
pin() { (cd "$repo" && node -e "require('ts-node/register/transpile-only'); process.stdout.write(require('./components/lib/versions').$1)"); }
kube_vip_version=$(pin kubeVip.version)
revision=1.1
netfilter_packages=(iptables conntrack nftables)

# shellcheck source=test/lib/build.sh
. "$repo/test/lib/build.sh"
needed=(apt-get dpkg-deb ldconfig)
[ "$containerd" = false ] || needed+=(gcc objdump pkg-config)
build_start "${needed[@]}"
# Before any build: runc, the one cgo build, comes last.
if [ "$containerd" = true ] && { [ ! -f /usr/include/stdio.h ] || ! pkg-config --exists libseccomp; }; then
  echo "build.sh: runc needs the headers of libc and libseccomp: libc6-dev, libseccomp-dev (test/setup.sh installs them)" >&2
  exit 1
fi

# go_install DIR OUT VERSION-LDFLAGS PACKAGE...: builds the main packages into OUT, static, in
# one go build, which compiles what they share once and links them in parallel.
go_install() {
  local dir=$1 out=$2 ldflags=$3
  shift 3
  mkdir -p "$out"
  (cd "$dir" && go build -trimpath -ldflags "-s -w $ldflags" -o "$out/" "$@")
}

# recipe_of FUNCTION [FILE...]: a short hash of the function's text and the files, so that a
# cached piece is built again when how it is built changes.
recipe_of() {
  local fn=$1
  shift
  sed -n "/^$fn() {/,/^}/p" "$0" | cat - "$@" | sha256sum | cut -c1-12
}

# --- tools -------------------------------------------------------------------------------------
tools_src=$repo/test/kube/tools
tools_hash=$(cd "$tools_src" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum | sha256sum | cut -c1-16)
tools_dir=$cache/tools-$tools_hash
build_tools() { go_install "$tools_src" "$1/bin" "" ./cmd/imagetool ./cmd/pause; }
piece "tools $tools_hash" "$tools_dir" "tools $tools_hash $go_version" build_tools
for old in "$cache"/tools-*; do
  [ "$old" = "$tools_dir" ] || rm -rf "$old"
done
mkdir -p "$cache/bin"
cp "$tools_dir/bin/imagetool" "$cache/bin/imagetool.new"
mv -f "$cache/bin/imagetool.new" "$cache/bin/imagetool"

# --- Kubernetes --------------------------------------------------------------------------------
build_kubernetes() {
  local dir=$1 minor=${version%.*} staging=() args=() name ldflags
  minor=${minor#*.}
  mapfile -t staging < <(go mod download -json "k8s.io/kubernetes@v$version" |
    sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",$/\1/p' | xargs grep -E '^[[:space:]]*k8s.io/[a-z-]+ => \./staging' |
    awk '{print $1}' | grep -v '^k8s.io/sample-')
  [ "${#staging[@]}" -gt 10 ] || { echo "no staging modules found for k8s.io/kubernetes@v$version" >&2; exit 1; }
  # The sample-* staging modules are examples nothing imports, and the proxy serves none.
  wrapper_module "$dir/src" k8s-lab/kube/kubernetes \
    k8s.io/kubernetes/cmd/{kubelet,kubeadm,kubectl,kube-apiserver,kube-controller-manager,kube-scheduler,kube-proxy}
  args=(-require "k8s.io/kubernetes@v$version")
  for name in "${staging[@]}"; do args+=(-require "$name@v0.${version#*.}"); done
  cd "$dir/src"
  go mod edit "${args[@]}"
  go mod tidy
  ldflags=""
  for name in client-go/pkg/version component-base/version; do
    ldflags+=" -X k8s.io/$name.gitVersion=v$version -X k8s.io/$name.gitMajor=1 -X k8s.io/$name.gitMinor=$minor"
    ldflags+=" -X k8s.io/$name.gitTreeState=clean -X k8s.io/$name.buildDate=1970-01-01T00:00:00Z"
  done
  go_install . "$dir/bin" "$ldflags" \
    k8s.io/kubernetes/cmd/{kubelet,kubeadm,kubectl,kube-apiserver,kube-controller-manager,kube-scheduler,kube-proxy}
  "$dir/bin/kubeadm" version -o short
}

# --- etcd, CoreDNS, CNI plugins, crictl ----------------------------------------------------------
build_etcd() {
  local dir=$1 module
  # The server module's go.mod replaces its siblings with ../ paths: require them all instead.
  wrapper_module "$dir/src" k8s-lab/kube/etcd go.etcd.io/etcd/server/v3 go.etcd.io/etcd/etcdctl/v3 go.etcd.io/etcd/etcdutl/v3
  cd "$dir/src"
  for module in server etcdctl etcdutl api client/pkg client pkg; do
    go mod edit -require "go.etcd.io/etcd/$module/v3@v$etcd_version"
  done
  go mod tidy
  go_install . "$dir/bin" "" go.etcd.io/etcd/server/v3 go.etcd.io/etcd/etcdctl/v3 go.etcd.io/etcd/etcdutl/v3
  # Go names a /v3 module's binary after the element before it: server.
  mv "$dir/bin/server" "$dir/bin/etcd"
  # sed reads to the end; head would leave while etcd still writes, and pipefail fails the
  # build on the SIGPIPE (it did, exit 141)
  "$dir/bin/etcd" --version | sed -n 1p
}

# CoreDNS with its in-tree plugins but the cloud providers' (azure, clouddns, route53), etcd,
# nomad and trace, whose SDKs were most of its build time and which a lab's Corefile does not
# name: what CoreDNS's plugin.cfg is for, done as its main package does it (coredns.go).
build_coredns() {
  local dir=$1 plugins=()
  mkdir -p "$dir/src"
  cd "$dir/src"
  printf 'module k8s-lab/kube/coredns\n\ngo 1.24\n' >go.mod
  go mod edit -require "github.com/coredns/coredns@v$coredns_version"
  go mod download github.com/coredns/coredns
  mapfile -t plugins < <(grep -o '"github.com/coredns/[^"]*"' "$(go list -m -f '{{.Dir}}' github.com/coredns/coredns)/core/plugin/zplugin.go" |
    grep -Ev '/plugin/(azure|clouddns|route53|etcd|nomad|trace)"$')
  {
    printf 'package main\n\nimport (\n'
    printf '\t_ %s\n' "${plugins[@]}"
    printf '\n\t"github.com/coredns/coredns/coremain"\n)\n\nfunc main() { coremain.Run() }\n'
  } >main.go
  go mod tidy
  go_install . "$dir/bin" ""
  "$dir/bin/coredns" -plugins | grep kubernetes >/dev/null
}

build_cni() {
  local dir=$1
  wrapper_module "$dir/src" k8s-lab/kube/cni \
    github.com/containernetworking/plugins/plugins/{main/bridge,ipam/host-local,main/loopback,meta/portmap}
  cd "$dir/src"
  go mod edit -require "github.com/containernetworking/plugins@v$cni_version"
  go mod tidy
  go_install . "$dir/bin" "-X github.com/containernetworking/plugins/pkg/utils/buildversion.BuildVersion=v$cni_version" \
    github.com/containernetworking/plugins/plugins/{main/bridge,ipam/host-local,main/loopback,meta/portmap}
}

build_crictl() {
  local dir=$1
  wrapper_module "$dir/src" k8s-lab/kube/crictl sigs.k8s.io/cri-tools/cmd/crictl
  cd "$dir/src"
  go mod edit -require "sigs.k8s.io/cri-tools@v$crictl_version"
  go mod tidy
  go_install . "$dir/bin" "-X sigs.k8s.io/cri-tools/pkg/version.Version=v$crictl_version" sigs.k8s.io/cri-tools/cmd/crictl
}

build_kube_vip() {
  local dir=$1
  wrapper_module "$dir/src" k8s-lab/kube/kube-vip github.com/kube-vip/kube-vip
  cd "$dir/src"
  go mod edit -require "github.com/kube-vip/kube-vip@$kube_vip_version"
  go mod tidy
  go_install . "$dir/bin" "-X main.Version=$kube_vip_version" github.com/kube-vip/kube-vip
}

# Debian's packages of the netfilter tools and the libraries they load, unpacked into one root
# with its own linker cache; each tool is checked to find every library there.
build_netfilter() {
  local dir=$1 root=$1/root deb tool
  mkdir -p "$dir/debs" "$root"
  (cd "$dir/debs" && apt-get download "${netfilter_list[@]}" >/dev/null)
  for deb in "$dir"/debs/*.deb; do dpkg-deb -x "$deb" "$root"; done
  for tool in iptables ip6tables; do
    for suffix in "" -save -restore; do ln -sf "xtables-nft-multi" "$root/usr/sbin/$tool$suffix"; done
  done
  rm -rf "${root:?}/usr/share"
  ldconfig -r "$root"
  for tool in usr/sbin/xtables-nft-multi usr/sbin/nft usr/sbin/conntrack; do
    if chroot "$root" /lib64/ld-linux-x86-64.so.2 --list "/$tool" | grep 'not found'; then
      echo "$tool misses a library" >&2
      exit 1
    fi
  done
  chroot "$root" /usr/sbin/iptables --version
}
# The packages and every library among their dependencies, at the versions apt offers today.
mapfile -t netfilter_list < <(apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts \
  --no-breaks --no-replaces --no-enhances "${netfilter_packages[@]}" | grep -v '^ ' | grep -v '^<' |
  grep -E "^(lib|$(IFS='|'; echo "${netfilter_packages[*]}"))" | sort -u)
netfilter_recipe=$(apt-cache policy "${netfilter_list[@]}" | awk '/^[^ ]/ { name = $1 } /Candidate:/ { printf "%s%s ", name, $2 }')
netfilter_dir=$cache/netfilter-$(printf '%s' "$netfilter_recipe" | sha256sum | cut -c1-12)
piece "netfilter" "$netfilter_dir" "$netfilter_recipe" build_netfilter
for old in "$cache"/netfilter-*; do
  [ "$old" = "$netfilter_dir" ] || rm -rf "$old"
done

cni_dir=$cache/cni-v$cni_version
piece "cni v$cni_version" "$cni_dir" "cni $cni_version $go_version" build_cni
crictl_dir=$cache/crictl-v$crictl_version
piece "crictl v$crictl_version" "$crictl_dir" "crictl $crictl_version $go_version" build_crictl
kube_vip_dir=$cache/kube-vip-$kube_vip_version
piece "kube-vip $kube_vip_version" "$kube_vip_dir" "kube-vip $kube_vip_version $go_version" build_kube_vip

# --- packages ----------------------------------------------------------------------------------
# deb NAME VERSION DEPENDS OUT-DIR: builds $work/NAME into OUT-DIR/NAME_VERSION-1.1_amd64.deb.
deb() {
  local name=$1 at=$2 depends=$3 out=$4
  mkdir -p "$work/$name/DEBIAN"
  cat >"$work/$name/DEBIAN/control" <<CONTROL
Package: $name
Version: $at-$revision
Architecture: amd64
Maintainer: k8s-lab tests <tests@k8s-lab.invalid>
Depends: $depends
Description: $name built from Go modules for the k8s-lab test hosts
 The real $name, built from its Go module and packaged as pkgs.k8s.io names it.
CONTROL
  sed -i '/^Depends: $/d' "$work/$name/DEBIAN/control"
  dpkg-deb --root-owner-group -Zgzip --build "$work/$name" "$out/${name}_${at}-${revision}_amd64.deb" >/dev/null
}

# Units as pkgs.k8s.io ships them: kubelet's own, and kubeadm's drop-in that starts it with the
# files kubeadm writes.
kubelet_units() {
  mkdir -p "$work/kubelet/usr/lib/systemd/system" "$work/kubeadm/usr/lib/systemd/system/kubelet.service.d"
  cat >"$work/kubelet/usr/lib/systemd/system/kubelet.service" <<'UNIT'
[Unit]
Description=kubelet: The Kubernetes Node Agent
Documentation=https://kubernetes.io/docs/
Wants=network-online.target
After=network-online.target

[Service]
ExecStart=/usr/bin/kubelet
Restart=always
StartLimitInterval=0
RestartSec=10

[Install]
WantedBy=multi-user.target
UNIT
  cat >"$work/kubeadm/usr/lib/systemd/system/kubelet.service.d/10-kubeadm.conf" <<'UNIT'
[Service]
Environment="KUBELET_KUBECONFIG_ARGS=--bootstrap-kubeconfig=/etc/kubernetes/bootstrap-kubelet.conf --kubeconfig=/etc/kubernetes/kubelet.conf"
Environment="KUBELET_CONFIG_ARGS=--config=/var/lib/kubelet/config.yaml"
EnvironmentFile=-/var/lib/kubelet/kubeadm-flags.env
EnvironmentFile=-/etc/default/kubelet
ExecStart=
ExecStart=/usr/bin/kubelet $KUBELET_KUBECONFIG_ARGS $KUBELET_CONFIG_ARGS $KUBELET_KUBEADM_ARGS $KUBELET_EXTRA_ARGS
UNIT
}

# image NAME:TAG [imagetool flags] SRC=DEST...: one archive in $release/images.
image() {
  local tag=$1 file
  shift
  file=$(printf '%s' "$tag" | tr '/:' '__')
  "$tools_dir/bin/imagetool" build -o "$release_new/images/$file.tar" -t "$tag" \
    -env PATH=/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin "$@"
}

release_piece() {
  local dir=$1 k=$kube_dir/bin bin
  release_new=$dir
  mkdir -p "$dir/debs" "$dir/images"
  work=$(mktemp -d)
  mkdir -p "$work/kubelet/usr/bin" "$work/kubeadm/usr/bin" "$work/kubectl/usr/bin" "$work/cri-tools/usr/bin" "$work/kubernetes-cni/opt/cni/bin"
  for bin in kubelet kubeadm kubectl; do install -m 0755 "$k/$bin" "$work/$bin/usr/bin/$bin"; done
  install -m 0755 "$crictl_dir/bin/crictl" "$work/cri-tools/usr/bin/crictl"
  install -m 0755 "$cni_dir"/bin/* "$work/kubernetes-cni/opt/cni/bin/"
  kubelet_units
  deb kubelet "$version" "iptables, nftables, iproute2, mount, ethtool, conntrack, kubernetes-cni" "$dir/debs"
  deb kubeadm "$version" "kubelet, kubectl, cri-tools, kubernetes-cni" "$dir/debs"
  deb kubectl "$version" "" "$dir/debs"
  deb cri-tools "$crictl_version" "" "$dir/debs"
  deb kubernetes-cni "$cni_version" "" "$dir/debs"
  rm -rf "$work"
  local registry=registry.k8s.io
  for bin in kube-apiserver kube-controller-manager kube-scheduler; do
    image "$registry/$bin:v$version" "$k/$bin=/usr/local/bin/$bin"
  done
  image "$registry/kube-proxy:v$version" "$k/kube-proxy=/usr/local/bin/kube-proxy" "$netfilter_dir/root=/"
  image "$registry/etcd:$etcd_tag" "$etcd_dir/bin/etcd=/usr/local/bin/etcd" \
    "$etcd_dir/bin/etcdctl=/usr/local/bin/etcdctl" "$etcd_dir/bin/etcdutl=/usr/local/bin/etcdutl"
  image "$registry/coredns/coredns:v$coredns_version" -entrypoint /coredns "$coredns_dir/bin/coredns=/coredns"
  image "$registry/pause:$pause_version" -entrypoint /pause "$tools_dir/bin/pause=/pause"
  image "ghcr.io/kube-vip/kube-vip:$kube_vip_version" -entrypoint /kube-vip "$kube_vip_dir/bin/kube-vip=/kube-vip"
  (cd "$dir" && sha256sum debs/* images/* >SHA256SUMS)
}

for version in "$@"; do
  kube_dir=$cache/kubernetes-v$version
  piece "kubernetes v$version" "$kube_dir" "kubernetes $version $go_version" build_kubernetes
  # What this kubeadm will ask the hosts for.
  images=$("$kube_dir/bin/kubeadm" config images list --kubernetes-version "v$version" 2>/dev/null)
  etcd_tag=$(sed -n 's|.*/etcd:||p' <<<"$images")
  etcd_version=${etcd_tag%-*}
  coredns_version=$(sed -n 's|.*/coredns:v||p' <<<"$images")
  pause_version=$(sed -n 's|.*/pause:||p' <<<"$images")
  if [ -z "$etcd_version" ] || [ -z "$coredns_version" ] || [ -z "$pause_version" ]; then
    echo "kubeadm $version listed no etcd, CoreDNS or pause image: $images" >&2
    exit 1
  fi
  etcd_dir=$cache/etcd-v$etcd_version
  piece "etcd v$etcd_version" "$etcd_dir" "etcd $etcd_version $go_version" build_etcd
  coredns_dir=$cache/coredns-v$coredns_version
  piece "coredns v$coredns_version" "$coredns_dir" "coredns $coredns_version $go_version $(recipe_of build_coredns) $(recipe_of go_install)" build_coredns
  piece "release v$version" "$cache/release-v$version" \
    "release $version etcd $etcd_tag coredns $coredns_version pause $pause_version cni $cni_version crictl $crictl_version kube-vip $kube_vip_version $tools_hash ${netfilter_dir##*/} $(sha256sum "$0" | cut -c1-12)" \
    release_piece
done
# --- containerd.io -----------------------------------------------------------------------------
# Docker's package as the lab's hosts get it from download.docker.com: containerd, its runc shim,
# ctr and runc in /usr/bin, the unit, and the configuration Docker ships (the CRI plugin off,
# which the lab's own configuration must undo), enabled and started on install.
build_containerd_io() {
  local dir=$1 root=$1/root source runc_version glibc
  wrapper_module "$dir/src" k8s-lab/kube/containerd \
    github.com/containerd/containerd/v2/cmd/{containerd,containerd-shim-runc-v2,ctr}
  cd "$dir/src"
  go mod edit -require "github.com/containerd/containerd/v2@v$containerd_version"
  go mod tidy
  mkdir -p "$root/usr/bin" "$root/lib/systemd/system" "$root/etc/containerd" "$root/DEBIAN"
  go_install . "$root/usr/bin" "-X github.com/containerd/containerd/v2/version.Version=v$containerd_version -X github.com/containerd/containerd/v2/version.Package=containerd.io" \
    github.com/containerd/containerd/v2/cmd/{containerd,containerd-shim-runc-v2,ctr}
  source=$(go list -m -f '{{.Dir}}' github.com/containerd/containerd/v2)
  runc_version=$(tr -d 'v \n' <"$source/script/setup/runc-version")
  wrapper_module "$dir/runc" k8s-lab/kube/runc github.com/opencontainers/runc
  cd "$dir/runc"
  go mod edit -require "github.com/opencontainers/runc@v$runc_version"
  go mod tidy
  # As runc's Makefile builds it: seccomp through libseccomp, so with cgo, linked dynamically
  # like Docker's (which depends on libseccomp2).
  CGO_ENABLED=1 go build -trimpath -buildmode=pie -tags "seccomp urfave_cli_no_docs" -ldflags "-s -w" \
    -o "$root/usr/bin/runc" github.com/opencontainers/runc
  # runc links this machine's glibc: a symbol newer than bookworm's 2.36 would install on the
  # hosts and then fail every container start. Depends names the newest version it needs.
  glibc=$(objdump -T "$root/usr/bin/runc" | grep -o 'GLIBC_2\.[0-9]*' | sort -uV | tail -n 1)
  if [ "${glibc#GLIBC_2.}" -gt 36 ]; then
    echo "build.sh: runc needs $glibc, newer than Debian 12's glibc 2.36: build on Debian 12" >&2
    return 1
  fi
  sed 's|^ExecStart=.*|ExecStart=/usr/bin/containerd|' "$source/containerd.service" >"$root/lib/systemd/system/containerd.service"
  printf 'disabled_plugins = ["cri"]\n' >"$root/etc/containerd/config.toml"
  cat >"$root/DEBIAN/control" <<CONTROL
Package: containerd.io
Version: $containerd_version-1~debian.12~bookworm
Architecture: amd64
Maintainer: k8s-lab tests <tests@k8s-lab.invalid>
Depends: libc6 (>= ${glibc#GLIBC_}), libseccomp2 (>= 2.5.0)
Conflicts: containerd, runc
Replaces: containerd, runc
Provides: containerd, runc
Description: containerd (and runc $runc_version) built from Go modules for the k8s-lab test hosts
 The real containerd and runc, packaged as Docker's apt repository names them.
CONTROL
  echo /etc/containerd/config.toml >"$root/DEBIAN/conffiles"
  install -m 0755 "$repo"/test/kube/containerd-io/{postinst,prerm,postrm} "$root/DEBIAN/"
  mkdir -p "$dir/debs"
  dpkg-deb --root-owner-group -Zgzip --build "$root" "$dir/debs/containerd.io_$containerd_version-1~debian.12~bookworm_amd64.deb" >/dev/null
  "$root/usr/bin/containerd" --version
  "$root/usr/bin/runc" --version | sed -n 1p
}

if [ "$containerd" = true ]; then
  containerd_version=$(pin containerdIoVersion)
  piece "containerd.io $containerd_version" "$cache/containerd-io" \
    "containerd.io $containerd_version $go_version $(recipe_of build_containerd_io "$repo"/test/kube/containerd-io/*) $(recipe_of go_install) libseccomp $(dpkg-query -W -f '${Version}' libseccomp-dev)" \
    build_containerd_io
fi
echo "kubernetes ready in $((SECONDS - total_start))s: $cache/release-v{$(IFS=,; echo "$*")}"
