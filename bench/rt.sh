#!/bin/bash
# rt.sh - control-channel round-trip benchmark.
#
# A minimal front-end (bench-rt-frontend) sends RT_N GET_FEATURES requests
# one at a time and waits for each reply from a minimal back-end
# (bench-rt-backend), in three set-ups:
#   direct   front-end -> back-end
#   floor    front-end -> bench-floor-relay -> back-end
#   vuproxy  front-end -> vuproxy -q --frontend listen --backend connect -> back-end
# RT_ROUNDS rounds, each running the three once in a rotating order; the
# median over rounds of each set-up's mean us/round trip is reported.
#
# Needs VUPROXY (the binary) and BENCH_BIN (dir of the bench-* programs).
# Knobs: RT_N=200000 RT_WARMUP=2000 RT_ROUNDS=5
#        RT_LAYOUT=same (every process on CPU RT_CPU=1)
#                 |split (peers on RT_PEER_CPU=0, relay on RT_RELAY_CPU=1)
#        RT_LIMIT=120 (s, per process)  WORK=dir for logs (default mktemp)
#        RESULTS=file to append "key=value" results to
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"
: "${VUPROXY:?set VUPROXY to the vuproxy binary}" "${BENCH_BIN:?set BENCH_BIN}"
RT_N=${RT_N:-200000}; RT_WARMUP=${RT_WARMUP:-2000}; RT_ROUNDS=${RT_ROUNDS:-5}
RT_LAYOUT=${RT_LAYOUT:-same}; RT_CPU=${RT_CPU:-1}
RT_PEER_CPU=${RT_PEER_CPU:-0}; RT_RELAY_CPU=${RT_RELAY_CPU:-1}
RT_LIMIT=${RT_LIMIT:-120}
OWN_WORK=0
if [ -z "${WORK:-}" ]; then WORK=$(mktemp -d /tmp/vuproxy-bench-rt.XXXXXX); OWN_WORK=1; fi
trap 'stop_all; [ $OWN_WORK = 1 ] && [ "${KEEP:-0}" != 1 ] && rm -rf "$WORK"' EXIT
trap 'exit 130' INT TERM

case $RT_LAYOUT in
same) PEER_CPUS=$RT_CPU; RELAY_CPUS=$RT_CPU
      PIN="front-end, back-end and relay all pinned to CPU $RT_CPU (taskset -c $RT_CPU)" ;;
split) PEER_CPUS=$RT_PEER_CPU; RELAY_CPUS=$RT_RELAY_CPU
       PIN="front-end and back-end on CPU $RT_PEER_CPU, relay on CPU $RT_RELAY_CPU (taskset)" ;;
*) echo "RT_LAYOUT must be same or split" >&2; exit 2 ;;
esac

