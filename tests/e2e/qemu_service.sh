#!/bin/bash
# qemu_service.sh - a VM set up as README's "Run as a service" says, with
# the units in dist/systemd: a conf file in the form of README's, the
# service's ExecStart line taken from vuproxy@.service, its socket from
# vuproxy@.socket's ListenStream, held by systemd's own
# systemd-socket-activate (there is no systemd as PID 1 here), and QEMU
# given README's -chardev line.  QEMU connects first; that connection
# starts vuproxy, which takes the socket (LISTEN_FDS) and serves it.
# PASS: the guest pings testpmd through it, `vuproxy ctl NAME sessions`
# (the unit's instance name) shows the session, SIGTERM ends vuproxy
# with status 0 and the socket file left for systemd, and the trace the
# conf asked for holds the set-up, with no error finding.
#
# Needs what e2e_qemu_net needs, and systemd (systemd-socket-activate).
# Env: VUPROXY (required), KEEP=1.
set -u
. "$(cd "$(dirname "$0")" && pwd)/qemu_lib.sh"

PINGS=${PINGS:-5}
BOOT_TIMEOUT=${BOOT_TIMEOUT:-120}
LIMIT=240
MEM=256M
DIST=$(cd "$(dirname "$0")/../../dist/systemd" && pwd)

qe_init qemu-service
qe_need_vuproxy
qe_need_cmd qemu-system-x86_64 dpdk-testpmd systemd-socket-activate timeout
[ "$(id -u)" = 0 ] || qe_fail "this test needs root (the unit's sockets are in /run/vuproxy)"
find_kernel
build_initramfs "$W/initramfs.cpio.gz"

NAME=vuptest-$$
BE=$W/be.sock
TRACE=$W/$NAME.pcapng.gz
PREFIX=vup-qsvc-$$-$RANDOM

# The units' lines, with the instance name, and the binary and the conf
# folder moved to the build's and the scratch directory's.
EXEC=$(sed -n 's/^ExecStart=//p' "$DIST/vuproxy@.service")
SOCK=$(sed -n 's/^ListenStream=//p' "$DIST/vuproxy@.socket")
[ -n "$EXEC" ] && [ -n "$SOCK" ] || qe_fail "no ExecStart= or ListenStream= in $DIST"
EXEC=${EXEC//%i/$NAME}
EXEC=${EXEC//\/usr\/bin\/vuproxy/$VUPROXY}
EXEC=${EXEC//\/etc\/vuproxy\//$W/etc/}
SOCK=${SOCK//%i/$NAME}
case $SOCK in /run/vuproxy/"$NAME".sock) ;; *) qe_fail "the socket unit listens on $SOCK, README says /run/vuproxy/NAME.sock" ;; esac
mkdir -p "$W/etc" /run/vuproxy
CLEANUP_EXTRA+=("$SOCK" "/run/vuproxy/$NAME.ctl")
echo "ExecStart: $EXEC"
echo "ListenStream: $SOCK"

# README's conf for a VM, with testpmd as the back-end.
cat >"$W/etc/$NAME.conf" <<EOF
# /etc/vuproxy/$NAME.conf
frontend listen:$SOCK
backend connect:$BE
-w $TRACE
ring 64
EOF

start_testpmd testpmd "$BE"

# systemd's part: hold the socket, start the service at the first
# connection with LISTEN_FDS/LISTEN_PID (the service becomes this pid).
VUP_LOG=$W/vuproxy.log
qe_log vuproxy "$VUP_LOG"
# shellcheck disable=SC2086 # the unit's ExecStart, split as systemd does (no quotes in it)
spawn VUP_PID "$LIMIT" TERM "$VUP_LOG" systemd-socket-activate -l "$SOCK" $EXEC
for _ in $(seq 100); do [ -S "$SOCK" ] && break; sleep 0.05; done
[ -S "$SOCK" ] || qe_fail "systemd-socket-activate did not listen on $SOCK"
grep -q 'listening' "$VUP_LOG" && qe_fail "vuproxy started before any connection"

# README's QEMU line (TCG here, no -enable-kvm).
net_guest guest "path=$SOCK,reconnect=1" "lab.pings=$PINGS lab.interval=0.2"
"$VUPROXY" ctl "$NAME" sessions >"$W/ctl.txt" 2>&1 || qe_fail "vuproxy ctl $NAME sessions: $(cat "$W/ctl.txt")"
echo "vuproxy ctl $NAME sessions:"
sed 's/^/  /' "$W/ctl.txt"
grep -qE '^ *1 ' "$W/ctl.txt" || qe_fail "ctl shows no session 1"
qe_milestone ping 'LAB: ping rc=' $((PINGS * 3 + 30)) "the guest's ping never finished"
qe_milestone off 'LAB: DONE' 30 "the guest did not finish"
wait_exit "$Q_PID" 30 || qe_fail "QEMU did not exit within 30 s of the guest powering off"
STATS=$(grep -E '[0-9]+ packets transmitted, [0-9]+ packets received' "$GUEST" | tr -d '\r' | tail -1)
[ "$STATS" = "$PINGS packets transmitted, $PINGS packets received, 0% packet loss" ] ||
	qe_fail "the guest's pings through the service: '$STATS'"

grep -q "listening on $SOCK (socket from systemd" "$VUP_LOG" ||
	qe_fail "vuproxy did not say it took the socket from systemd"
stop "$VUP_PID" TERM 10 || qe_fail "vuproxy did not exit within 10 s of SIGTERM"
[ "$WAIT_RC" = 0 ] || qe_fail "vuproxy exited with status $WAIT_RC after SIGTERM"
[ -S "$SOCK" ] || qe_fail "vuproxy removed systemd's socket $SOCK"
stop "$TP_PID" INT 15 || echo "note: dpdk-testpmd needed SIGKILL"
"$VUPROXY" dump "$TRACE" >"$W/dump.txt" 2>&1 || qe_fail "vuproxy dump of the conf's trace failed"
grep -q 'SET_MEM_TABLE' "$W/dump.txt" || qe_fail "the trace holds no SET_MEM_TABLE"
e2e_check_trace "$TRACE"
echo "PASS: a VM through vuproxy as a socket-activated service: $STATS"
