#!/bin/bash
# rt.sh - control-channel round-trip benchmark.
#
# A minimal front-end (bench-rt-frontend) sends RT_N GET_FEATURES requests
# one at a time and waits for each reply from a minimal back-end
# (bench-rt-backend), in five set-ups:
#   direct         front-end -> back-end
#   floor          front-end -> bench-floor-relay -> back-end
#   vuproxy        front-end -> vuproxy -q --frontend listen --backend connect -> back-end
#   vuproxy_w      the same with -w t.pcapng.gz (every message recorded)
#   vuproxy_rules  the same with -r rules100.yaml: RT_RULES rules, none of
#                  which matches, so all are tried on every message
#   vuproxy_base   plain vuproxy again, but the binary VUPROXY_BASE (only
#                  when set: an older build, to weigh a change in one run)
# RT_ROUNDS rounds, each running the set-ups once in a rotating order; the
# median over rounds of each set-up's mean us/round trip is reported, and,
# since a wake-up here costs ~45 us and round trips hide what the relay
# itself spends, vuproxy's CPU time (utime+stime from /proc) per message
# relayed (two per round trip).
# The trace of every vuproxy_w run must dump to at least one line, and the
# rules file must pass `vuproxy rules check`, or the benchmark fails.
#
# Needs VUPROXY (the binary) and BENCH_BIN (dir of the bench-* programs).
# Knobs: RT_N=200000 RT_WARMUP=2000 RT_ROUNDS=5 RT_RULES=100
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
RT_LIMIT=${RT_LIMIT:-120}; RT_RULES=${RT_RULES:-100}
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

# make_rules N: a rules file of N rules that are all tried on every
# GET_FEATURES request and reply and never match, so that the cost
# measured is that of evaluating them.  They cycle through five ways of
# missing: other requests (a list of four: every name is compared), another
# session, a feature word the back-end does not offer (its reply is read),
# a feature bit it does not set, a request from the wrong side.  Were one
# to fire, it would show: a 10 ms delay, a rewrite, a log mark in a trace.
make_rules() {
	local n=$1 i others=(SET_FEATURES SET_OWNER SET_MEM_TABLE SET_VRING_NUM
		SET_VRING_ADDR SET_VRING_BASE GET_VRING_BASE SET_VRING_KICK
		SET_VRING_CALL SET_VRING_ERR GET_PROTOCOL_FEATURES
		SET_PROTOCOL_FEATURES GET_QUEUE_NUM SET_VRING_ENABLE GET_CONFIG
		SET_STATUS)
	echo "# bench/rt.sh: $n rules, none of which matches GET_FEATURES"
	[ "$n" -gt 0 ] && echo "rules:" || echo "rules: []"
	for ((i = 0; i < n; i++)); do
		echo "  - name: nomatch-$i"
		case $((i % 5)) in
		0) echo "    match: {request: [${others[i % 16]}, ${others[(i + 3) % 16]}, ${others[(i + 7) % 16]}, ${others[(i + 11) % 16]}]}"
		   echo "    action: log" ;;
		1) echo "    match: {request: GET_FEATURES, session: $((1000 + i))}"
		   echo "    action: {delay: 10ms}" ;;
		2) echo "    match: {request: GET_FEATURES, from: back-end, reply: true, fields: {features: {eq: $((0x100000000 + i))}}}"
		   echo "    action: {rewrite: {clear_features: [VIRTIO_F_RING_PACKED]}}" ;;
		3) echo "    match: {request: GET_FEATURES, reply: true, has: [VIRTIO_F_RING_PACKED]}"
		   echo "    action: log" ;;
		4) echo "    match: {request: GET_FEATURES, from: back-end, reply: false}"
		   echo "    action: log" ;; # a delay here: all but one "never apply"
		esac
	done
}

# check_trace FILE: the trace a vuproxy_w run wrote must be readable.  It
# should hold every request and reply (dump prints one line per message).
check_trace() {
	local lines want=$((2 * (RT_N + RT_WARMUP)))
	lines=$("$VUPROXY" dump "$1" 2>"$1.dump.err" | wc -l)
	if [ "$lines" -eq 0 ]; then
		echo "ERROR: vuproxy dump $1 printed nothing:" >&2
		cat "$1.dump.err" >&2
		return 1
	fi
	[ "$lines" -eq "$want" ] ||
		echo "WARN: vuproxy dump $1: $lines lines, expected $want" >&2
	return 0
}

