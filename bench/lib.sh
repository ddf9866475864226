# shellcheck shell=bash
# lib.sh - helpers shared by the benchmark scripts (sourced, not run).
# Every process is started under `timeout`, its PID remembered, and only
# those PIDs are ever signalled.

BENCH_PIDS=()

now() { date +%s.%N; }

# start LOG LIMIT_S SIGNAL CMD...: run CMD in the background under
# `timeout -s SIGNAL -k 5 LIMIT_S`, output to LOG; sets STARTED_PID.
start() {
	local log=$1 limit=$2 sig=$3
	shift 3
	timeout -s "$sig" -k 5 "$limit" "$@" </dev/null >"$log" 2>&1 &
	STARTED_PID=$!
	BENCH_PIDS+=("$STARTED_PID")
}

# stop PID SIGNAL [GRACE_S]: signal a process we started (timeout passes
# the signal on to its child) and wait for it; KILL its child, then it,
# if it is still there after GRACE_S.  Returns the process's status.
stop() {
	local pid=$1 sig=$2 grace=${3:-10} i
	kill -0 "$pid" 2>/dev/null && kill -s "$sig" "$pid" 2>/dev/null
	for ((i = 0; i < grace * 20; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.05
	done
	if kill -0 "$pid" 2>/dev/null; then
		echo "WARN: pid $pid ignored SIG$sig for ${grace}s; killing it" >&2
		local child
		for child in $(pgrep -P "$pid"); do kill -KILL "$child" 2>/dev/null; done
		kill -KILL "$pid" 2>/dev/null
	fi
	wait "$pid" 2>/dev/null
}

# Kill whatever we started that is still running (EXIT trap).
stop_all() {
	local p
	for p in "${BENCH_PIDS[@]}"; do
		kill -0 "$p" 2>/dev/null && stop "$p" INT 3
	done
	BENCH_PIDS=()
}

# wait_listen PATH TIMEOUT_S: until a unix socket listens on PATH
# (/proc/net/unix, flag __SO_ACCEPTCON), without connecting to it.
wait_listen() {
	local path=$1 end
	end=$(awk -v n="$(now)" -v t="$2" 'BEGIN{printf "%.3f", n + t}')
	until awk -v p="$path" '$4 == "00010000" && $NF == p {f=1} END{exit !f}' /proc/net/unix; do
		if awk -v n="$(now)" -v e="$end" 'BEGIN{exit !(n > e)}'; then
			echo "ERROR: nothing listens on $path after $2 s" >&2
			return 1
		fi
		sleep 0.005
	done
}

# wait_log FILE PATTERN TIMEOUT_S: until PATTERN (fixed string) appears in
# FILE; returns as soon as it is written (tail -F, inotify).
wait_log() {
	local rc
	timeout "$3" grep -m1 -q -F -- "$2" <(exec timeout "$3" tail -n +1 -F -s 0.01 "$1" 2>/dev/null)
	rc=$?
	# $! is the process substitution (timeout tail): ours, stop it.
	kill -TERM $! 2>/dev/null
	return $rc
}

# cpu_us PID: utime+stime of PID from /proc/PID/stat, in microseconds
# (clock-tick resolution, 10 ms); nothing when PID is gone.
cpu_us() {
	[ -r "/proc/$1/stat" ] || return 0
	awk -v hz="$(getconf CLK_TCK)" '{ sub(/^.*\) /, ""); print ($12 + $13) * 1000000 / hz }' \
		"/proc/$1/stat" 2>/dev/null
}

# child_of PID: the process PID started (under `timeout`, the program
# itself), waiting up to 1 s for it to appear; sets CHILD_PID.
child_of() {
	local i
	for ((i = 0; i < 100; i++)); do
		CHILD_PID=$(pgrep -P "$1" | head -n 1)
		[ -n "$CHILD_PID" ] && return 0
		sleep 0.01
	done
	return 1
}

# median of the numbers on stdin
median() {
	sort -g | awk '{a[NR]=$1} END{if (!NR) {print "nan"; exit}
		if (NR % 2) print a[(NR+1)/2]; else printf "%.6g\n", (a[NR/2]+a[NR/2+1])/2}'
}

# ratio A B -> A/B with 3 decimals
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{if (b+0 == 0) print "nan"; else printf "%.3f\n", a/b}'; }

loadavg() { cut -d' ' -f1-3 /proc/loadavg; }
