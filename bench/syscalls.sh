#!/bin/bash
# syscalls.sh - system calls and CPU per message of vuproxy's relay against
# the floor relay (bench-floor-relay: poll, recvmsg of the header, of the
# payload, sendmsg), both relaying GET_FEATURES round trips between
# bench-rt-frontend and bench-rt-backend (as in rt.sh).  In one run:
#   1. strace -c -f attached to each relay while it relays SC_STRACE_N
#      round trips: recvmsg (and how many said EAGAIN), sendmsg, the wait
#      (epoll_wait / poll) and all calls, per message (two per round trip);
#   2. SC_ROUNDS rounds of SC_N round trips through each relay, untraced,
#      the two in alternating order: the relay's utime+stime per round
#      trip; the medians and vuproxy/floor (target <= 1.10).
# The relay's CPU is what it spent in all (start-up included, a few ms):
# vuproxy's read from /proc before it is stopped, the floor relay's
# printed by itself as it exits (getrusage).
#
# Needs VUPROXY (the binary), BENCH_BIN (dir of the bench-* programs),
# strace.  Knobs: SC_N=200000 SC_STRACE_N=21000 SC_WARMUP=2000 SC_ROUNDS=5
#   SC_CPU=1 (every process pinned to it)  SC_LIMIT=120 (s, per process)
#   VUPROXY_BASE=another vuproxy binary, measured too (before/after)
#   WORK=dir for logs (default mktemp; KEEP=1 keeps it)
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"
: "${VUPROXY:?set VUPROXY to the vuproxy binary}" "${BENCH_BIN:?set BENCH_BIN}"
command -v strace >/dev/null || { echo "syscalls.sh: strace missing" >&2; exit 1; }
SC_N=${SC_N:-200000}; SC_STRACE_N=${SC_STRACE_N:-21000}
SC_WARMUP=${SC_WARMUP:-2000}; SC_ROUNDS=${SC_ROUNDS:-5}
SC_CPU=${SC_CPU:-1}; SC_LIMIT=${SC_LIMIT:-120}
OWN_WORK=0
if [ -z "${WORK:-}" ]; then WORK=$(mktemp -d /tmp/vuproxy-bench-sc.XXXXXX); OWN_WORK=1; fi
trap 'stop_all; [ $OWN_WORK = 1 ] && [ "${KEEP:-0}" != 1 ] && rm -rf "$WORK"' EXIT
trap 'exit 130' INT TERM

# relay_start KIND DIR: the back-end, then the relay KIND (floor, vuproxy,
# vuproxy_base) in front of it; sets BE_PID, RELAY_PID (timeout's) and
# RELAY_CHILD (the relay itself).
relay_start() {
	local kind=$1 dir=$2 bin=$VUPROXY
	start "$dir/backend.log" "$SC_LIMIT" TERM taskset -c "$SC_CPU" \
		"$BENCH_BIN/bench-rt-backend" "$dir/be.sock"
	BE_PID=$STARTED_PID
	wait_listen "$dir/be.sock" 10 || return 1
	case $kind in
	floor)
		start "$dir/relay.log" "$SC_LIMIT" TERM taskset -c "$SC_CPU" \
			"$BENCH_BIN/bench-floor-relay" "$dir/fe.sock" "$dir/be.sock" ;;
	vuproxy*)
		[ "$kind" = vuproxy_base ] && bin=$VUPROXY_BASE
		start "$dir/relay.log" "$SC_LIMIT" TERM taskset -c "$SC_CPU" \
			"$bin" -q --frontend "listen:$dir/fe.sock" \
			--backend "connect:$dir/be.sock" ;;
	esac
	RELAY_PID=$STARTED_PID
	wait_listen "$dir/fe.sock" 10 || return 1
	child_of "$RELAY_PID" && RELAY_CHILD=$CHILD_PID && return 0
	echo "ERROR: $kind: no relay process under $RELAY_PID" >&2
	return 1
}

