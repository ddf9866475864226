# tlib.sh - helpers for the trace tests.  Source it from a bash script
# running with `set -eu`:
#
#     . "$(dirname "$0")/tlib.sh"
#     t_init trace_something        # scratch dir $T_DIR, cleanup trap
#     t_need_cmd gzip jq            # a missing tool fails, never skips
#     t_start vp 30 "$VUPROXY" ...  # background, bounded, log in vp.log
#     t_stop vp                     # SIGINT, SIGKILL after a grace
#
# Every process runs under `timeout`, so nothing outlives its budget even
# if this script is killed; cleanup signals only the processes started
# here (by pid, checked against their parent), never by name; scratch files
# live in a fresh mktemp -d directory, removed on success and kept (with
# the tail of every log printed) on failure, or with T_KEEP=1.

declare -A T_PID=() # NAME -> pid of the `timeout` wrapping the program
declare -A T_RC=()  # NAME -> exit status once reaped
T_NAMES=()
T_CLEANUP=() # commands run at exit, quoted
T_DIR=
T_NAME=
T_FAILED=0

t_elapsed() {
	local now
	now=$(date +%s%N)
	printf '%d.%03d' $(((now - T_T0) / 1000000000)) \
		$(((now - T_T0) / 1000000 % 1000))
}

t_log() { printf '[%s %7ss] %s\n' "$T_NAME" "$(t_elapsed)" "$*"; }

t_fail() {
	T_FAILED=1
	printf '[%s %7ss] FAIL: %s\n' "$T_NAME" "$(t_elapsed)" "$*" >&2
	exit 1
}

t_need_cmd() {
	local c
	for c in "$@"; do
		command -v "$c" >/dev/null 2>&1 ||
			t_fail "required program '$c' not found in PATH"
	done
}

# t_need_exe VAR...: each variable names an executable file.
t_need_exe() {
	local v
	for v in "$@"; do
		[ -n "${!v:-}" ] || t_fail "$v is not set"
		[ -x "${!v}" ] || t_fail "$v=${!v} is not an executable file"
	done
}

t_init() {
	T_NAME=$1
	T_T0=$(date +%s%N)
	T_DIR=$(mktemp -d "${TMPDIR:-/tmp}/vup-trace.XXXXXX")
	trap t_cleanup EXIT
	trap 'T_FAILED=1; exit 130' INT
	trap 'T_FAILED=1; exit 143' TERM
	trap 'T_FAILED=1; exit 129' HUP
	t_log "scratch directory $T_DIR"
}

# t_on_exit CMD [ARGS...]: run CMD when the script exits, whatever the
# outcome.
t_on_exit() { T_CLEANUP+=("$(printf '%q ' "$@")"); }

# t_start NAME LIMIT CMD [ARGS...]: CMD in the background, stdout+stderr
# in $T_DIR/NAME.log, SIGINT after LIMIT seconds and SIGKILL 5 s later.
t_start() {
	local name=$1 limit=$2
	shift 2
	[ -z "${T_PID[$name]+x}" ] || t_fail "t_start: '$name' started twice"
	printf '%q ' "$@" >"$T_DIR/$name.cmd"
	echo >>"$T_DIR/$name.cmd"
	timeout -k 5 -s INT "$limit" "$@" </dev/null >"$T_DIR/$name.log" 2>&1 &
	T_PID[$name]=$!
	T_NAMES+=("$name")
	t_log "started $name (pid $!, limit ${limit}s): $*"
}