# relay_cpu_us PID: utime+stime of the relay started as PID (timeout's
# child, the program taskset became), in microseconds; empty when it has
# exited already (the floor relay ends with its one connection, and bash
# reaps it at once: its CPU time is not measured).
relay_cpu_us() {
	local pid
	pid=$(pgrep -P "$1" | head -n 1)
	[ -z "$pid" ] || cpu_us "$pid"
}

# rt_once KIND ROUND: one measurement; sets RT_MEAN and RT_P50 (us) and
# RT_CPU (the relay's CPU us per message; 0 for direct).
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
	vuproxy*)
		local extra=() bin=$VUPROXY
		[ "$kind" = vuproxy_w ] && extra=(-w "$dir/t.pcapng.gz")
		[ "$kind" = vuproxy_rules ] && extra=(-r "$RULES")
		[ "$kind" = vuproxy_base ] && bin=$VUPROXY_BASE
		start "$dir/relay.log" "$RT_LIMIT" TERM taskset -c "$RELAY_CPUS" \
			"$bin" -q --frontend "listen:$dir/fe.sock" \
			--backend "connect:$dir/be.sock" "${extra[@]}"
		relay_pid=$STARTED_PID; target=$dir/fe.sock ;;
	esac
	if [ -n "$relay_pid" ]; then wait_listen "$dir/fe.sock" 10 || return 1; fi
	out=$(timeout -k 5 "$RT_LIMIT" taskset -c "$PEER_CPUS" \
		"$BENCH_BIN/bench-rt-frontend" -n "$RT_N" -w "$RT_WARMUP" "$target" 2>"$dir/frontend.err")
	local rc=$?
	RT_CPU=
	if [ -n "$relay_pid" ] && [ "$kind" != floor ]; then
		RT_CPU=$(awk -v us="$(relay_cpu_us "$relay_pid")" -v n=$((2 * (RT_N + RT_WARMUP))) \
			'BEGIN { if (us != "") printf "%.3f", us / n }')
	fi
	[ -n "$relay_pid" ] && stop "$relay_pid" TERM 5
	stop "$be_pid" TERM 5
	if [ $rc != 0 ] || [ -z "$out" ]; then
		echo "ERROR: $kind round $r: front-end failed (rc $rc):" >&2
		cat "$dir"/*.err "$dir"/*.log >&2
		return 1
	fi
	if [ "$kind" = vuproxy_w ]; then
		check_trace "$dir/t.pcapng.gz" || return 1
	fi
	echo "$out" >"$dir/frontend.out"
	read -r RT_MEAN RT_P50 < <(awk '{for (i=1;i<=NF;i++) {split($i,kv,"="); v[kv[1]]=kv[2]}}
	     END{print v["mean_us"], v["p50_us"]}' <<<"$out")
}

KINDS=(direct floor vuproxy vuproxy_w vuproxy_rules)
[ -n "${VUPROXY_BASE:-}" ] && KINDS+=(vuproxy_base)
NK=${#KINDS[@]}
RULES=$WORK/rules$RT_RULES.yaml
make_rules "$RT_RULES" >"$RULES"
if ! "$VUPROXY" rules check "$RULES" >"$WORK/rules-check.log" 2>&1; then
	echo "ERROR: $RULES is not valid:" >&2
	cat "$WORK/rules-check.log" >&2
	exit 1
fi
echo "== round trip: $RT_ROUNDS rounds x {${KINDS[*]}}, $RT_N GET_FEATURES round trips each"
echo "   pinning: $PIN; load average at start: $(loadavg)"
echo "   vuproxy_w: -w t.pcapng.gz; vuproxy_rules: -r $(basename "$RULES") ($RT_RULES rules, none matches)"
declare -A MEANS P50S CPUS
for ((r = 1; r <= RT_ROUNDS; r++)); do
	line="   round $r:"
	# Rotating: over NK rounds every set-up runs once in every position.
	for ((k = 0; k < NK; k++)); do
		kind=${KINDS[$(((r - 1 + k) % NK))]}
		rt_once "$kind" "$r" || exit 1
		mean=$RT_MEAN p50=$RT_P50
		MEANS[$kind]+="$mean "; P50S[$kind]+="$p50 "; CPUS[$kind]+="$RT_CPU "
		line+=$(printf ' %s %.2f us (p50 %.2f)' "$kind" "$mean" "$p50")
	done
	echo "$line"
done
declare -A MED MEDP50 MEDCPU
for kind in "${KINDS[@]}"; do
	MED[$kind]=$(tr ' ' '\n' <<<"${MEANS[$kind]}" | grep . | median)
	MEDP50[$kind]=$(tr ' ' '\n' <<<"${P50S[$kind]}" | grep . | median)
	MEDCPU[$kind]=$(tr ' ' '\n' <<<"${CPUS[$kind]}" | grep . | median)
done
VF=$(ratio "${MED[vuproxy]}" "${MED[floor]}")
VD=$(ratio "${MED[vuproxy]}" "${MED[direct]}")
VF50=$(ratio "${MEDP50[vuproxy]}" "${MEDP50[floor]}")
# The cost of -w and of -r, each against plain vuproxy.
TW=$(ratio "${MED[vuproxy_w]}" "${MED[vuproxy]}")
TW50=$(ratio "${MEDP50[vuproxy_w]}" "${MEDP50[vuproxy]}")
RV=$(ratio "${MED[vuproxy_rules]}" "${MED[vuproxy]}")
RV50=$(ratio "${MEDP50[vuproxy_rules]}" "${MEDP50[vuproxy]}")
printf '   median us/round trip: direct %.2f  floor %.2f  vuproxy %.2f  vuproxy_w %.2f  vuproxy_rules %.2f\n' \
	"${MED[direct]}" "${MED[floor]}" "${MED[vuproxy]}" "${MED[vuproxy_w]}" "${MED[vuproxy_rules]}"
printf '   median of per-run p50: direct %.2f  floor %.2f  vuproxy %.2f  vuproxy_w %.2f  vuproxy_rules %.2f\n' \
	"${MEDP50[direct]}" "${MEDP50[floor]}" "${MEDP50[vuproxy]}" "${MEDP50[vuproxy_w]}" "${MEDP50[vuproxy_rules]}"
echo "   vuproxy/floor = $VF (target <= 1.2; p50 $VF50)   vuproxy/direct = $VD"
echo "   vuproxy_w/vuproxy = $TW (target <= 1.15; p50 $TW50)"
echo "   vuproxy_rules/vuproxy = $RV (target <= 1.05; p50 $RV50)"
printf '   vuproxy CPU us/message (utime+stime): vuproxy %.3f  vuproxy_w %.3f  vuproxy_rules %.3f\n' \
	"${MEDCPU[vuproxy]}" "${MEDCPU[vuproxy_w]}" "${MEDCPU[vuproxy_rules]}"
echo "   CPU: vuproxy_w/vuproxy = $(ratio "${MEDCPU[vuproxy_w]}" "${MEDCPU[vuproxy]}")  vuproxy_rules/vuproxy = $(ratio "${MEDCPU[vuproxy_rules]}" "${MEDCPU[vuproxy]}")"
if [ -n "${VUPROXY_BASE:-}" ]; then
	printf '   vuproxy_base (%s): %.2f us/round trip, CPU %.3f us/message; vuproxy/vuproxy_base = %s, CPU %s\n' \
		"$VUPROXY_BASE" "${MED[vuproxy_base]}" "${MEDCPU[vuproxy_base]}" \
		"$(ratio "${MED[vuproxy]}" "${MED[vuproxy_base]}")" \
		"$(ratio "${MEDCPU[vuproxy]}" "${MEDCPU[vuproxy_base]}")"
fi
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
		echo "rt_trace_us=${MED[vuproxy_w]}"
		echo "rt_trace_vuproxy=$TW"
		echo "rt_p50_trace_us=${MEDP50[vuproxy_w]}"
		echo "rt_p50_trace_vuproxy=$TW50"
		echo "rt_rules_us=${MED[vuproxy_rules]}"
		echo "rt_rules_vuproxy=$RV"
		echo "rt_p50_rules_us=${MEDP50[vuproxy_rules]}"
		echo "rt_p50_rules_vuproxy=$RV50"
		echo "rt_rules_count=$RT_RULES"
		echo "rt_cpu_vuproxy_us_msg=${MEDCPU[vuproxy]}"
		echo "rt_cpu_trace_us_msg=${MEDCPU[vuproxy_w]}"
		echo "rt_cpu_rules_us_msg=${MEDCPU[vuproxy_rules]}"
		echo "rt_pinning=$PIN"
	} >>"$RESULTS"
fi
