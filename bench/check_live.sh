#!/bin/bash
# check_live.sh - what live checking costs the relay: vuproxy's CPU per
# message and the round trip, with the checker (vuproxy, on by default)
# and without it (vuproxy --no-check, the same binary), in one run.
#
# As rt.sh and syscalls.sh: bench-rt-frontend sends LIVE_N GET_FEATURES
# requests one at a time (after LIVE_WARMUP untimed) through the relay to
# bench-rt-backend, every process pinned to LIVE_CPU.  Per run: the
# front-end's mean and p50 us per round trip, and the relay's utime+stime
# (from /proc before it is stopped) per message relayed (two per round
# trip).  LIVE_ROUNDS rounds, each running both set-ups, the order
# alternating from round to round.  Reported: the medians, checked /
# unchecked for CPU, mean and p50 round trip (target <= 1.05 each), and
# the median of the per-round ratios (each round's pair ran back to back,
# so drifting load cancels out).
#
# The side without checking is `$VUPROXY --no-check`, or, with
# VUPROXY_BASE set, that binary (a build without live checking, e.g. the
# main before it; or the same binary as VUPROXY, to see the noise floor).
#
# Needs VUPROXY (the binary), BENCH_BIN (dir of the bench-* programs).
# Knobs: LIVE_N=200000 LIVE_WARMUP=2000 LIVE_ROUNDS=10 LIVE_CPU=1
#        LIVE_LIMIT=120 (s, per process)  VUPROXY_BASE=binary (see above)
#        WORK=dir for logs (default mktemp; KEEP=1 keeps it)
#        RESULTS=file to append "key=value" results to
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"
: "${VUPROXY:?set VUPROXY to the vuproxy binary}" "${BENCH_BIN:?set BENCH_BIN}"
LIVE_N=${LIVE_N:-200000}; LIVE_WARMUP=${LIVE_WARMUP:-2000}
LIVE_ROUNDS=${LIVE_ROUNDS:-10}; LIVE_CPU=${LIVE_CPU:-1}
LIVE_LIMIT=${LIVE_LIMIT:-120}
TARGET=1.05
OWN_WORK=0
if [ -z "${WORK:-}" ]; then WORK=$(mktemp -d /tmp/vuproxy-bench-live.XXXXXX); OWN_WORK=1; fi
trap 'stop_all; [ $OWN_WORK = 1 ] && [ "${KEEP:-0}" != 1 ] && rm -rf "$WORK"' EXIT
trap 'exit 130' INT TERM

# The command line of each side, before the socket options.
CHECKED=("$VUPROXY" -q)
if [ -n "${VUPROXY_BASE:-}" ]; then
	UNCHECKED=("$VUPROXY_BASE" -q)
elif "$VUPROXY" --help 2>&1 | grep -q -- '--no-check'; then
	UNCHECKED=("$VUPROXY" -q --no-check)
else
	echo "ERROR: $VUPROXY has no --no-check; set VUPROXY_BASE to a build without live checking" >&2
	exit 1
fi