# True while pid $1 exists, is not a zombie, and its parent is $2 (default
# this shell): never signal a recycled pid.
t_pid_alive() {
	local pid=$1 parent=${2:-$$} stat rest
	[ -r "/proc/$pid/stat" ] || return 1
	read -r stat <"/proc/$pid/stat" 2>/dev/null || return 1
	rest=${stat##*) }
	set -- $rest
	[ "$1" != Z ] && [ "$2" = "$parent" ]
}

t_alive() {
	local pid=${T_PID[$1]:-}
	[ -n "$pid" ] && [ -z "${T_RC[$1]+x}" ] && t_pid_alive "$pid"
}

# t_child_of PID: the (first) child process of PID.
t_child_of() {
	local parent=$1 f stat rest
	for f in /proc/[0-9]*/stat; do
		read -r stat <"$f" 2>/dev/null || continue
		rest=${stat##*) }
		set -- $rest
		[ "${2:-}" = "$parent" ] || continue
		f=${f#/proc/}
		echo "${f%/stat}"
		return 0
	done
	return 1
}

# The program's own pid: the child of its `timeout` wrapper.
t_prog_pid() { t_child_of "${T_PID[$1]}"; }

# t_reap NAME: wait for the wrapper, record the status in T_RC[NAME].
t_reap() {
	local rc=0
	wait "${T_PID[$1]}" 2>/dev/null || rc=$?
	T_RC[$1]=$rc
	t_log "$1 exited with status $rc"
}

# t_signal NAME SIG: send SIG to the program itself, once.  Not through
# its `timeout` wrapper: timeout passes a signal on to the program and then
# to its whole process group, so the program would get it twice.
t_signal() {
	local c
	c=$(t_prog_pid "$1") || t_fail "t_signal: $1 has no running program"
	kill "-$2" "$c"
}

# t_stop NAME [GRACE]: SIGINT to the program, wait up to GRACE s (default
# 15), then SIGKILL the program and its wrapper.
t_stop() {
	local name=$1 grace=${2:-15} pid=${T_PID[$1]:-} end c
	[ -n "$pid" ] || t_fail "t_stop: no process named '$name'"
	[ -z "${T_RC[$name]+x}" ] || return 0
	if t_pid_alive "$pid"; then
		c=$(t_prog_pid "$name") && kill -INT "$c" 2>/dev/null || true
		end=$(($(date +%s) + grace))
		while t_pid_alive "$pid" && [ "$(date +%s)" -lt "$end" ]; do
			sleep 0.05
		done
		if t_pid_alive "$pid"; then
			t_log "$name did not exit ${grace}s after SIGINT; killing it"
			c=$(t_prog_pid "$name") && kill -KILL "$c" 2>/dev/null || true
			kill -KILL "$pid" 2>/dev/null || true
		fi
	fi
	t_reap "$name"
}

# t_term NAME [GRACE]: SIGTERM to the program, then wait for the exit
# like t_wait_exit.
t_term() {
	t_signal "$1" TERM
	t_wait_exit "$1" "${2:-15}"
}

# t_kill_if_ours PID MARKER: SIGKILL PID if it still runs with MARKER (a
# path in our scratch directory) in its command line.
t_kill_if_ours() {
	tr '\0' ' ' 2>/dev/null <"/proc/$1/cmdline" | grep -qF -- "$2" || return 0
	kill -KILL "$1" 2>/dev/null || true
}

# t_kill9 NAME: SIGKILL the program itself (not its wrapper): a crash.
t_kill9() {
	local c
	c=$(t_prog_pid "$1") || t_fail "t_kill9: $1 has no running program"
	kill -KILL "$c"
	t_reap "$1"
}

# t_wait_exit NAME TIMEOUT: wait for NAME to exit by itself, then reap it;
# fail after TIMEOUT seconds.
t_wait_exit() {
	local end=$(($(date +%s) + $2))
	while t_alive "$1"; do
		[ "$(date +%s)" -lt "$end" ] ||
			t_fail "$1 did not exit within $2 s"
		sleep 0.05
	done
	t_reap "$1"
}

# t_wait TIMEOUT WHAT CMD [ARGS...]: poll CMD until it succeeds; fail
# after TIMEOUT seconds, or as soon as a process we started exits.
t_wait() {
	local timeout=$1 what=$2 end name
	shift 2
	end=$(($(date +%s%N) + timeout * 1000000000))
	while ! "$@"; do
		for name in "${T_NAMES[@]}"; do
			[ -n "${T_RC[$name]+x}" ] || t_alive "$name" ||
				t_fail "$name exited while waiting for $what"
		done
		[ "$(date +%s%N)" -lt "$end" ] ||
			t_fail "timed out after ${timeout}s waiting for $what"
		sleep 0.05
	done
}

t_log_has() { grep -qF -- "$2" "$T_DIR/$1.log" 2>/dev/null; }

# Some process listens on the unix socket PATH (/proc/net/unix flag
# __SO_ACCEPTCON).
t_unix_listening() {
	awk -v p="$1" '$4 == "00010000" && $NF == p { found = 1 }
	               END { exit !found }' /proc/net/unix
}

t_check_sun_path() {
	[ "${#1}" -lt 108 ] ||
		t_fail "socket path too long for AF_UNIX (${#1} bytes): $1; set TMPDIR to a shorter directory"
}

# t_expect_eq WHAT GOT WANT
t_expect_eq() {
	[ "$2" = "$3" ] || t_fail "$1: got '$2', expected '$3'"
}

# t_mode PATH: its permission bits, octal.
t_mode() { stat -c %a "$1"; }

# t_vuproxy_umask0 NAME LIMIT ARGS...: start $VUPROXY ARGS under umask 000
# (its trace must be 0600 all the same).
t_vuproxy_umask0() {
	local name=$1 limit=$2
	shift 2
	t_start "$name" "$limit" sh -c 'umask 000 && exec "$@"' sh "$VUPROXY" "$@"
}

t_dump_logs() {
	local f
	for f in "$T_DIR"/*.log "$T_DIR"/*.err; do
		[ -e "$f" ] || continue
		printf '\n----- last 30 lines of %s -----\n' "$f"
		tail -n 30 "$f" | sed 's/\x1b\[[0-9;]*[A-Za-z]//g'
	done
	printf '\n'
}

t_cleanup() {
	local rc=$? name c
	trap - EXIT INT TERM HUP
	[ "$rc" = 0 ] || T_FAILED=1
	for name in "${T_NAMES[@]}"; do
		if [ -z "${T_RC[$name]+x}" ] && t_alive "$name"; then
			t_stop "$name" 3 || true
		fi
	done
	for c in "${T_CLEANUP[@]}"; do
		eval "$c" || true
	done
	if [ "$T_FAILED" != 0 ]; then
		if [ -n "$T_DIR" ] && [ -d "$T_DIR" ]; then
			t_dump_logs >&2
			printf '[%s] files kept in %s\n' "$T_NAME" "$T_DIR" >&2
		fi
		[ "$rc" != 0 ] || rc=1
	elif [ "${T_KEEP:-0}" = 1 ]; then
		t_log "files kept in $T_DIR (T_KEEP=1)"
	elif [ -n "$T_DIR" ]; then
		rm -rf -- "$T_DIR"
	fi
	exit "$rc"
}

# t_peer_run NAME COUNT PAD: one trace_peer session through the vuproxy
# started by t_vuproxy_for_peer NAME: COUNT numbered messages (see
# trace_peer.c); sets T_PEER_MSGS to the messages vuproxy relayed.
t_peer_run() {
	local name=$1 count=$2 pad=$3 k=${T_PEER_RUNS[$1]:-0}
	k=$((k + 1))
	T_PEER_RUNS[$1]=$k
	timeout -k 5 60 "$TRACE_PEER" "$T_DIR/$name-fe.sock" "$T_DIR/$name-be.sock" \
		"$count" "$pad" >"$T_DIR/$name-peer$k.out" 2>"$T_DIR/$name-peer$k.err" ||
		t_fail "trace_peer run $k through $name failed: $(cat "$T_DIR/$name-peer$k.err")"
	T_PEER_MSGS=$(awk '$1 == "messages" { print $2 }' "$T_DIR/$name-peer$k.out")
}
declare -A T_PEER_RUNS=()

# t_vuproxy_for_peer NAME TRACE [ARGS...]: vuproxy -w TRACE with the
# sockets t_peer_run uses, under umask 000; waits until it listens.
t_vuproxy_for_peer() {
	local name=$1 trace=$2
	shift 2
	t_check_sun_path "$T_DIR/$name-fe.sock"
	t_vuproxy_umask0 "$name" 60 --frontend "listen:$T_DIR/$name-fe.sock" \
		--backend "connect:$T_DIR/$name-be.sock" -w "$trace" "$@"
	t_wait 10 "$name to listen" t_unix_listening "$T_DIR/$name-fe.sock"
}

# t_messages_written NAME: N from vuproxy's "N messages written to" line.
t_messages_written() {
	sed -n 's/^vuproxy: \([0-9][0-9]*\) messages written to .*/\1/p' \
		"$T_DIR/$1.log" | tail -n 1
}

# t_dump OUT ARGS...: run `vuproxy dump ARGS`, stdout in OUT, stderr in
# OUT.err; the exit status in T_DUMP_RC.
t_dump() {
	local out=$1
	shift
	T_DUMP_RC=0
	timeout 60 "$VUPROXY" dump "$@" >"$out" 2>"$out.err" || T_DUMP_RC=$?
}