# frontend DIR N: N round trips (and the warm-up) through DIR/fe.sock.
frontend() {
	timeout -k 5 "$SC_LIMIT" taskset -c "$SC_CPU" "$BENCH_BIN/bench-rt-frontend" \
		-n "$2" -w "$SC_WARMUP" "$1/fe.sock" >"$1/frontend.out" 2>"$1/frontend.err" || {
		echo "ERROR: front-end failed in $1:" >&2
		cat "$1"/*.err "$1"/*.log >&2
		return 1
	}
}

# strace_once KIND: sets SC_LINE to "recvmsg eagain sendmsg wait total",
# per message.  (Not run in $(...): the PIDs it starts must stay visible
# to stop_all.)
strace_once() {
	local kind=$1 dir=$WORK/strace-$1 st msgs
	mkdir -p "$dir"
	relay_start "$kind" "$dir" || return 1
	start "$dir/strace.err" "$SC_LIMIT" INT strace -c -f -o "$dir/strace.out" -p "$RELAY_CHILD"
	st=$STARTED_PID
	wait_log "$dir/strace.err" "attached" 10 || { echo "ERROR: strace did not attach" >&2; return 1; }
	frontend "$dir" "$SC_STRACE_N" || return 1
	stop "$st" INT 10 # detach: strace writes its summary
	stop "$RELAY_PID" TERM 5
	stop "$BE_PID" TERM 5
	msgs=$((2 * (SC_STRACE_N + SC_WARMUP)))
	SC_LINE=$(awk -v m="$msgs" '
		$NF ~ /^[a-z_0-9]+$/ && $NF != "total" && $4 ~ /^[0-9]+$/ {
			calls[$NF] = $4; err[$NF] = (NF == 6 ? $5 : 0); total += $4 }
		END {
			w = calls["epoll_wait"] + calls["epoll_pwait"] + calls["poll"] + calls["ppoll"]
			printf "%.3f %.3f %.3f %.3f %.3f\n", calls["recvmsg"] / m, err["recvmsg"] / m,
				calls["sendmsg"] / m, w / m, total / m }' "$dir/strace.out")
}

# cpu_once KIND ROUND: sets CPU_RT, the relay's CPU us per round trip.
cpu_once() {
	local kind=$1 dir=$WORK/cpu-$2-$1 us=""
	mkdir -p "$dir"
	relay_start "$kind" "$dir" || return 1
	frontend "$dir" "$SC_N" || return 1
	if [ "$kind" = floor ]; then
		# It ends as the front-end hangs up, printing its CPU time.
		wait_log "$dir/relay.log" "cpu_us=" 10
		stop "$RELAY_PID" TERM 5
		us=$(sed -n 's/.*cpu_us=\([0-9]*\).*/\1/p' "$dir/relay.log")
	else
		us=$(cpu_us "$RELAY_CHILD")
		stop "$RELAY_PID" TERM 5
	fi
	stop "$BE_PID" TERM 5
	[ -n "$us" ] || { echo "ERROR: $kind: no CPU time (see $dir)" >&2; return 1; }
	CPU_RT=$(awk -v us="$us" -v n=$((SC_N + SC_WARMUP)) 'BEGIN { printf "%.3f", us / n }')
}

KINDS=(floor vuproxy)
[ -n "${VUPROXY_BASE:-}" ] && KINDS+=(vuproxy_base)
NK=${#KINDS[@]}
echo "== system calls and CPU per message: relays of GET_FEATURES round trips"
echo "   every process on CPU $SC_CPU; load average at start: $(loadavg)"
echo "   strace -c -f, $SC_STRACE_N round trips (+$SC_WARMUP warm-up), per message relayed:"
for kind in "${KINDS[@]}"; do
	strace_once "$kind" || exit 1
	read -r rv ea sm wt tot <<<"$SC_LINE"
	[ -n "${tot:-}" ] || { echo "ERROR: no strace summary for $kind" >&2; exit 1; }
	printf '   %-13s recvmsg %s (EAGAIN %s)  sendmsg %s  epoll_wait/poll %s  all %s\n' \
		"$kind" "$rv" "$ea" "$sm" "$wt" "$tot"
done
echo "   CPU (utime+stime) per round trip, $SC_ROUNDS rounds of $SC_N round trips:"
declare -A CPUS MED
for ((r = 1; r <= SC_ROUNDS; r++)); do
	line="   round $r:"
	for ((k = 0; k < NK; k++)); do
		kind=${KINDS[$(((r - 1 + k) % NK))]}
		cpu_once "$kind" "$r" || exit 1
		CPUS[$kind]+="$CPU_RT "
		line+=$(printf ' %s %.2f us' "$kind" "$CPU_RT")
	done
	echo "$line"
done
for kind in "${KINDS[@]}"; do
	MED[$kind]=$(tr ' ' '\n' <<<"${CPUS[$kind]}" | grep . | median)
done
R=$(ratio "${MED[vuproxy]}" "${MED[floor]}")
met=met; awk -v r="$R" 'BEGIN { exit !(r > 1.10) }' && met="NOT met"
printf '   median CPU us/round trip: floor %.2f  vuproxy %.2f\n' "${MED[floor]}" "${MED[vuproxy]}"
echo "   vuproxy/floor CPU = $R (target <= 1.10: $met)"
if [ -n "${VUPROXY_BASE:-}" ]; then
	printf '   vuproxy_base (%s): %.2f us/round trip; vuproxy_base/floor = %s, vuproxy/vuproxy_base = %s\n' \
		"$VUPROXY_BASE" "${MED[vuproxy_base]}" "$(ratio "${MED[vuproxy_base]}" "${MED[floor]}")" \
		"$(ratio "${MED[vuproxy]}" "${MED[vuproxy_base]}")"
fi
echo "   load average at end: $(loadavg)"