# live_once KIND ROUND: one run; sets LIVE_MEAN, LIVE_P50 (us per round
# trip) and LIVE_CPU_MSG (the relay's CPU us per message).  (Not run in
# $(...): the PIDs it starts must stay visible to stop_all.)
live_once() {
	local kind=$1 dir=$WORK/$2-$1 be relay out us rc
	local -a cmd
	if [ "$kind" = checked ]; then cmd=("${CHECKED[@]}"); else cmd=("${UNCHECKED[@]}"); fi
	mkdir -p "$dir"
	start "$dir/backend.log" "$LIVE_LIMIT" TERM taskset -c "$LIVE_CPU" \
		"$BENCH_BIN/bench-rt-backend" "$dir/be.sock"
	be=$STARTED_PID
	wait_listen "$dir/be.sock" 10 || return 1
	start "$dir/relay.log" "$LIVE_LIMIT" TERM taskset -c "$LIVE_CPU" \
		"${cmd[@]}" --frontend "listen:$dir/fe.sock" --backend "connect:$dir/be.sock"
	relay=$STARTED_PID
	wait_listen "$dir/fe.sock" 10 || return 1
	child_of "$relay" || { echo "ERROR: $kind: no relay process under $relay" >&2; return 1; }
	out=$(timeout -k 5 "$LIVE_LIMIT" taskset -c "$LIVE_CPU" "$BENCH_BIN/bench-rt-frontend" \
		-n "$LIVE_N" -w "$LIVE_WARMUP" "$dir/fe.sock" 2>"$dir/frontend.err")
	rc=$?
	us=$(cpu_us "$CHILD_PID")
	stop "$relay" TERM 5
	stop "$be" TERM 5
	if [ $rc != 0 ] || [ -z "$out" ] || [ -z "$us" ]; then
		echo "ERROR: $kind round $2: the front-end failed (rc $rc) or the relay left no CPU time:" >&2
		cat "$dir"/*.err "$dir"/*.log >&2
		return 1
	fi
	echo "$out" >"$dir/frontend.out"
	read -r LIVE_MEAN LIVE_P50 < <(awk '{for (i=1;i<=NF;i++) {split($i,kv,"="); v[kv[1]]=kv[2]}}
	     END{print v["mean_us"], v["p50_us"]}' <<<"$out")
	LIVE_CPU_MSG=$(awk -v us="$us" -v n=$((2 * (LIVE_N + LIVE_WARMUP))) 'BEGIN { printf "%.4f", us / n }')
}

# verdict R: met / NOT met against the target.
verdict() { awk -v r="$1" -v t="$TARGET" 'BEGIN { print (r != "nan" && r <= t) ? "met" : "NOT met" }'; }
med() { tr ' ' '\n' <<<"$1" | grep . | median; }

echo "== live checking: $LIVE_ROUNDS rounds x {checked, unchecked}, $LIVE_N GET_FEATURES round trips each"
echo "   checked: ${CHECKED[*]}; unchecked: ${UNCHECKED[*]}"
echo "   every process pinned to CPU $LIVE_CPU; load average at start: $(loadavg)"
declare -A MEANS P50S CPUS LAST MCPU MMEAN MP50
RCPU="" RMEAN="" RP50=""
for ((r = 1; r <= LIVE_ROUNDS; r++)); do
	if ((r % 2)); then order=(checked unchecked); else order=(unchecked checked); fi
	line="   round $r:"
	for kind in "${order[@]}"; do
		live_once "$kind" "$r" || exit 1
		MEANS[$kind]+="$LIVE_MEAN "; P50S[$kind]+="$LIVE_P50 "; CPUS[$kind]+="$LIVE_CPU_MSG "
		LAST[cpu_$kind]=$LIVE_CPU_MSG LAST[mean_$kind]=$LIVE_MEAN LAST[p50_$kind]=$LIVE_P50
		line+=$(printf ' %s %.2f us (p50 %.2f) CPU %.3f us/msg' "$kind" "$LIVE_MEAN" "$LIVE_P50" "$LIVE_CPU_MSG")
	done
	RCPU+="$(ratio "${LAST[cpu_checked]}" "${LAST[cpu_unchecked]}") "
	RMEAN+="$(ratio "${LAST[mean_checked]}" "${LAST[mean_unchecked]}") "
	RP50+="$(ratio "${LAST[p50_checked]}" "${LAST[p50_unchecked]}") "
	echo "$line"
done
for kind in checked unchecked; do
	MCPU[$kind]=$(med "${CPUS[$kind]}")
	MMEAN[$kind]=$(med "${MEANS[$kind]}")
	MP50[$kind]=$(med "${P50S[$kind]}")
done
CPU_R=$(ratio "${MCPU[checked]}" "${MCPU[unchecked]}")
RT_R=$(ratio "${MMEAN[checked]}" "${MMEAN[unchecked]}")
P50_R=$(ratio "${MP50[checked]}" "${MP50[unchecked]}")
PCPU=$(med "$RCPU"); PMEAN=$(med "$RMEAN"); PP50=$(med "$RP50")
printf '   median CPU us/message: checked %.3f  unchecked %.3f\n' "${MCPU[checked]}" "${MCPU[unchecked]}"
printf '   median us/round trip: checked %.2f  unchecked %.2f (p50 %.2f, %.2f)\n' \
	"${MMEAN[checked]}" "${MMEAN[unchecked]}" "${MP50[checked]}" "${MP50[unchecked]}"
echo "   checked/unchecked CPU = $CPU_R (target <= $TARGET: $(verdict "$CPU_R")); per-round median $PCPU"
echo "   checked/unchecked round trip = $RT_R (target <= $TARGET: $(verdict "$RT_R")); per-round median $PMEAN"
echo "   checked/unchecked round trip p50 = $P50_R ($(verdict "$P50_R")); per-round median $PP50"
echo "   load average at end: $(loadavg)"
if [ -n "${RESULTS:-}" ]; then
	{
		echo "live_cpu_checked_us_msg=${MCPU[checked]}"
		echo "live_cpu_unchecked_us_msg=${MCPU[unchecked]}"
		echo "live_cpu_ratio=$CPU_R"
		echo "live_rt_checked_us=${MMEAN[checked]}"
		echo "live_rt_unchecked_us=${MMEAN[unchecked]}"
		echo "live_rt_ratio=$RT_R"
		echo "live_rt_p50_checked_us=${MP50[checked]}"
		echo "live_rt_p50_unchecked_us=${MP50[unchecked]}"
		echo "live_rt_p50_ratio=$P50_R"
	} >>"$RESULTS"
fi
