#!/bin/sh
# units.sh verify|security|sandbox - dist/systemd/vuproxy@.{service,socket}
# checked without systemd as PID 1.
#
# verify    systemd-analyze verify on both units (instance vm1, ExecStart
#           pointed at the binary under test): no output, exit 0.  And on
#           broken copies (a misspelt key, a bad Type=, a missing binary,
#           an unknown syscall group): it must complain, or this check
#           could not fail.
# security  systemd-analyze security --offline=true: the exposure level is
#           at most THRESHOLD (below); the unit stripped of its sandbox is
#           over it, so the threshold means something.
# example   dist/vuproxy.conf.example, its paths moved to a temporary
#           directory, is a conf vuproxy runs with (--name vm1 --config,
#           as the unit starts it); so is it with every option it shows
#           commented out turned on (but --user): the example names no
#           option vuproxy does not take.
# sandbox   what the sandbox assumes of vuproxy and of the kernel:
#           - ProtectSystem=strict mounts / read-only: connect() to a unix
#             socket on a read-only mount works (bind() does not), so a
#             back-end's socket anywhere needs no ReadWritePaths;
#           - without CAP_DAC_OVERRIDE (not in CapabilityBoundingSet=)
#             root cannot connect to a socket file it may not write;
#           - every syscall vuproxy makes, under strace, in a
#             socket-activated session (tests/systemd) and in a tapped
#             session between real DPDK peers (tests/tap/dpdk_tap.sh:
#             guest memory mapped read-only from received memfds), is one
#             SystemCallFilter= allows; every socket is AF_UNIX
#             (RestrictAddressFamilies=); no mapping is writable and
#             executable (MemoryDenyWriteExecute=).
#
# Environment: VUPROXY (the binary), VUP_DIST (the dist/ folder),
# VUP_ACTIVATION (tests/systemd's systemd_activation), VUP_SRC (the
# source tree, for tests/tap/dpdk_tap.sh).
set -eu

# Exposure level (0.0 best .. 10.0) systemd-analyze may report at most.
THRESHOLD=1.5

fail() {
	echo "FAIL: $*" >&2
	exit 1
}

[ -x "${VUPROXY:-}" ] || fail "VUPROXY is not set (the binary under test)"
[ -d "${VUP_DIST:-}" ] || fail "VUP_DIST is not set"
command -v systemd-analyze >/dev/null || fail "systemd-analyze is missing (package systemd)"
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

# The units as an instance vm1, the service starting the binary under test.
instance() { # DIR
	mkdir -p "$1"
	sed "s#/usr/bin/vuproxy#$VUPROXY#" "$VUP_DIST/systemd/vuproxy@.service" \
		>"$1/vuproxy@vm1.service"
	cp "$VUP_DIST/systemd/vuproxy@.socket" "$1/vuproxy@vm1.socket"
}

verify_dir() { # DIR -> prints what systemd-analyze said, fails if anything
	out=$(cd "$1" && systemd-analyze verify --man=no \
		./vuproxy@vm1.service ./vuproxy@vm1.socket 2>&1) && [ -z "$out" ]
	rc=$?
	printf '%s\n' "$out"
	return $rc
}

# Run vuproxy --name vm1 --config CONF until it listens on SOCK, then
# SIGTERM it: it must start and stop cleanly.
run_conf() { # CONF SOCK LOG
	"$VUPROXY" --name vm1 --config "$1" >"$3" 2>&1 &
	pid=$!
	i=0
	while ! grep -q "listening on $2" "$3" && kill -0 $pid 2>/dev/null && [ $i -lt 200 ]; do
		sleep 0.05
		i=$((i + 1))
	done
	kill -TERM $pid 2>/dev/null
	rc=0
	wait $pid || rc=$?
	if ! grep -q "listening on $2" "$3" || [ $rc != 0 ]; then
		fail "vuproxy --config $1 (exit $rc): $(cat "$3")"
	fi
}

do_example() {
	ex=$VUP_DIST/vuproxy.conf.example
	grep -q '^frontend listen:/run/vuproxy/vm1.sock$' "$ex" ||
		fail "the example's front-end is not the socket unit's"
	moved() {
		sed -e "s#/run/vuproxy/#$TMP/run/#g" -e "s#/var/log/vuproxy#$TMP/log#g" \
			-e "s#/var/run/openvswitch/#$TMP/#g" \
			-e "s#/etc/vuproxy/vm1-rules.yaml#$VUP_SRC/rules/slow-mem-table.yaml#" "$ex"
	}
	mkdir -p "$TMP/run" "$TMP/log"
	moved >"$TMP/as-is.conf"
	echo "control $TMP/run/vm1.ctl" >>"$TMP/as-is.conf"
	run_conf "$TMP/as-is.conf" "$TMP/run/vm1.sock" "$TMP/as-is.log"
	echo "example: runs as shipped"
	moved | sed -e '/^#user /d' -e 's/^#\(-\{0,1\}[a-z][a-z-]* \)/\1/' >"$TMP/all.conf"
	echo "control $TMP/run/vm1.ctl" >>"$TMP/all.conf"
	n=$(grep -c '^-\{0,1\}[a-z]' "$TMP/all.conf")
	[ "$n" -ge 12 ] || fail "only $n options turned on: $(cat "$TMP/all.conf")"
	run_conf "$TMP/all.conf" "$TMP/run/vm1.sock" "$TMP/all.log"
	[ -f "$TMP/log/vm1.pcapng.gz" ] || fail "-w from the example wrote nothing"
	echo "example: runs with its $n options on"
}

