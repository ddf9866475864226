#!/bin/bash
# tap_capture.sh - the tap's capture ratio (captured / consumed) at
# controlled packet rates, which testpmd's txonly cannot give (it has no
# rate limit).  For each rate in CAPTURE_RATES and each tap mode (strict:
# --tap-strict; unverified: the default, unverified copies kept):
#
#   back-end   dpdk-testpmd --vdev net_vhost0,iface=BE.sock rxonly, lcores
#              on CPU BE_CPU (busy-polls it)
#   vuproxy    --frontend listen:FE.sock --backend connect:BE.sock
#              --tap net -s 128 --tap-interval $TAP_INTERVAL [--tap-strict]
#              -w TRACE, taskset -c $VUPROXY_CPUS (floats by default),
#              $VUPROXY_PRIO in front (e.g. "chrt -f 1")
#   front-end  vuproxy replay $CAPTURE --as front-end --backend connect:FE.sock
#              --frames --frames-rate R --frames-loop R*CAPTURE_SECS, taskset
#              -c $FE_CPU: the captured TX frames (64 B UDP), over and over,
#              frame i at start + i/R; at 100 kpps and more the replay
#              busy-waits between deadlines (it takes its CPU)
#
# and prints per rate and mode: frames offered, back-end RX-packets, the
# tap's consumed and captured (vuproxy's "s1 tap q1: ..." line at session
# end), captured/consumed, vuproxy's CPU share (user+sys ticks from
# /proc/PID/stat over the replay, / wall time) and the rate the replay
# achieved.  consumed must equal the back-end's RX-packets (else WARN).
#
# Needs VUPROXY.  Knobs: CAPTURE_RATES="10000 100000 1000000" CAPTURE_SECS=5
#   TAP_INTERVAL=200 CAPTURE_MODES="strict unverified" BE_CPU=0 FE_CPU=1
#   VUPROXY_CPUS=0,1 VUPROXY_PRIO="" CAPTURE=captures/dpdk-split-frames-1024.pcapng.gz
#   TESTPMD=dpdk-testpmd  WORK=dir  RESULTS=file (key=value lines)
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"
: "${VUPROXY:?set VUPROXY to the vuproxy binary}"
CAPTURE_RATES=${CAPTURE_RATES:-10000 100000 1000000}
CAPTURE_SECS=${CAPTURE_SECS:-5}
CAPTURE_MODES=${CAPTURE_MODES:-strict unverified}
TAP_INTERVAL=${TAP_INTERVAL:-200}
BE_CPU=${BE_CPU:-0}; FE_CPU=${FE_CPU:-1}; VUPROXY_CPUS=${VUPROXY_CPUS:-0,1}
VUPROXY_PRIO=${VUPROXY_PRIO:-}
CAPTURE=${CAPTURE:-$HERE/../captures/dpdk-split-frames-1024.pcapng.gz}
TESTPMD=${TESTPMD:-dpdk-testpmd}
HZ=$(getconf CLK_TCK)
OWN_WORK=0
if [ -z "${WORK:-}" ]; then WORK=$(mktemp -d /tmp/vuproxy-bench-tapcap.XXXXXX); OWN_WORK=1; fi
PREFIXES=()
cleanup() {
	stop_all
	local p
	for p in "${PREFIXES[@]}"; do rm -rf "/var/run/dpdk/$p"; done
	[ $OWN_WORK = 1 ] && [ "${KEEP:-0}" != 1 ] && rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if ! command -v "$TESTPMD" >/dev/null; then
	echo "ERROR: $TESTPMD not found (Debian: apt-get install dpdk-dev)" >&2
	exit 1
fi
[ -r "$CAPTURE" ] || { echo "ERROR: no capture $CAPTURE" >&2; exit 1; }
EAL=(--no-pci --no-huge -m 512)
TP=(--stats-period=1 --nb-cores=1 --total-num-mbufs=16384 --forward-mode=rxonly)
# shellcheck disable=SC2206 # a command prefix, split on purpose
PRIO=($VUPROXY_PRIO)

# The vring size the capture's front-end set (SET_VRING_NUM of q1).
RING=$("$VUPROXY" dump "$CAPTURE" 2>/dev/null |
	sed -nE 's/.*SET_VRING_NUM index=1 num=([0-9]+).*/\1/p' | head -1)

# ticks PID: user+system clock ticks of the program `timeout` PID runs.
ticks() {
	local c
	c=$(pgrep -P "$1" | head -1)
	[ -n "$c" ] && sed 's/^.*) //' "/proc/$c/stat" 2>/dev/null | awk '{print $12 + $13}'
}

# RX-packets of testpmd's "Accumulated forward statistics" (at exit).
rx_packets() {
	sed 's/\x1b\[[0-9;]*[A-Za-z]//g' "$1" |
		awk '/Accumulated forward statistics/ { a = 1; next }
		     a && $1 == "RX-packets:" { n = $2; a = 0 } END { print n }'
}

# capture_once RATE MODE RUN: one run; sets C_LINE (the printed row) and
# C_RATIO, C_VCPU.
capture_once() {
	local rate=$1 mode=$2 run=$3 dir tag be_pid vp_pid rp_pid n limit
	local w0 w1 v0 v1 rp_rc tapline consumed captured unver missed torn mal
	local offered rx achieved tapargs=()
	n=$((rate * CAPTURE_SECS))
	limit=$((CAPTURE_SECS * 3 + 60))
	dir=$WORK/r$run-$rate-$mode; mkdir -p "$dir"
	tag=vuptapcap-$$-$run-$rate-$mode
	PREFIXES+=("$tag")
	start "$dir/be.log" "$limit" INT "$TESTPMD" --lcores "0@$BE_CPU,1@$BE_CPU" "${EAL[@]}" \
		--file-prefix="$tag" --vdev "net_vhost0,iface=$dir/be.sock,queues=1" -- "${TP[@]}"
	be_pid=$STARTED_PID
	wait_listen "$dir/be.sock" 30 || { tail -20 "$dir/be.log" >&2; return 1; }
	[ "$mode" = strict ] && tapargs=(--tap-strict)
	start "$dir/vuproxy.log" "$limit" TERM "${PRIO[@]}" taskset -c "$VUPROXY_CPUS" \
		"$VUPROXY" --frontend "listen:$dir/fe.sock" --backend "connect:$dir/be.sock" \
		--tap net -s 128 --tap-interval "$TAP_INTERVAL" "${tapargs[@]}" -w "$dir/tap.pcapng.gz"
	vp_pid=$STARTED_PID
	wait_listen "$dir/fe.sock" 10 || { cat "$dir/vuproxy.log" >&2; return 1; }
	w0=$(now); v0=$(ticks "$vp_pid")
	start "$dir/replay.log" "$limit" INT taskset -c "$FE_CPU" "$VUPROXY" replay "$CAPTURE" \
		--as front-end --backend "connect:$dir/fe.sock" --frames \
		--frames-rate "$rate" --frames-loop "$n"
	rp_pid=$STARTED_PID
	wait "$rp_pid"; rp_rc=$?
	w1=$(now); v1=$(ticks "$vp_pid")
	# The session ended with the replay: vuproxy has logged its tap line.
	wait_log "$dir/vuproxy.log" "tap q1: consumed" 5
	stop "$vp_pid" TERM 5
	stop "$be_pid" INT 15
	rm -rf "/var/run/dpdk/$tag"
	[ "$rp_rc" = 0 ] || echo "WARN: $rate pps $mode: replay exited $rp_rc: $(grep -v '^#' "$dir/replay.log" | tail -3)" >&2
	tapline=$(grep -m1 'tap q1: consumed' "$dir/vuproxy.log")
	read -r consumed captured unver missed torn mal < <(sed -nE \
		's/.*tap q1: consumed ([0-9]+), captured ([0-9]+)( \(([0-9]+) unverified\))?, missed ([0-9]+), torn ([0-9]+), malformed ([0-9]+).*/\1 \2 \4 \5 \6 \7/p' \
		<<<"$tapline" | awk '{ if (NF == 5) print $1, $2, 0, $3, $4, $5; else print }')
	offered=$(sed -nE 's/^replay: frames: ([0-9]+) replayed of .*/\1/p' "$dir/replay.log")
	achieved=$(sed -nE 's/^replay: frames: q1: .* ([0-9]+) pps.*/\1/p' "$dir/replay.log")
	rx=$(rx_packets "$dir/be.log")
	C_RATIO=$(ratio "${captured:-0}" "${consumed:-0}")
	C_VCPU=$(awk -v a="${v0:-0}" -v b="${v1:-0}" -v hz="$HZ" -v s="$w0" -v e="$w1" \
		'BEGIN{printf "%.3f", (b - a) / hz / (e - s)}')
	C_LINE=$(printf '%9s %-10s %9s %9s %9s %9s %8s %8s %8s %4s  %8s  %6s %9s' "$rate" "$mode" \
		"${offered:-?}" "${rx:-?}" "${consumed:-?}" "${captured:-?}" "${unver:-?}" \
		"${missed:-?}" "${torn:-?}" "${mal:-?}" "$C_RATIO" "$C_VCPU" "${achieved:-?}")
	if [ -z "$tapline" ]; then
		echo "WARN: $rate pps $mode: no tap line in vuproxy's log: $(tail -3 "$dir/vuproxy.log")" >&2
	elif [ "${consumed:-x}" != "${rx:-y}" ]; then
		echo "WARN: $rate pps $mode: the tap's consumed ($consumed) != the back-end's RX-packets (${rx:-?})" >&2
	fi
	[ "${offered:-x}" = "$n" ] || echo "WARN: $rate pps $mode: ${offered:-?} frames offered, want $n" >&2
}

echo "== tap capture ratio: vuproxy --tap net -s 128 --tap-interval $TAP_INTERVAL, replayed 64 B frames at a fixed rate, ${CAPTURE_SECS} s per run"
echo "   capture $(basename "$CAPTURE"), vring size ${RING:-?} (recorded SET_VRING_NUM)"
echo "   pinning: back-end testpmd rxonly --lcores 0@$BE_CPU,1@$BE_CPU, replay taskset -c $FE_CPU, vuproxy ${VUPROXY_PRIO:+$VUPROXY_PRIO }taskset -c $VUPROXY_CPUS; load average $(loadavg)"
printf '%9s %-10s %9s %9s %9s %9s %8s %8s %8s %4s  %8s  %6s %9s\n' rate mode offered be-rx consumed captured unverif missed torn mal capt/cons vp-cpu achieved
worst=""
for rate in $CAPTURE_RATES; do
	for mode in $CAPTURE_MODES; do
		capture_once "$rate" "$mode" 1 || exit 1
		echo "$C_LINE"
		if [ -n "${RESULTS:-}" ]; then
			echo "tapcap_${mode}_${rate}_ratio=$C_RATIO" >>"$RESULTS"
			echo "tapcap_${mode}_${rate}_vuproxy_cpu=$C_VCPU" >>"$RESULTS"
		fi
		# The ring: the replay reuses buffer slot i mod RING for frame
		# i, so a frame's bytes stay RING/rate s; the tap reads every
		# TAP_INTERVAL us.
		if [ -n "$RING" ] && [ "$C_RATIO" != nan ] &&
			awk -v r="$C_RATIO" 'BEGIN{exit !(r < 1)}'; then
			worst+=" $rate/$mode"
		fi
	done
done
if [ -n "$RING" ]; then
	for rate in $CAPTURE_RATES; do
		awk -v r="$rate" -v n="$RING" -v i="$TAP_INTERVAL" 'BEGIN{
			life = n / r * 1e6
			printf "   at %d pps a ring slot (and its buffer) is reused every %.0f us (%d slots); the tap reads every %d us%s\n",
				r, life, n, i, (life < 2 * i) ? ": a larger ring (SET_VRING_NUM, e.g. 1024) would give it more time" : ""}'
	done
fi
[ -n "$worst" ] && echo "   below 100%:$worst"
echo "   load average at end: $(loadavg)"
