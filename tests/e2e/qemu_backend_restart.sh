#!/bin/bash
# qemu_backend_restart.sh - end-to-end: the back-end restarts under a
# running VM.
#
#   QEMU (TCG guest, virtio-net-pci, chardev client with reconnect=1)
#     -> vuproxy --frontend listen: --backend connect: (--backend-wait: default, 0)
#     -> dpdk-testpmd net_vhost (icmpecho)
#
# The guest prints "LAB: tick K" every 0.5 s and pings testpmd every 0.5 s
# (mkinitramfs.sh lab.watch).  Once its pings are answered, testpmd is
# SIGKILLed; OUTAGE s later a new testpmd takes the socket.  Meanwhile
# QEMU reconnects every second and sends GET_FEATURES, whose reply it
# reads with its main loop stopped: vuproxy must close each of those
# front-ends at once, as the refused connect would without vuproxy, or
# the guest freezes until the back-end is back.  PASS needs:
#   - the guest ran through the outage: at least MIN_TICKS ticks (default
#     OUTAGE, half the guest's rate) on the console between the kill and
#     the restart, and no gap over MAX_GAP s between two of them (guest
#     clock);
#   - QEMU reconnected during the outage, and vuproxy closed each of those
#     front-ends within 1 s of accepting it (its log's timestamps), with an
#     error line naming the session and the refused connect;
#   - the device came back: the new testpmd read SET_MEM_TABLE and the
#     guest's pings are answered again within RECOVER s of the restart.
# It prints what it measured: close latency, ticks during the outage, time
# from the restart to the first answered ping.
#
# Needs: as qemu_net.sh (qemu-system-x86, dpdk-dev, busybox-static,
# linux-image-amd64, cpio, gzip).  Env: VUPROXY (required); OUTAGE=6 (s);
# MIN_TICKS, MAX_GAP=3, RECOVER=30; KERNEL, KVER, BOOT_TIMEOUT=120, KEEP=1
# as qemu_net.sh.  Run by hand: VUPROXY=build/vuproxy tests/e2e/qemu_backend_restart.sh
set -u
. "$(cd "$(dirname "$0")" && pwd)/qemu_lib.sh"

OUTAGE=${OUTAGE:-6}
MIN_TICKS=${MIN_TICKS:-$OUTAGE}
MAX_GAP=${MAX_GAP:-3}
RECOVER=${RECOVER:-30}
BOOT_TIMEOUT=${BOOT_TIMEOUT:-120}
# shellcheck disable=SC2034 # LIMIT, MEM: read by qemu_lib.sh
LIMIT=240 MEM=256M # LIMIT: hard bound on every process we start (s)
REPLY='bytes from 10\.0\.0\.1'

qe_init qemu-backend-restart
qe_need_vuproxy
qe_need_cmd qemu-system-x86_64 dpdk-testpmd timeout awk
find_kernel
T_START=$(now)
build_initramfs "$W/initramfs.cpio.gz"

FE=$W/fe.sock BE=$W/be.sock
# shellcheck disable=SC2034 # PREFIX: read by start_testpmd
PREFIX=vup-qbr-$$-$RANDOM

# count REGEX: lines of the guest console matching REGEX.
count() { grep -cE -- "$1" "$GUEST" 2>/dev/null || true; }
# wait_count REGEX N SECS: until more than N lines match; 1 after SECS.
wait_count() {
	local end=$((${EPOCHREALTIME/./} / 1000 + $3 * 1000))
	until [ "$(count "$1")" -gt "$2" ]; do
		kill -0 "$Q_PID" 2>/dev/null || qe_fail "QEMU exited (see the guest console)"
		[ $((${EPOCHREALTIME/./} / 1000)) -ge "$end" ] && return 1
		sleep 0.1
	done
}

start_testpmd testpmd1 "$BE"
start_vuproxy "listen:$FE" "connect:$BE"

net_guest guest "path=$FE,reconnect=1" lab.watch=120
wait_count "$REPLY" 2 60 || qe_fail "the guest's pings were not answered before the restart"

# The back-end crashes (its socket file stays, nobody listens on it).
stop "$TP_PID" KILL 10 2>/dev/null # bash would report "Killed"
TICKS0=$(count 'LAB: tick ')
T_KILL=$(now)
wait_log "$VUP_LOG" ' s1 closed: ' 10 "$VUP_PID" || qe_fail "vuproxy did not close s1 after the back-end died"
sleep "$OUTAGE"
kill -0 "$Q_PID" 2>/dev/null || qe_fail "QEMU exited during the outage"
TICKS1=$(count 'LAB: tick ')
REPLIES1=$(count "$REPLY")
OUT_S=$(since "$T_KILL")

