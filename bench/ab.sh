#!/bin/bash
# ab.sh - what a feature costs the relay: vuproxy's CPU per message, the
# round trip, and its peak memory (VmHWM), with the feature (side A) and
# without it (side B), in one run.  check_live.sh (live checking) and
# ring.sh (the flight recorder) set the sides and run this.
#
# As rt.sh and syscalls.sh: bench-rt-frontend sends LIVE_N GET_FEATURES
# requests one at a time (after LIVE_WARMUP untimed) through the relay to
# bench-rt-backend, every process pinned to LIVE_CPU.  Per run: the
# front-end's mean and p50 us per round trip, and the relay's utime+stime
# and VmHWM (from /proc before it is stopped) per message relayed (two
# per round trip).  LIVE_ROUNDS rounds, each running both set-ups, the
# order alternating from round to round.  Reported: the medians, A / B
# for CPU, mean and p50 round trip (target <= 1.05 each), the median of
# the per-round ratios (each round's pair ran back to back, so drifting
# load cancels out), and the VmHWM of each side.
#
# Needs VUPROXY (the binary), BENCH_BIN (dir of the bench-* programs),
# AB_NAME (what is measured), AB_A / AB_B (the labels), AB_A_CMD /
# AB_B_CMD (each side's command line before the socket options, as a
# bash array literal, e.g. '("$VUPROXY" -q --ring 64)'), AB_KEY (the
# prefix of the RESULTS keys).
# Knobs: LIVE_N=200000 LIVE_WARMUP=2000 LIVE_ROUNDS=10 LIVE_CPU=1
#        LIVE_LIMIT=120 (s, per process)
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
if [ -z "${WORK:-}" ]; then WORK=$(mktemp -d /tmp/vuproxy-bench-ab.XXXXXX); OWN_WORK=1; fi
trap 'stop_all; [ $OWN_WORK = 1 ] && [ "${KEEP:-0}" != 1 ] && rm -rf "$WORK"' EXIT
trap 'exit 130' INT TERM

: "${AB_NAME:?}" "${AB_A:?}" "${AB_B:?}" "${AB_A_CMD:?}" "${AB_B_CMD:?}" "${AB_KEY:?}"
# The command line of each side, before the socket options.
eval "SIDE_A=$AB_A_CMD"
eval "SIDE_B=$AB_B_CMD"

