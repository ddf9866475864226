#!/bin/sh
# CI's package stage: build the .deb as a packager does (Release, prefix
# /usr, no test programs) into BUILD_DIR (default build-package), then
# check it without installing it (this machine's Wireshark must not load a
# second vuproxy.lua while the tests pass theirs with -X lua_script:):
# - every library the packaged binary loads is in a package its Depends
#   names (dpkg -S), so apt pulls in what it needs, and so is every
#   program the units run;
# - the packaged vuproxy runs (--version) and its dissector is what it
#   prints (wireshark-lua);
# - the package holds every file the install rules promise (README,
#   "Install"), in this machine's Wireshark folders.
# Each problem prints one "ci-package: FAIL:" line; the status is 1 if any.
# scripts/install-debian-root.sh installs the .deb into a fresh Debian 12.
set -eu
cd "$(dirname "$0")/.."
SRC=$(pwd)
BUILD_DIR=${BUILD_DIR:-build-package}
WERR=OFF; [ "${WERROR:-0}" = 1 ] && WERR=ON
bad=0
fail() { echo "ci-package: FAIL: $*" >&2; bad=1; }

# Debian's build flags, as debhelper's cmake build passes them (CPPFLAGS
# into CFLAGS: CMake reads no CPPFLAGS), with all hardening on: vuproxy
# runs as root and parses what its peers send.  _FORTIFY_SOURCE, the
# stack protector, RELRO and BIND_NOW; checked on the packaged binary.
export DEB_BUILD_MAINT_OPTIONS=hardening=+all
CFLAGS="$(dpkg-buildflags --get CPPFLAGS) $(dpkg-buildflags --get CFLAGS)"
LDFLAGS=$(dpkg-buildflags --get LDFLAGS)
echo "ci-package: Release build with prefix /usr into $BUILD_DIR"
echo "ci-package: CFLAGS=$CFLAGS LDFLAGS=$LDFLAGS"
cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release -DVUP_TESTS=OFF \
	-DCMAKE_INSTALL_PREFIX=/usr -DVUP_WERROR=$WERR \
	-DCMAKE_C_FLAGS="$CFLAGS" -DCMAKE_EXE_LINKER_FLAGS="$LDFLAGS" >/dev/null
cmake --build "$BUILD_DIR" -j"$(nproc)"
rm -f "$BUILD_DIR"/vuproxy_*.deb
(cd "$BUILD_DIR" && cpack -G DEB >/dev/null)
set -- "$BUILD_DIR"/vuproxy_*.deb
if [ $# != 1 ] || [ ! -f "$1" ]; then
	echo "ci-package: FAIL: cpack made no single vuproxy_*.deb" >&2
	exit 1
fi
DEB=$1
echo "ci-package: $DEB"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/vup-deb.XXXXXX")
trap 'rm -rf -- "$tmp"' EXIT
dpkg-deb -x "$DEB" "$tmp/root"
dpkg-deb -c "$DEB" | awk '{ print $NF }' | sed 's|^\./|/|; s|/$||' >"$tmp/files"
BIN=$tmp/root/usr/bin/vuproxy

# Depends: the names, alternatives and versions dropped.
depends=$(dpkg-deb -f "$DEB" Depends)
echo "ci-package: Depends: $depends"
echo "$depends" | sed 's/|/,/g' | tr ',' '\n' | sed 's/(.*)//; s/:.*//; s/[[:space:]]//g' |
	grep -v '^$' | sort -u >"$tmp/depends"
in_depends() { grep -qxF -- "$1" "$tmp/depends"; }
# owner PATH: the installed package that ships PATH; dpkg -S knows /usr/lib
# or /lib, whichever the package names on a merged-/usr system.
owner() {
	for p in "$1" "/usr$1" "${1#/usr}" "$(readlink -f "$1")"; do
		o=$(dpkg -S "$p" 2>/dev/null | head -n 1 | sed 's/[:,].*//')
		[ -z "$o" ] || { echo "$o"; return 0; }
	done
	return 1
}

# Each library ldd names: the package that ships it is in Depends.
if [ -x "$BIN" ]; then
	ldd "$BIN" >"$tmp/ldd" || fail "ldd $BIN failed"
	while read -r name arrow path _; do
		case $name in linux-vdso.so.*) continue ;; esac
		[ "$arrow" = "=>" ] || path=$name # the loader: "/lib64/ld-linux-x86-64.so.2 (0x...)"
		case $path in /*) ;; *) fail "ldd: $name not found"; continue ;; esac
		if ! pkg=$(owner "$path"); then
			fail "$name ($path) belongs to no installed package"
		elif ! in_depends "$pkg"; then
			fail "$name ($path) is in package $pkg, which Depends does not name"
		else
			echo "ci-package: $name: $pkg"
		fi
	done <"$tmp/ldd"
fi

# The hardening the flags asked for is in the packaged binary (what
# lintian's hardening-no-* tags look at).
if [ -x "$BIN" ]; then
	readelf -lW "$BIN" | grep -q GNU_RELRO || fail "$BIN: no RELRO"
	readelf -dW "$BIN" | grep -qE 'BIND_NOW|FLAGS_1.*NOW' || fail "$BIN: no BIND_NOW"
	readelf -hW "$BIN" | grep -q 'DYN (' || fail "$BIN: not PIE"
	readelf --dyn-syms -W "$BIN" | grep -q '__[a-z_]*_chk' ||
		fail "$BIN: no fortified function (_FORTIFY_SOURCE)"
	readelf --dyn-syms -W "$BIN" | grep -q '__stack_chk_fail' ||
		fail "$BIN: no stack protector"
fi

# The packaged program runs, and the packaged dissector is its own.
if version=$("$BIN" --version 2>&1); then
	echo "ci-package: packaged vuproxy --version: $version"
else
	fail "the packaged vuproxy --version failed: $version"
fi
lua=$(grep '/wireshark/.*/vuproxy\.lua$' "$tmp/files" || true)
if [ -n "$lua" ] && [ -x "$BIN" ] && "$BIN" wireshark-lua >"$tmp/lua" 2>&1; then
	cmp -s "$tmp/lua" "$tmp/root$lua" ||
		fail "$lua is not what the packaged vuproxy wireshark-lua prints (regenerate tools/wireshark/vuproxy.lua)"
