#!/bin/sh
# Install everything vuproxy needs to build, test and run its demo on
# Debian 12.  Run as root.  Idempotent.
set -eu
export DEBIAN_FRONTEND=noninteractive
need() { for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || return 0; done; return 1; }
# dpkg-dev: dpkg-shlibdeps, which cpack runs for the .deb's Depends.
# qemu-system-common: qemu-storage-daemon and virtiofsd, the e2e back-ends.
# systemd: systemd-analyze (tests/systemd); python3 and util-linux
# (unshare, setpriv) for its sandbox checks.  man-db, groff-base and
# bsdextrautils (col): the man page's test.
PKGS="build-essential dpkg-dev cmake pkg-config libuv1-dev zlib1g-dev libyaml-dev libcmocka-dev
  clang clang-format libclang-rt-14-dev
  dpdk-dev qemu-system-x86 qemu-system-common qemu-utils busybox-static linux-image-amd64
  tshark tcpdump jq bc cpio kmod file xz-utils zstd procps iproute2 strace
  systemd python3 util-linux man-db groff-base bsdextrautils"
# shellcheck disable=SC2086
if need $PKGS; then
  apt-get update -q
  # shellcheck disable=SC2086
  apt-get install -y -q --no-install-recommends $PKGS
fi
