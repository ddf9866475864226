#!/bin/bash
# qemu_replay.sh record | capture FILE - `vuproxy replay` with QEMU as a
# real peer: QEMU 7.2 virtio-net-pci over vhost-user (TCG guest, Debian
# kernel, busybox initramfs built by ../e2e/mkinitramfs.sh) and
# dpdk-testpmd net_vhost (icmpecho, --no-huge) as the back-end.
#
#   record        1. records a QEMU session through `vuproxy -w`: the guest
#                    brings eth0 up and pings testpmd once (answered);
#                    QEMU exits when the guest powers off, so the record
#                    holds the whole session (42 requests: GET_QUEUE_NUM,
#                    SET_BACKEND_REQ_FD, SET_VRING_ERR, SET_STATUS, the
#                    teardown's GET_VRING_BASE...).
#                 2. replays it --as back-end for a fresh QEMU with the same
#                    command line: the guest's virtio-net probes and eth0
#                    comes up ("LAB: NET-READY"); its one ping gets no
#                    answer (no data plane: nothing reads the kick
#                    eventfd); every request QEMU sends is matched with
#                    the record, exit 0 and "identical" with --ignore
#                    $BE_IGNORE only (see below).
#                 3. replays it --as front-end against a fresh testpmd,
#                    without --ignore: exit 0, "identical" (the recorded
#                    GET_VRING_BASE answers, checked not 0, are where the
#                    guest's ARP and ping left the rings; the replay
#                    expects the base it set, 0: see below), the back-end
#                    logs "virtio is now ready for processing" and it read
#                    the same vhost-user messages, in the same order, as
#                    the recorded back-end.
#                 With REPLAY_SAVE=PATH the recorded trace is copied there
#                 (how captures/qemu-net.pcapng.gz was made).
#   capture FILE  a committed QEMU capture: step 2 without --ignore: exit
#                 1 (0 only with ASLR off), every difference one of the
#                 fields ignored in `record` (below), and they moved
#                 consistently: each vring's desc/avail/used keep their
#                 recorded distances (the same ring layout), and a ring's
#                 guest-physical address moved by its host address's move
#                 minus the region's; then step 3 as in `record`.
#
# What legitimately differs, and is ignored by name only:
# - --as back-end: QEMU mmaps guest RAM wherever mmap(2) puts it (ASLR),
#   so SET_MEM_TABLE's region uaddr and SET_VRING_ADDR's desc/used/avail
#   (host virtual addresses inside that mapping) change on every run; and
#   the guest kernel allocates the rings where its page allocator has room
#   at that moment of a TCG boot, so SET_VRING_ADDR's log (the used ring's
#   guest-physical address) moves too (seen: 0x29eb240 in one run,
#   0x2a4b240 in the next).  The region's gpa, size and mmap_offset, the
#   vrings' index and flags, and every other request are still compared;
#   `capture` mode checks that what moved moved consistently (below).
# - --as front-end: nothing.  The recorded guest's traffic (ARP, the ping)
#   moved the ring indices, so the recorded back-end answered
#   GET_VRING_BASE with num > 0; a replay has no data plane, and it
#   expects (and the fresh back-end answers) the base it set, 0.
#
# Needs: qemu-system-x86 (qemu-system-x86_64), dpdk-dev (dpdk-testpmd),
# busybox-static, linux-image-amd64 (guest kernel + modules), cpio, gzip.
# Env: VUPROXY (required); KERNEL, KVER; BOOT_TIMEOUT=120; KEEP=1 keeps the
# scratch directory.  A missing program fails; nothing is skipped.
# Run by hand: VUPROXY=build/vuproxy tests/replay/qemu_replay.sh record
set -u
# shellcheck source-path=SCRIPTDIR source=../e2e/qemu_lib.sh
. "$(cd "$(dirname "$0")" && pwd)/../e2e/qemu_lib.sh"

usage() {
	echo "usage: VUPROXY=path/to/vuproxy $0 record | capture FILE" >&2
	exit 2
}
MODE=${1:-}
case $MODE in
record) [ $# = 1 ] || usage ;;
capture)
	[ $# = 2 ] || usage
	CAPTURE=$(cd "$(dirname "$2")" && pwd)/$(basename "$2")
	;;
*) usage ;;
esac

BOOT_TIMEOUT=${BOOT_TIMEOUT:-120}
LIMIT=240 # hard bound on every process we start (s)
MEM=256M
READY_MSG="virtio is now ready for processing"
# See the header: QEMU's host virtual addresses, nothing else.
BE_IGNORE=SET_MEM_TABLE.uaddr,SET_VRING_ADDR.desc,SET_VRING_ADDR.used,SET_VRING_ADDR.avail,SET_VRING_ADDR.log

