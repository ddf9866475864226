#!/bin/bash
# check_speed.sh - `vuproxy check` on a trace of CHECK_N (1000000)
# control messages: target under 2 s.
#
# bench-check-trace (check_trace.c) writes the trace with the real trace
# writer, as the relay writes it (each message stored and sync-flushed):
# one session with the set-up of captures/dpdk-split.pcapng.gz, then a
# flood of round trips alternating GET_FEATURES / reply and
# SET_VRING_ENABLE need_reply / ack, then the capture's teardown.  Then
# CHECK_ROUNDS (3) runs of `vuproxy check FILE`, pinned to CHECK_CPU (1):
# wall time and utime+stime (bash's `time`), the medians, and median /
# 2 s.  Each run must read every message and find no error (the trace has
# the capture's one warning), or the benchmark fails.
#
# Needs VUPROXY (the binary) and BENCH_BIN (dir of the bench-* programs).
# Knobs: CHECK_N=1000000 CHECK_ROUNDS=3 CHECK_CPU=1 CHECK_LIMIT=120 (s)
#        WORK=dir for logs (default mktemp; KEEP=1 keeps it, and the
#        trace, about 88 MB per million messages)
#        RESULTS=file to append "key=value" results to
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"
: "${VUPROXY:?set VUPROXY to the vuproxy binary}" "${BENCH_BIN:?set BENCH_BIN}"
CHECK_N=${CHECK_N:-1000000}; CHECK_ROUNDS=${CHECK_ROUNDS:-3}
CHECK_CPU=${CHECK_CPU:-1}; CHECK_LIMIT=${CHECK_LIMIT:-120}
TARGET=2
OWN_WORK=0
if [ -z "${WORK:-}" ]; then WORK=$(mktemp -d /tmp/vuproxy-bench-check.XXXXXX); OWN_WORK=1; fi
TRACE=$WORK/check-$CHECK_N.pcapng.gz
trap '[ "${KEEP:-0}" != 1 ] && rm -f "$TRACE"; [ $OWN_WORK = 1 ] && [ "${KEEP:-0}" != 1 ] && rm -rf "$WORK"' EXIT
trap 'exit 130' INT TERM

echo "== vuproxy check on $CHECK_N messages: $CHECK_ROUNDS runs, pinned to CPU $CHECK_CPU"
echo "   load average at start: $(loadavg)"
gen=$(timeout -k 5 "$CHECK_LIMIT" "$BENCH_BIN/bench-check-trace" "$TRACE" "$CHECK_N" 2>"$WORK/gen.err") || {
	echo "ERROR: bench-check-trace failed:" >&2
	cat "$WORK/gen.err" >&2
	exit 1
}
bytes=$(sed -n 's/.*bytes=\([0-9]*\).*/\1/p' <<<"$gen")
echo "   trace: $gen ($(awk -v b="$bytes" 'BEGIN{printf "%.1f", b / 1e6}') MB on disk)"

# check_once R: one run; sets WALL and CPU (s).
check_once() {
	local out=$WORK/check-$1.out err=$WORK/check-$1.err tm=$WORK/check-$1.time rc
	local TIMEFORMAT='%R %U %S'
	{ time timeout -k 5 "$CHECK_LIMIT" taskset -c "$CHECK_CPU" \
		"$VUPROXY" check "$TRACE" >"$out" 2>"$err"; } 2>"$tm"
	rc=$?
	# 0: no error finding; 1 would be one (a false alarm on this trace).
	if [ $rc -gt 1 ] || ! grep -q " $CHECK_N messages" "$out"; then
		echo "ERROR: vuproxy check run $1 (rc $rc) did not read the $CHECK_N messages:" >&2
		tail -n 3 "$out" "$err" >&2
		return 1
	fi
	[ $rc = 1 ] && echo "WARN: vuproxy check found an error on this trace: $(grep -m1 ' error ' "$out")" >&2
	read -r WALL u s <"$tm"
	CPU=$(awk -v u="$u" -v s="$s" 'BEGIN{printf "%.3f", u + s}')
}

walls="" cpus=""
for ((r = 1; r <= CHECK_ROUNDS; r++)); do
	check_once "$r" || exit 1
	walls+="$WALL "; cpus+="$CPU "
	echo "   run $r: wall $WALL s, CPU (utime+stime) $CPU s"
done
W=$(tr ' ' '\n' <<<"$walls" | grep . | median)
C=$(tr ' ' '\n' <<<"$cpus" | grep . | median)
RW=$(ratio "$W" "$TARGET"); RC=$(ratio "$C" "$TARGET")
met=met; awk -v w="$W" -v t="$TARGET" 'BEGIN{exit !(w >= t)}' && met="NOT met"
echo "   summary: $(tail -n 1 "$WORK/check-1.out")"
printf '   median: wall %.3f s, CPU %.3f s (%.0f ns/message); wall/%s s = %s (target < 1: %s), CPU/%s s = %s\n' \
	"$W" "$C" "$(awk -v c="$C" -v n="$CHECK_N" 'BEGIN{print c * 1e9 / n}')" \
	"$TARGET" "$RW" "$met" "$TARGET" "$RC"
echo "   load average at end: $(loadavg)"
if [ -n "${RESULTS:-}" ]; then
	{
		echo "check_n=$CHECK_N"
		echo "check_wall_s=$W"
		echo "check_cpu_s=$C"
		echo "check_wall_target=$RW"
	} >>"$RESULTS"
fi