# A new back-end: DPDK does not replace a socket file, so remove the
# stale one first, as whoever restarts it would.
rm -f -- "$BE"
T_RESTART=$(now)
start_testpmd testpmd2 "$BE"
wait_count "$REPLY" "$REPLIES1" "$RECOVER" ||
	qe_fail "the guest's pings were not answered within $RECOVER s of the restart"
BACK_S=$(since "$T_RESTART")
TICKS2=$(count 'LAB: tick ')

stop "$Q_PID" TERM 15 || echo "note: QEMU needed SIGKILL"
stop_vuproxy
stop "$TP_PID" INT 15 || echo "note: dpdk-testpmd needed SIGKILL"

# --- verdict ---
# The guest's clock at ticks TICKS0-1 .. TICKS1: the outage, the tick
# before it and the one after (a QEMU stopped during the outage shows
# there, when the guest runs again).
GAP=$(tr -d '\r' <"$GUEST" | awk -v a=$((TICKS0 - 1)) -v b="$TICKS1" '
	$1 == "LAB:" && $2 == "tick" && $3 >= a && $3 <= b {
		t = $5; sub(/s$/, "", t)
		if (n++ && t - prev > max) max = t - prev
		prev = t
	}
	END { printf "%.2f", max }')
DURING=$((TICKS1 - TICKS0))
echo "outage: ${OUT_S} s without a back-end; the guest printed $DURING ticks meanwhile" \
	"(at most ${GAP} s apart on its clock), $((TICKS2 - TICKS1)) more until its pings were answered again"
[ "$DURING" -ge "$MIN_TICKS" ] ||
	qe_fail "the guest printed $DURING ticks in the ${OUT_S} s outage, expected at least $MIN_TICKS: QEMU stopped (waiting for a reply?)"
awk -v g="$GAP" -v m="$MAX_GAP" 'BEGIN { exit !(g <= m) }' ||
	qe_fail "the guest's ticks were up to $GAP s apart during the outage (at most $MAX_GAP): QEMU stopped for a while"

# Each front-end QEMU brought during the outage: accepted, refused (one
# error line), closed; "HH:MM:SS.us sN ..." -> seconds from accept to close.
secs() { awk -F: '{ printf "%.6f", $1 * 3600 + $2 * 60 + $3 }' <<<"$1"; }
REFUSED=$(grep -cE "^[0-9:.]+ error: s[0-9]+ back-end connect:$BE: Connection refused \(1 attempt in [0-9]+ ms, --backend-wait 0\); closing session" "$VUP_LOG" || true)
[ "$REFUSED" -ge 1 ] || qe_fail "no front-end was refused during the outage: did QEMU reconnect?"
WORST=0 CHECKED=0
while read -r s; do
	acc=$(awk -v s="$s" '$2 == s && $3 == "front-end" && $4 == "accepted" { print $1; exit }' "$VUP_LOG")
	cls=$(awk -v s="$s" '$2 == s && $3 == "closed:" { print $1; exit }' "$VUP_LOG")
	if [ -z "$acc" ] || [ -z "$cls" ]; then
		qe_fail "$s: no accept or close line in vuproxy's log"
	fi
	WORST=$(awk -v a="$(secs "$acc")" -v c="$(secs "$cls")" -v w="$WORST" \
		'BEGIN { d = (c - a) * 1000; printf "%.3f", (d > w ? d : w) }')
	CHECKED=$((CHECKED + 1))
done < <(awk '$2 == "error:" && $4 == "back-end" { print $3 }' "$VUP_LOG")
# "HH:MM:SS.us error: sN back-end connect:...": every refused front-end
# was timed.
[ "$CHECKED" = "$REFUSED" ] || qe_fail "timed $CHECKED refused front-ends of $REFUSED"
echo "vuproxy refused $REFUSED front-ends while the back-end was down, each closed at most $WORST ms after its accept"
awk -v w="$WORST" 'BEGIN { exit !(w != "" && w + 0 < 1000) }' ||
	qe_fail "a front-end was closed $WORST ms after its accept, expected under 1 s"
grep -q 'read message VHOST_USER_SET_MEM_TABLE' "$W/testpmd2.log" ||
	qe_fail "the new testpmd never read SET_MEM_TABLE"
# shellcheck disable=SC2154 # T_* are set by qe_milestone
echo "timeline: eth0 up +$T_net s after QEMU start; pings answered again $BACK_S s after the restart"
echo "$VUP_SUMMARY"
echo "PASS: qemu_backend_restart (guest ran through a ${OUT_S} s back-end outage, device back $BACK_S s after the restart; whole test $(since "$T_START") s)"