qe_init "qemu-replay-$MODE"
qe_need_vuproxy
qe_need_cmd qemu-system-x86_64 dpdk-testpmd timeout awk grep sed
find_kernel
T_START=$(now)
build_initramfs "$W/initramfs.cpio.gz"
PREFIX=vup-qrp-$$-$RANDOM

# vhost_msgs LOG: the vhost-user messages testpmd read, in order, one line.
vhost_msgs() { grep -o 'read message VHOST_USER_[A-Z_]*' "$1" | sed 's/read message VHOST_USER_//' | tr '\n' ' '; }

# run_guest NAME SOCK: QEMU (the same command line every time) connects to
# SOCK; the guest brings eth0 up, pings 10.0.0.1 once (-W 2: at most 2 s
# without an answer), powers off.  Waits until QEMU has exited (status 0);
# console in $W/NAME.log ($GUEST), T_init / T_net / T_off.
run_guest() {
	net_guest "$1" "path=$2" lab.pings=1
	qe_milestone ping 'LAB: ping rc=' 30 "$1: the guest's ping never finished"
	qe_milestone off 'LAB: DONE' 30 "$1: the guest did not finish"
	wait_exit "$Q_PID" 30 || qe_fail "$1: QEMU did not exit within 30 s of the guest powering off"
	[ "$WAIT_RC" = 0 ] || qe_fail "$1: QEMU exited with status $WAIT_RC"
	# shellcheck disable=SC2154 # T_* are set by qe_milestone
	echo "$1: eth0 up +$T_net s, ping done +$T_ping s, powered off +$T_off s after QEMU start"
}

# ping_stats: "TX RX" of the guest's ping.
ping_stats() {
	grep -E '[0-9]+ packets transmitted, [0-9]+ packets received' "$GUEST" | tr -d '\r' | tail -1 |
		sed -E 's/^([0-9]+) packets transmitted, ([0-9]+) packets received.*/\1 \2/'
}

# replay_be TRACE NAME [REPLAY OPTIONS...]: `replay --as back-end` serves
# a fresh QEMU guest; RP_RC, the replay's stdout+stderr in $W/NAME.out.
replay_be() {
	local trace=$1 name=$2 sock=$W/$2.sock
	shift 2
	RP_OUT=$W/$name.out
	qe_log "$name: replay --as back-end" "$RP_OUT"
	spawn RP_PID "$LIMIT" INT "$RP_OUT" "$VUPROXY" replay "$trace" --as back-end \
		--frontend "listen:$sock" "$@"
	wait_log "$RP_OUT" 'waiting for a front-end' 10 "$RP_PID" ||
		qe_fail "$name: the replay did not listen on $sock"
	[ -S "$sock" ] || qe_fail "$name: the replay says it listens, but $sock is no socket"
	run_guest "$name-guest" "$sock"
	read -r G_TX G_RX <<<"$(ping_stats)"
	# No data plane: the replay never reads the kick eventfd, never uses
	# a buffer; the guest's one ping goes unanswered.
	[ "${G_TX:-}" = 1 ] && [ "${G_RX:-}" = 0 ] ||
		qe_fail "$name: the guest's ping says '${G_TX:-?} transmitted, ${G_RX:-?} received' against a replay (want 1, 0)"
	# QEMU has closed the connection: the replay ends by itself.
	wait_exit "$RP_PID" 20 || qe_fail "$name: the replay did not exit within 20 s of QEMU closing the connection"
	RP_RC=$WAIT_RC
	RP_SUMMARY=$(grep '^replay: session ' "$RP_OUT" | tail -1)
	echo "$name: replay --as back-end exited $RP_RC: $RP_SUMMARY"
	[ -n "$RP_SUMMARY" ] || qe_fail "$name: the replay printed no summary"
	# Every request QEMU sent was matched with a recorded one.
	echo "$RP_SUMMARY" | grep -q " $NREQ received, $NREQ compared, " ||
		qe_fail "$name: QEMU did not send the $NREQ recorded requests: $RP_SUMMARY"
}

# replay_fe TRACE NAME [REPLAY OPTIONS...]: `replay --as front-end`
# against a fresh testpmd; RP_RC, stdout in $W/NAME.out, testpmd's log
# $W/NAME-be.log.
replay_fe() {
	local trace=$1 name=$2 sock=$W/$2.sock
	shift 2
	RP_OUT=$W/$name.out
	qe_log "$name: replay --as front-end" "$RP_OUT"
	qe_log "$name: replay --as front-end, stderr" "$W/$name.err"
	start_testpmd "$name-be" "$sock"
	RP_RC=0
	timeout -k 5 60 "$VUPROXY" replay "$trace" --as front-end --backend "connect:$sock" "$@" \
		>"$RP_OUT" 2>"$W/$name.err" || RP_RC=$?
	stop "$TP_PID" INT 15 || echo "note: dpdk-testpmd $name-be needed SIGKILL"
	RP_SUMMARY=$(grep '^replay: session ' "$RP_OUT" | tail -1)
	echo "$name: replay --as front-end exited $RP_RC: $RP_SUMMARY"
	grep -q "$READY_MSG" "$W/$name-be.log" ||
		qe_fail "$name: the replayed session did not make the back-end ready ('$READY_MSG' not in its log)"
}