fi

# The files the install rules promise.  The Wireshark folders are this
# machine's tshark's, when it has one.
expect() { grep -qxF -- "$1" "$tmp/files" || fail "the package has no $1"; }
lua_dir=/usr/lib/x86_64-linux-gnu/wireshark/plugins
extcap_dir=/usr/lib/x86_64-linux-gnu/wireshark/extcap
if command -v tshark >/dev/null 2>&1; then
	folders=$(tshark -G folders 2>/dev/null || true)
	d=$(echo "$folders" | sed -n 's/^Global Lua Plugins:[[:space:]]*//p')
	[ -z "$d" ] || lua_dir=$d
	d=$(echo "$folders" | sed -n 's/^\(Global \)\{0,1\}Extcap path:[[:space:]]*//p')
	[ -z "$d" ] || extcap_dir=$d
fi
expect /usr/bin/vuproxy
expect "$lua_dir/vuproxy.lua"
expect "$extcap_dir/vuproxy-extcap"
for f in "$SRC"/rules/*.yaml; do expect "/usr/share/vuproxy/rules/${f##*/}"; done
expect /lib/systemd/system/vuproxy@.service
expect /lib/systemd/system/vuproxy@.socket
expect /usr/share/doc/vuproxy/examples/vuproxy.conf.example
expect /etc/vuproxy
# The man page when the build makes one (the vup_man target).
[ ! -f "$BUILD_DIR/vuproxy.1" ] || expect /usr/share/man/man1/vuproxy.1.gz
# What the launcher and the units run: in the package, or in a package
# Depends names (the units' Exec*= lines: ExecStart, ExecReload, ...).
grep -qxF "VUPROXY='/usr/bin/vuproxy'" "$tmp/root$extcap_dir/vuproxy-extcap" 2>/dev/null ||
	fail "the packaged extcap launcher does not run /usr/bin/vuproxy"
for u in "$tmp"/root/lib/systemd/system/*; do
	[ -f "$u" ] || continue
	sed -n 's/^Exec[A-Za-z]*=[-@:+!]*\([^ ]*\).*/\1/p' "$u" >"$tmp/progs"
	while read -r prog; do
		case $prog in
		/*) ;;
		*) fail "${u##*/} runs $prog: not an absolute path"; continue ;;
		esac
		grep -qxF -- "$prog" "$tmp/files" && continue
		if pkg=$(owner "$prog"); then
			in_depends "$pkg" ||
				fail "${u##*/} runs $prog, from package $pkg, which Depends does not name"
		else
			fail "${u##*/} runs $prog, which neither the package nor an installed package holds"
		fi
	done <"$tmp/progs"
done

# The maintainer scripts, run in a DPKG_ROOT as dpkg --root runs them:
# remove keeps the service's traces, purge removes them (policy 10.8).
maint=$tmp/maint
mkdir -p "$maint/var/log/vuproxy" && touch "$maint/var/log/vuproxy/vm1.pcapng.gz"
dpkg-deb -e "$DEB" "$tmp/control"
for step in "postinst configure" "postrm remove"; do
	DPKG_ROOT=$maint sh -e "$tmp/control/${step% *}" "${step#* }" ||
		fail "$step failed in a DPKG_ROOT"
done
[ -f "$maint/var/log/vuproxy/vm1.pcapng.gz" ] || fail "postrm remove deleted the traces in /var/log/vuproxy"
DPKG_ROOT=$maint sh -e "$tmp/control/postrm" purge || fail "postrm purge failed in a DPKG_ROOT"
[ ! -e "$maint/var/log/vuproxy" ] || fail "postrm purge left /var/log/vuproxy (LogsDirectory=)"

if [ $bad = 0 ]; then
	echo "ci-package: OK ($(grep -c . "$tmp/files") paths in $DEB)"
fi
exit $bad