# live_once KIND ROUND: one run (KIND a or b); sets LIVE_MEAN, LIVE_P50
# (us per round trip), LIVE_CPU_MSG (the relay's CPU us per message) and
# LIVE_HWM (its VmHWM, KiB).  (Not run in
# $(...): the PIDs it starts must stay visible to stop_all.)
live_once() {
	local kind=$1 dir=$WORK/$2-$1 be relay out us rc
	local -a cmd
	if [ "$kind" = a ]; then cmd=("${SIDE_A[@]}"); else cmd=("${SIDE_B[@]}"); fi
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
	LIVE_HWM=$(awk '/^VmHWM:/ {print $2}' "/proc/$CHILD_PID/status" 2>/dev/null)
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

echo "== $AB_NAME: $LIVE_ROUNDS rounds x {$AB_A, $AB_B}, $LIVE_N GET_FEATURES round trips each"
echo "   $AB_A: ${SIDE_A[*]}; $AB_B: ${SIDE_B[*]}"
echo "   every process pinned to CPU $LIVE_CPU; load average at start: $(loadavg)"
declare -A MEANS P50S CPUS HWMS LAST MCPU MMEAN MP50 MHWM
RCPU="" RMEAN="" RP50=""
for ((r = 1; r <= LIVE_ROUNDS; r++)); do
	if ((r % 2)); then order=(a b); else order=(b a); fi
	line="   round $r:"
	for kind in "${order[@]}"; do
		live_once "$kind" "$r" || exit 1
		MEANS[$kind]+="$LIVE_MEAN "; P50S[$kind]+="$LIVE_P50 "; CPUS[$kind]+="$LIVE_CPU_MSG "
		HWMS[$kind]+="${LIVE_HWM:-0} "
		LAST[cpu_$kind]=$LIVE_CPU_MSG LAST[mean_$kind]=$LIVE_MEAN LAST[p50_$kind]=$LIVE_P50
		label=$AB_A; [ "$kind" = a ] || label=$AB_B
		line+=$(printf ' %s %.2f us (p50 %.2f) CPU %.3f us/msg' "$label" "$LIVE_MEAN" "$LIVE_P50" "$LIVE_CPU_MSG")
	done
	RCPU+="$(ratio "${LAST[cpu_a]}" "${LAST[cpu_b]}") "
	RMEAN+="$(ratio "${LAST[mean_a]}" "${LAST[mean_b]}") "
	RP50+="$(ratio "${LAST[p50_a]}" "${LAST[p50_b]}") "
	echo "$line"
done
for kind in a b; do
	MCPU[$kind]=$(med "${CPUS[$kind]}")
	MMEAN[$kind]=$(med "${MEANS[$kind]}")
	MP50[$kind]=$(med "${P50S[$kind]}")
	MHWM[$kind]=$(med "${HWMS[$kind]}")
done
CPU_R=$(ratio "${MCPU[a]}" "${MCPU[b]}")
RT_R=$(ratio "${MMEAN[a]}" "${MMEAN[b]}")
P50_R=$(ratio "${MP50[a]}" "${MP50[b]}")
PCPU=$(med "$RCPU"); PMEAN=$(med "$RMEAN"); PP50=$(med "$RP50")
printf '   median CPU us/message: %s %.3f  %s %.3f\n' "$AB_A" "${MCPU[a]}" "$AB_B" "${MCPU[b]}"
printf '   median us/round trip: %s %.2f  %s %.2f (p50 %.2f, %.2f)\n' \
	"$AB_A" "${MMEAN[a]}" "$AB_B" "${MMEAN[b]}" "${MP50[a]}" "${MP50[b]}"
printf '   median VmHWM: %s %d KiB  %s %d KiB (difference %d KiB)\n' "$AB_A" "${MHWM[a]}" \
	"$AB_B" "${MHWM[b]}" "$((${MHWM[a]%.*} - ${MHWM[b]%.*}))"
echo "   $AB_A/$AB_B CPU = $CPU_R (target <= $TARGET: $(verdict "$CPU_R")); per-round median $PCPU"
echo "   $AB_A/$AB_B round trip = $RT_R (target <= $TARGET: $(verdict "$RT_R")); per-round median $PMEAN"
echo "   $AB_A/$AB_B round trip p50 = $P50_R ($(verdict "$P50_R")); per-round median $PP50"
echo "   load average at end: $(loadavg)"
if [ -n "${RESULTS:-}" ]; then
	{
		echo "${AB_KEY}_cpu_${AB_A}_us_msg=${MCPU[a]}"
		echo "${AB_KEY}_cpu_${AB_B}_us_msg=${MCPU[b]}"
		echo "${AB_KEY}_cpu_ratio=$CPU_R"
		echo "${AB_KEY}_rt_${AB_A}_us=${MMEAN[a]}"
		echo "${AB_KEY}_rt_${AB_B}_us=${MMEAN[b]}"
		echo "${AB_KEY}_rt_ratio=$RT_R"
		echo "${AB_KEY}_rt_p50_${AB_A}_us=${MP50[a]}"
		echo "${AB_KEY}_rt_p50_${AB_B}_us=${MP50[b]}"
		echo "${AB_KEY}_rt_p50_ratio=$P50_R"
		echo "${AB_KEY}_vmhwm_${AB_A}_kib=${MHWM[a]}"
		echo "${AB_KEY}_vmhwm_${AB_B}_kib=${MHWM[b]}"
	} >>"$RESULTS"
fi