# rt_once KIND ROUND: one measurement; sets RT_MEAN and RT_P50 (us).
# (Not run in $(...): the PIDs it starts must stay visible to stop_all.)
rt_once() {
	local kind=$1 r=$2 dir target relay_pid="" out be_pid
	dir=$WORK/rt-$r-$kind
	mkdir -p "$dir"
	start "$dir/backend.log" "$RT_LIMIT" TERM taskset -c "$PEER_CPUS" \
		"$BENCH_BIN/bench-rt-backend" "$dir/be.sock"
	be_pid=$STARTED_PID
	wait_listen "$dir/be.sock" 10 || return 1
	target=$dir/be.sock
	case $kind in
	floor)
		start "$dir/relay.log" "$RT_LIMIT" TERM taskset -c "$RELAY_CPUS" \
			"$BENCH_BIN/bench-floor-relay" "$dir/fe.sock" "$dir/be.sock"
		relay_pid=$STARTED_PID; target=$dir/fe.sock ;;
	vuproxy)
		start "$dir/relay.log" "$RT_LIMIT" TERM taskset -c "$RELAY_CPUS" \
			"$VUPROXY" -q --frontend "listen:$dir/fe.sock" \
			--backend "connect:$dir/be.sock"
		relay_pid=$STARTED_PID; target=$dir/fe.sock ;;
	esac
	if [ -n "$relay_pid" ]; then wait_listen "$dir/fe.sock" 10 || return 1; fi
	out=$(timeout -k 5 "$RT_LIMIT" taskset -c "$PEER_CPUS" \
		"$BENCH_BIN/bench-rt-frontend" -n "$RT_N" -w "$RT_WARMUP" "$target" 2>"$dir/frontend.err")
	local rc=$?
	[ -n "$relay_pid" ] && stop "$relay_pid" TERM 5
	stop "$be_pid" TERM 5
	if [ $rc != 0 ] || [ -z "$out" ]; then
		echo "ERROR: $kind round $r: front-end failed (rc $rc):" >&2
		cat "$dir"/*.err "$dir"/*.log >&2
		return 1
	fi
	echo "$out" >"$dir/frontend.out"
	read -r RT_MEAN RT_P50 < <(awk '{for (i=1;i<=NF;i++) {split($i,kv,"="); v[kv[1]]=kv[2]}}
	     END{print v["mean_us"], v["p50_us"]}' <<<"$out")
}

echo "== round trip: $RT_ROUNDS rounds x {direct, floor, vuproxy}, $RT_N GET_FEATURES round trips each"
echo "   pinning: $PIN; load average at start: $(loadavg)"
KINDS=(direct floor vuproxy)
declare -A MEANS P50S
for ((r = 1; r <= RT_ROUNDS; r++)); do
	line="   round $r:"
	for ((k = 0; k < 3; k++)); do
		kind=${KINDS[$(((r - 1 + k) % 3))]}
		rt_once "$kind" "$r" || exit 1
		mean=$RT_MEAN p50=$RT_P50
		MEANS[$kind]+="$mean "; P50S[$kind]+="$p50 "
		line+=$(printf ' %s %.2f us (p50 %.2f)' "$kind" "$mean" "$p50")
	done
	echo "$line"
done
declare -A MED MEDP50
for kind in "${KINDS[@]}"; do
	MED[$kind]=$(tr ' ' '\n' <<<"${MEANS[$kind]}" | grep . | median)
	MEDP50[$kind]=$(tr ' ' '\n' <<<"${P50S[$kind]}" | grep . | median)
done
VF=$(ratio "${MED[vuproxy]}" "${MED[floor]}")
VD=$(ratio "${MED[vuproxy]}" "${MED[direct]}")
VF50=$(ratio "${MEDP50[vuproxy]}" "${MEDP50[floor]}")
printf '   median us/round trip: direct %.2f  floor %.2f  vuproxy %.2f\n' \
	"${MED[direct]}" "${MED[floor]}" "${MED[vuproxy]}"
printf '   median of per-run p50: direct %.2f  floor %.2f  vuproxy %.2f (vuproxy/floor %s)\n' \
	"${MEDP50[direct]}" "${MEDP50[floor]}" "${MEDP50[vuproxy]}" "$VF50"
echo "   vuproxy/floor = $VF (target <= 1.2)   vuproxy/direct = $VD"
echo "   load average at end: $(loadavg)"
if [ -n "${RESULTS:-}" ]; then
	{
		echo "rt_direct_us=${MED[direct]}"
		echo "rt_floor_us=${MED[floor]}"
		echo "rt_vuproxy_us=${MED[vuproxy]}"
		echo "rt_vuproxy_floor=$VF"
		echo "rt_vuproxy_direct=$VD"
		echo "rt_p50_direct_us=${MEDP50[direct]}"
		echo "rt_p50_floor_us=${MEDP50[floor]}"
		echo "rt_p50_vuproxy_us=${MEDP50[vuproxy]}"
		echo "rt_p50_vuproxy_floor=$VF50"
		echo "rt_pinning=$PIN"
	} >>"$RESULTS"
fi