expect_identical() { # NAME
	[ "$RP_RC" = 0 ] || qe_fail "$1: the replay exited $RP_RC, want 0"
	echo "$RP_SUMMARY" | grep -q ' 0 differences: identical$' || qe_fail "$1: no 'identical' summary"
	! grep -q '^#' "$RP_OUT" || qe_fail "$1: difference lines although identical"
}

# GET_VRING_BASE replies in TRACE: "INDEX NUM" lines.
recorded_vring_bases() {
	"$VUPROXY" dump "$1" | grep -E 'back-end>front-end GET_VRING_BASE reply ' |
		sed -E 's/.* index=([0-9]+) num=([0-9]+).*/\1 \2/'
}

# check_address_diffs TRACE OUT: every difference line in OUT (a replay
# --as back-end without --ignore) is SET_MEM_TABLE's region 0 uaddr or
# SET_VRING_ADDR's desc/used/avail/log, and they moved together.
check_address_diffs() {
	local trace=$1 out=$2 hex='0x[0-9a-f]+' line frame f ua ub re
	local re_mem="^#[0-9]+ SET_MEM_TABLE: region 0 uaddr ($hex) -> ($hex)\$"
	local re_ring="^((desc|used|avail|log) $hex -> $hex(, |\$))+\$"
	local -A rec live
	# The recorded SET_VRING_ADDR fields, by frame number (a difference
	# line's #N: the N-th record, the N-th line of `vuproxy dump`; a
	# line that names no recorded SET_VRING_ADDR fails below), and the
	# region's uaddr.
	while read -r line; do
		frame=${line%% *}
		for f in desc used avail log; do
			rec[$frame.$f]=$(grep -oE " $f=$hex" <<<"$line" | cut -d= -f2)
		done
	done < <("$VUPROXY" dump "$trace" | grep -n '' | grep -E '^[0-9]+: .* front-end>back-end SET_VRING_ADDR ' |
		sed -E 's/^([0-9]+):.* (index=.*)/\1 \2/')
	ua=$("$VUPROXY" dump "$trace" | grep -oE " SET_MEM_TABLE .* uaddr=$hex" | grep -oE "$hex\$")
	ub=$ua
	while read -r line; do
		frame=${line%% *}
		frame=${frame#\#}
		case $line in
		*" SET_MEM_TABLE: region 0 uaddr "*)
			[[ $line =~ $re_mem ]] ||
				qe_fail "asbe: a SET_MEM_TABLE difference in more than uaddr: $line"
			ub=${BASH_REMATCH[2]} ;;
		*" SET_VRING_ADDR: "*)
			local rest=${line#* SET_VRING_ADDR: }
			[[ $rest =~ $re_ring ]] ||
				qe_fail "asbe: a SET_VRING_ADDR difference outside desc/used/avail/log: $line"
			for f in desc used avail log; do
				[ -n "${rec[$frame.$f]:-}" ] || qe_fail "asbe: frame #$frame is no recorded SET_VRING_ADDR: $line"
				live[$frame.$f]=${rec[$frame.$f]}
				re="(^| )$f ($hex) -> ($hex)"
				if [[ $rest =~ $re ]]; then
					[ "${BASH_REMATCH[2]}" = "${rec[$frame.$f]}" ] || qe_fail "asbe: $line: the recorded $f is ${rec[$frame.$f]}"
					live[$frame.$f]=${BASH_REMATCH[3]}
				fi
			done ;;
		*) qe_fail "asbe: a difference outside the host/guest addresses: $line" ;;
		esac
	done < <(grep '^#' "$out")
	# Every recorded vring: the same layout, and guest-physical =
	# host virtual - the region's uaddr, in the record and live (QEMU with
	# -m 256M gives the back-end one region, at gpa 0).
	local n=0
	for frame in $(printf '%s\n' "${!rec[@]}" | sed -n 's/\.desc$//p' | sort -n); do
		for f in desc used avail log; do [ -n "${live[$frame.$f]:-}" ] || live[$frame.$f]=${rec[$frame.$f]}; done
		[ $((live[$frame.used] - live[$frame.desc])) = $((rec[$frame.used] - rec[$frame.desc])) ] &&
			[ $((live[$frame.avail] - live[$frame.desc])) = $((rec[$frame.avail] - rec[$frame.desc])) ] ||
			qe_fail "asbe: #$frame: QEMU laid the vring out differently from the record"
		[ $((rec[$frame.used] - ua)) = $((rec[$frame.log])) ] && [ $((live[$frame.used] - ub)) = $((live[$frame.log])) ] ||
			qe_fail "asbe: #$frame: the used ring's guest-physical address (log) does not match its host address"
		echo "asbe: #$frame vring: guest-physical used ring ${rec[$frame.log]} -> ${live[$frame.log]}, same layout"
		n=$((n + 1))
	done
	[ "$n" = 2 ] || qe_fail "asbe: want 2 recorded SET_VRING_ADDR, found $n"
	echo "asbe: region uaddr $ua -> $ub (ASLR); every other field identical"
}

