#!/bin/sh
# install-debian-root.sh [DEB] - install the .deb into a fresh, minimal
# Debian 12 root, the way a user does (`apt-get install ./vuproxy_*.deb`,
# so apt resolves Depends and Recommends), and check it there:
# `vuproxy --version`, the man page, `systemd-analyze verify` of the units,
# tshark (pulled in by Recommends) dissecting a capture of captures/ with
# the installed dissector and no -X lua_script:, the extcap launcher
# answering, then the installed files and a purge that leaves nothing.
# DEB defaults to build-package/vuproxy_*.deb (scripts/ci-package.sh).
#
# Run as root; not in CI (debootstrap downloads ~150 MB and takes minutes).
# The mirror is this machine's apt mirror for bookworm (MIRROR overrides).
# The root is a temporary folder, removed on exit with its mounts.
set -eu
[ "$(id -u)" = 0 ] || { echo "install-debian-root: run as root" >&2; exit 2; }
[ $# = 0 ] || DEB=$(realpath -- "$1")
cd "$(dirname "$0")/.."
SRC=$(pwd)
if [ $# = 0 ]; then set -- build-package/vuproxy_*.deb; DEB=$SRC/$1; fi
[ -f "$DEB" ] || { echo "install-debian-root: no $DEB (run scripts/ci-package.sh)" >&2; exit 2; }
export DEBIAN_FRONTEND=noninteractive LC_ALL=C.UTF-8

if ! command -v debootstrap >/dev/null 2>&1; then
	apt-get install -y -q --no-install-recommends debootstrap >/dev/null ||
		{ apt-get update -q && apt-get install -y -q --no-install-recommends debootstrap; }
fi

# The first bookworm mirror of this machine's sources, deb822 (*.sources:
# stanzas of "URIs:" and "Suites:") or one-line ("deb [opts] URI SUITE ...").
mirror_of_sources() {
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -f "$f" ] || continue
		awk 'BEGIN { RS = ""; FS = "\n" }
			/(^|\n)Suites:([^\n]* )?bookworm( |\n|$)/ {
				for (i = 1; i <= NF; i++) if ($i ~ /^URIs:/) {
					split($i, w, /[ \t]+/); print w[2]; exit } }' "$f"
	done
	cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
		sed -n 's/^deb[[:space:]]\{1,\}\(\[[^]]*\][[:space:]]\{1,\}\)\{0,1\}\([^[:space:]]*\)[[:space:]]\{1,\}bookworm[[:space:]].*/\2/p'
}
MIRROR=${MIRROR:-$(mirror_of_sources | head -n 1)}
MIRROR=${MIRROR:-http://deb.debian.org/debian}

ROOT=$(mktemp -d "${TMPDIR:-/var/tmp}/vup-debroot.XXXXXX")
# shellcheck disable=SC2317 # run by the trap
cleanup() {
	for m in "$ROOT/dev/pts" "$ROOT/dev" "$ROOT/proc"; do
		if mountpoint -q "$m" 2>/dev/null; then umount "$m" || umount -l "$m" || true; fi
	done
	# Never rm -rf through a mount that is still there (the host's /dev).
	if grep -qF " $ROOT/" /proc/mounts; then
		echo "install-debian-root: $ROOT still has mounts; not removed" >&2
	else
		rm -rf -- "$ROOT"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "== debootstrap --variant=minbase bookworm $ROOT $MIRROR"
debootstrap --variant=minbase bookworm "$ROOT" "$MIRROR" >"$ROOT.log" 2>&1 ||
	{ tail -n 20 "$ROOT.log" >&2; rm -f "$ROOT.log"; exit 1; }
rm -f "$ROOT.log"
mount -t proc proc "$ROOT/proc"
mount --bind /dev "$ROOT/dev"
mount --bind /dev/pts "$ROOT/dev/pts"
in_root() { chroot "$ROOT" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
	HOME=/root LC_ALL=C.UTF-8 DEBIAN_FRONTEND=noninteractive "$@"; }

cp "$DEB" "$ROOT/tmp/"
cp "$SRC/captures/qemu-net.pcapng.gz" "$ROOT/tmp/"
deb=/tmp/${DEB##*/}
echo "== apt-get install $deb (its Depends and Recommends from $MIRROR)"
in_root apt-get install -y -q "$deb" >"$ROOT/tmp/apt.log" 2>&1 ||
	{ tail -n 30 "$ROOT/tmp/apt.log" >&2; exit 1; }
sed -n '/^The following NEW packages/,/^[^ ]/{/^The\|^  /p}' "$ROOT/tmp/apt.log"
# The checks' own tools, which the package does not need.
in_root apt-get install -y -q --no-install-recommends man-db systemd >/dev/null 2>&1

bad=0
check() { # check WHAT COMMAND...: run it in the root, say what it printed
	what=$1; shift
	echo "== $what: $*"
	if ! out=$(in_root "$@" 2>&1); then
		echo "$out"; echo "install-debian-root: FAIL: $what" >&2; bad=1; return 0
	fi
	echo "$out"
}
check "the program" vuproxy --version
if in_root dpkg -L vuproxy | grep -q '/man1/vuproxy'; then
	check "the man page" man -w vuproxy
else
	echo "== the man page: none in this package (no vup_man target in its build)"
fi
units=$(in_root dpkg -L vuproxy | sed -n 's|^/lib/systemd/system/\(vuproxy@\.[a-z]*\)$|\1|p')
if [ -n "$units" ]; then
	# A template is verified as an instance of it.
	# shellcheck disable=SC2046
	check "the units" systemd-analyze verify $(echo "$units" | sed 's/@\./@vm1./')
fi
check "Wireshark's global Lua folder" sh -c 'tshark -G folders | grep "Global Lua Plugins"'
check "the dissector, loaded without -X" sh -c 'tshark -G protocols | grep -i vuproxy'
check "a capture dissected" sh -c 'tshark -r /tmp/qemu-net.pcapng.gz -Y vhostuser \
	-T fields -e frame.number -e vhostuser.request_name | head -n 5'
check "the extcap launcher" sh -c 'ls /usr/lib/*/wireshark/extcap/vuproxy-extcap &&
	/usr/lib/*/wireshark/extcap/vuproxy-extcap --extcap-interfaces'
echo "== installed files: dpkg -L vuproxy"
in_root dpkg -L vuproxy
check "purge" sh -c 'apt-get purge -y -q vuproxy >/dev/null && ! dpkg -s vuproxy 2>/dev/null &&
	! ls -d /usr/bin/vuproxy /etc/vuproxy /usr/lib/*/wireshark/plugins/vuproxy.lua /lib/systemd/system/vuproxy@* 2>/dev/null'
[ $bad = 0 ] && echo "install-debian-root: OK"
exit $bad