do_verify() {
	instance "$TMP/good"
	verify_dir "$TMP/good" || fail "systemd-analyze verify complains about the units"
	grep -q "^ExecStart=$VUPROXY --name %i --config /etc/vuproxy/%i.conf$" \
		"$TMP/good/vuproxy@vm1.service" || fail "ExecStart= is not the one the contract names"
	n=0
	for mut in 's/^Type=notify/Type=notfy/' \
		's/^ProtectSystem=strict/ProtectSytem=strict/' \
		"s#^ExecStart=[^ ]*#ExecStart=$TMP/no-such-vuproxy#" \
		's/^SystemCallFilter=@system-service/SystemCallFilter=@system-servic/' \
		's/^\[Service\]/[Servce]/'; do
		n=$((n + 1))
		instance "$TMP/bad$n"
		sed -i "$mut" "$TMP/bad$n/vuproxy@vm1.service"
		cmp -s "$TMP/good/vuproxy@vm1.service" "$TMP/bad$n/vuproxy@vm1.service" &&
			fail "mutation '$mut' changed nothing: the unit moved on"
		if verify_dir "$TMP/bad$n" >"$TMP/bad$n.out"; then
			fail "systemd-analyze verify accepts the unit broken by '$mut'"
		fi
		echo "broken by '$mut': $(head -n1 "$TMP/bad$n.out")"
	done
	# The socket: a typo there is caught too.
	instance "$TMP/badsock"
	sed -i 's/^SocketMode=/SockeMode=/' "$TMP/badsock/vuproxy@vm1.socket"
	verify_dir "$TMP/badsock" >/dev/null && fail "a broken socket unit passes"
	echo "verify: both units clean; $((n + 1)) broken copies refused"
}

exposure() { # DIR -> the overall exposure level, e.g. 1.3
	(cd "$1" && systemd-analyze security --offline=true --man=no \
		./vuproxy@vm1.service 2>&1) | sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p'
}

do_security() {
	instance "$TMP/good"
	level=$(exposure "$TMP/good")
	[ -n "$level" ] || fail "no exposure level in systemd-analyze security's output"
	echo "security: exposure level $level (threshold $THRESHOLD)"
	# --threshold= counts in tenths (0..100) of the level shown.
	t=$(echo "$THRESHOLD * 10 / 1" | bc)
	(cd "$TMP/good" && systemd-analyze security --offline=true --man=no \
		--threshold="$t" ./vuproxy@vm1.service >/dev/null 2>&1) ||
		fail "exposure $level is over the threshold $THRESHOLD"
	[ "$(echo "$level <= $THRESHOLD" | bc)" = 1 ] || fail "exposure $level > $THRESHOLD"
	# Without the sandbox (everything between NoNewPrivileges= and
	# SystemCallErrorNumber=) the same threshold fails.
	instance "$TMP/bare"
	sed -i '/^NoNewPrivileges=/,/^SystemCallErrorNumber=/d' "$TMP/bare/vuproxy@vm1.service"
	bare=$(exposure "$TMP/bare")
	echo "security: without the sandbox: $bare"
	(cd "$TMP/bare" && systemd-analyze security --offline=true --man=no \
		--threshold="$t" ./vuproxy@vm1.service >/dev/null 2>&1) &&
		fail "the threshold also passes a unit without its sandbox"
	return 0
}

# The syscalls in a group, its nested groups expanded.
expand() {
	systemd-analyze syscall-filter "$1" | sed 1d | sed 's/^ *//' |
		grep -v -e '^#' -e '^$' | while read -r s; do
		case $s in @*) expand "$s" ;; *) echo "$s" ;; esac
	done
}