if [ "$MODE" = record ]; then
	TRACE=$W/rec.pcapng.gz
	# 1. record: testpmd <- vuproxy -w <- QEMU
	start_testpmd rec-be "$W/rec-be.sock"
	REC_BE_PID=$TP_PID
	# shellcheck disable=SC2034 # read by start_vuproxy
	VUP_EXTRA=(-w "$TRACE")
	start_vuproxy "listen:$W/rec-fe.sock" "connect:$W/rec-be.sock"
	run_guest rec-guest "$W/rec-fe.sock"
	read -r G_TX G_RX <<<"$(ping_stats)"
	[ "${G_TX:-}" = 1 ] && [ "${G_RX:-}" = 1 ] ||
		qe_fail "recording: the guest's ping through vuproxy was not answered (${G_TX:-?} transmitted, ${G_RX:-?} received)"
	stop_vuproxy
	[ "$VUP_FAILED" = 0 ] || qe_fail "vuproxy ended with $VUP_FAILED failed session(s) ($VUP_SUMMARY)"
	stop "$REC_BE_PID" INT 15 || echo "note: dpdk-testpmd rec-be needed SIGKILL"
	REC_MSGS=$(vhost_msgs "$W/rec-be.log")
	if [ -n "${REPLAY_SAVE:-}" ]; then
		cp -- "$TRACE" "$REPLAY_SAVE"
		echo "saved the recorded trace as $REPLAY_SAVE"
	fi
else
	[ -r "$CAPTURE" ] || qe_fail "no capture $CAPTURE"
	TRACE=$CAPTURE
	REC_MSGS=""
fi
NREQ=$("$VUPROXY" dump "$TRACE" | grep -c ' front-end>back-end ') || qe_fail "vuproxy dump found no requests in $TRACE"
echo "trace: $NREQ front-end requests, $(stat -c %s "$TRACE") bytes"
[ "$NREQ" -ge 30 ] || qe_fail "only $NREQ requests in $TRACE (a whole QEMU session has about 42)"
BASES=$(recorded_vring_bases "$TRACE")
[ "$(echo "$BASES" | grep -c .)" = 2 ] || qe_fail "want 2 recorded GET_VRING_BASE replies, the trace has: $BASES"

# 2. --as back-end for a fresh QEMU.
if [ "$MODE" = record ]; then
	replay_be "$TRACE" asbe --ignore "$BE_IGNORE"
	expect_identical asbe
else
	# Without --ignore: the differences are in the fields BE_IGNORE
	# names, and consistent with one ring layout.
	replay_be "$TRACE" asbe
	# 1; 0 only if mmap put guest RAM where it was (ASLR off) and the
	# guest its rings too.
	case $RP_RC in
	1) ;;
	0) expect_identical asbe ;;
	*) qe_fail "asbe: without --ignore the replay exited $RP_RC, want 1 (host addresses differ)" ;;
	esac
	grep '^#' "$RP_OUT" | sed 's/^/  /'
	check_address_diffs "$TRACE" "$RP_OUT"
fi

# 3. --as front-end against a fresh testpmd.  The traffic moved every
# ring: the recorded answers are not what a replay expects.
while read -r idx num; do
	[ "$num" != 0 ] || qe_fail "the recorded GET_VRING_BASE of vring $idx is 0: no traffic was recorded"
done <<<"$BASES"
replay_fe "$TRACE" asfe
expect_identical asfe
FE_MSGS=$(vhost_msgs "$W/asfe-be.log")
[ "$(wc -w <<<"$FE_MSGS")" = "$NREQ" ] ||
	qe_fail "asfe: the back-end read $(wc -w <<<"$FE_MSGS") messages, the trace has $NREQ requests"
if [ -n "$REC_MSGS" ]; then
	[ "$FE_MSGS" = "$REC_MSGS" ] ||
		qe_fail "asfe: the back-end read other messages than the recorded back-end: recorded: $REC_MSGS; replayed: $FE_MSGS"
	echo "asfe: the fresh back-end read the same $NREQ messages, in order, as the recorded one"
fi
echo "PASS: qemu_replay $MODE (whole test $(since "$T_START") s)"