do_sandbox() {
	command -v python3 >/dev/null || fail "python3 is missing"
	command -v unshare >/dev/null || fail "unshare is missing (util-linux)"
	command -v setpriv >/dev/null || fail "setpriv is missing (util-linux)"
	command -v strace >/dev/null || fail "strace is missing"
	[ "$(id -u)" = 0 ] || fail "the sandbox checks need root (mount namespaces, capabilities)"
	ro=$TMP/ro
	mkdir -p "$ro"
	# A listener (the back-end's socket), then a read-only bind mount over
	# its directory as ProtectSystem=strict makes, in a mount namespace.
	python3 - "$ro/be.sock" <<'EOF' &
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(20)
s.bind(sys.argv[1])
s.listen(4)
c, _ = s.accept(); c.send(b"ok")
EOF
	srv=$!
	i=0
	while [ ! -S "$ro/be.sock" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
	chmod 0600 "$ro/be.sock"
	out=$(unshare -m sh -c "mount --bind '$ro' '$ro' && mount -o remount,bind,ro '$ro' '$ro' &&
		python3 - '$ro' <<'EOF'
import errno, socket, sys
d = sys.argv[1]
try:
    open(d + '/file', 'w')
    print('write: allowed')
except OSError as e:
    print('write:', errno.errorcode[e.errno])
s = socket.socket(socket.AF_UNIX)
s.connect(d + '/be.sock')
print('connect:', s.recv(2).decode())
t = socket.socket(socket.AF_UNIX)
try:
    t.bind(d + '/new.sock')
    print('bind: allowed')
except OSError as e:
    print('bind:', errno.errorcode[e.errno])
EOF" 2>&1) || true
	wait $srv || true
	echo "$out" | sed 's/^/read-only mount: /'
	echo "$out" | grep -qx 'write: EROFS' || fail "the mount is not read-only: $out"
	echo "$out" | grep -qx 'connect: ok' || fail "connect on a read-only mount failed: $out"
	echo "$out" | grep -qx 'bind: EROFS' || fail "bind on a read-only mount: $out"
	# Root without CAP_DAC_OVERRIDE, a socket of another user's, 0600.
	python3 -c "import socket; socket.socket(socket.AF_UNIX).bind('$TMP/other.sock')"
	chown 65534 "$TMP/other.sock"
	chmod 0600 "$TMP/other.sock"
	chmod 0755 "$TMP"
	dac=$(setpriv --bounding-set=-dac_override,-dac_read_search --inh-caps=-all \
		python3 -c "
import errno, socket
try:
    socket.socket(socket.AF_UNIX).connect('$TMP/other.sock')
except OSError as e:
    print(errno.errorcode[e.errno])" 2>&1)
	echo "without CAP_DAC_OVERRIDE, another user's 0600 socket: $dac"
	[ "$dac" = EACCES ] || fail "expected EACCES, got: $dac"

	# vuproxy under strace: -D keeps its pid (LISTEN_PID names it).
	[ -x "${VUP_ACTIVATION:-}" ] || fail "VUP_ACTIVATION is not set"
	mkdir -p "$TMP/st"
	cat >"$TMP/vuproxy-strace" <<EOF
#!/bin/sh
exec strace -D -f -qq -ff -o "$TMP/st/trace" "$VUPROXY" "\$@"
EOF
	chmod +x "$TMP/vuproxy-strace"
	VUPROXY=$TMP/vuproxy-strace "$VUP_ACTIVATION" >"$TMP/activation.log" 2>&1 ||
		fail "systemd_activation under strace: $(tail -n 20 "$TMP/activation.log")"
	VUPROXY=$TMP/vuproxy-strace E2E_TRAFFIC_SECS=1 \
		bash "$VUP_SRC/tests/tap/dpdk_tap.sh" split 256 default burst >"$TMP/tap.log" 2>&1 ||
		fail "dpdk_tap.sh under strace: $(tail -n 20 "$TMP/tap.log")"
	cat "$TMP"/st/trace.* >"$TMP/all"
	grep -q 'mmap(NULL, [0-9]*, PROT_READ, MAP_SHARED' "$TMP/all" ||
		fail "no read-only shared mapping of guest memory under strace: the tap did not run"
	{
		expand @system-service
		systemd-analyze syscall-filter @default | sed 1d | sed 's/^ *//' | grep -v -e '^#' -e '^$'
	} | sort -u >"$TMP/allowed-all"
	{ expand @resources; expand @obsolete; } | sort -u >"$TMP/denied"
	comm -23 "$TMP/allowed-all" "$TMP/denied" >"$TMP/allowed"
	sed -n 's/^\([a-z_0-9]*\)(.*/\1/p' "$TMP/all" | sort -u >"$TMP/used"
	echo "syscalls vuproxy made: $(wc -l <"$TMP/used")"
	bad=$(comm -23 "$TMP/used" "$TMP/allowed" | tr '\n' ' ')
	[ -z "$bad" ] || fail "syscalls SystemCallFilter= refuses: $bad"
	fam=$(sed -n 's/^socket\(pair\)\{0,1\}(\(AF_[A-Z0-9]*\).*/\2/p' "$TMP/all" | sort -u | tr '\n' ' ')
	[ "$fam" = "AF_UNIX " ] || fail "socket families other than AF_UNIX: $fam"
	if grep -E '^(mmap|mprotect|pkey_mprotect)\(.*PROT_EXEC' "$TMP/all" | grep -q PROT_WRITE; then
		fail "a writable and executable mapping: $(grep -E 'PROT_EXEC' "$TMP/all" | grep PROT_WRITE | head -n 3)"
	fi
	if grep -E '^(mprotect|pkey_mprotect)\(.*PROT_EXEC' "$TMP/all" | grep -q .; then
		fail "mprotect adds PROT_EXEC: $(grep -E '^mprotect\(.*PROT_EXEC' "$TMP/all" | head -n 3)"
	fi
	echo "sandbox: every syscall allowed, AF_UNIX only, no W+X mapping"
}

case ${1:-} in
example) do_example ;;
verify) do_verify ;;
security) do_security ;;
sandbox) do_sandbox ;;
*) fail "usage: $0 example|verify|security|sandbox" ;;
esac
