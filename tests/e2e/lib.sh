# shellcheck shell=bash
# lib.sh - shared helpers for vuproxy's end-to-end and trace tests (the one
# shell library of tests/).  Source it from a bash script that runs with
# `set -eu`:
#
#     . "$(dirname "$0")/lib.sh"
#     e2e_init my_test                   # scratch dir $E2E_DIR, cleanup trap
#     e2e_need_cmd dpdk-testpmd          # missing tool = failure, not a skip
#     e2e_start be 60 some-server --sock "$E2E_DIR/be.sock"
#     e2e_wait 30 "be listening" e2e_unix_listening "$E2E_DIR/be.sock"
#     e2e_stop be                        # SIGINT, then SIGKILL after a grace
#     [ "${E2E_RC[be]}" = 0 ] || e2e_fail "be exited with ${E2E_RC[be]}"
#
# Rules this file enforces, because several people run tests on the same
# machine at the same time:
# - every process is started under `timeout`, so nothing outlives its
#   budget even if this script is killed with SIGKILL;
# - cleanup signals only processes this script started (checked by parent
#   pid, so a recycled pid is never hit) and, as a last resort, the process
#   group that their `timeout` wrapper created; never anything by name;
# - scratch files live in a fresh mktemp -d directory, never a fixed path.
# On failure the scratch directory is kept and the tail of every log in it
# is printed; on success it is removed (set E2E_KEEP=1 to keep it).
#
# Each process has a NAME; its stdout+stderr go to $E2E_DIR/NAME.log and
# its command line to $E2E_DIR/NAME.cmd.  Call these functions from the
# script's main shell, not from $(...) or a pipeline: they keep their state
# in shell variables, and e2e_fail must end the script, not a subshell.

declare -A E2E_PID=()   # NAME -> pid of the `timeout` wrapping the process
declare -A E2E_RC=()    # NAME -> exit status, once e2e_stop has reaped it
E2E_NAMES=()            # NAMEs in start order
E2E_CLEANUP=()          # extra cleanup commands (quoted strings, eval'd)
E2E_ON_FAIL=()          # diagnostics to print on failure (same form)
E2E_DIR=
E2E_NAME=${0##*/}
E2E_T0=$(date +%s%N)
E2E_FAILED=0
E2E_TAIL_LINES=${E2E_TAIL_LINES:-40}

# Seconds since e2e_init, with milliseconds.
e2e_elapsed() {
	local now
	now=$(date +%s%N)
	printf '%d.%03d' $(((now - E2E_T0) / 1000000000)) \
		$(((now - E2E_T0) / 1000000 % 1000))
}

e2e_log() { printf '[%s %7ss] %s\n' "$E2E_NAME" "$(e2e_elapsed)" "$*"; }

# Fail the test: the EXIT trap stops our processes, prints log tails and
# keeps the scratch directory.
e2e_fail() {
	E2E_FAILED=1
	printf '[%s %7ss] FAIL: %s\n' "$E2E_NAME" "$(e2e_elapsed)" "$*" >&2
	exit 1
}

# A missing tool fails the test: a test that skips silently can hide a
# broken CI image for months.
e2e_need_cmd() {
	local c
	for c in "$@"; do
		command -v "$c" >/dev/null 2>&1 ||
			e2e_fail "required program '$c' not found in PATH"
	done
}

# e2e_need_exe VAR...: each variable names an executable file (a program
# of the build, passed in by CTest).
e2e_need_exe() {
	local v
	for v in "$@"; do
		[ -n "${!v:-}" ] || e2e_fail "$v is not set"
		[ -x "${!v}" ] || e2e_fail "$v=${!v} is not an executable file"
	done
}

# e2e_init NAME: scratch directory, start time, traps.
e2e_init() {
	E2E_NAME=$1
	E2E_T0=$(date +%s%N)
	E2E_DIR=$(mktemp -d "${TMPDIR:-/tmp}/vup-e2e.XXXXXX")
	trap e2e_cleanup EXIT
	# A signal ends the script through the EXIT trap, so the processes
	# started so far are stopped there too.
	trap 'E2E_FAILED=1; exit 130' INT
	trap 'E2E_FAILED=1; exit 143' TERM
	trap 'E2E_FAILED=1; exit 129' HUP
	e2e_log "scratch directory $E2E_DIR"
}

# e2e_on_exit CMD [ARGS...]: run CMD when the script exits (any outcome).
e2e_on_exit() {
	local q
	q=$(printf '%q ' "$@")
	E2E_CLEANUP+=("$q")
}

# e2e_on_fail CMD [ARGS...]: on failure, run CMD (after the processes are
# stopped, before the log tails are printed), e.g. to explain a mismatch.
e2e_on_fail() {
	local q
	q=$(printf '%q ' "$@")
	E2E_ON_FAIL+=("$q")
}

# e2e_start NAME LIMIT CMD [ARGS...]: run CMD in the background, bounded
# to LIMIT seconds.  SIGINT is the timeout signal because the programs we
# drive (testpmd, vuproxy, QEMU) all shut down cleanly and print their
# statistics on it; SIGKILL follows 5 s later if they do not.
e2e_start() {
	local name=$1 limit=$2
	shift 2
	[ -z "${E2E_PID[$name]+x}" ] || e2e_fail "e2e_start: '$name' started twice"
	printf '%q ' "$@" >"$E2E_DIR/$name.cmd"
	echo >>"$E2E_DIR/$name.cmd"
	timeout -k 5 -s INT "$limit" "$@" </dev/null >"$E2E_DIR/$name.log" 2>&1 &
	E2E_PID[$name]=$!
	E2E_NAMES+=("$name")
	e2e_log "started $name (pid $!, limit ${limit}s): $*"
}

# True while pid $1 exists, is not a zombie and is a child of $2 (default
# this shell): the parent check keeps us from signalling a recycled pid.
e2e_pid_alive() {
	local pid=$1 parent=${2:-$$} stat state ppid
	{ read -r stat <"/proc/$pid/stat"; } 2>/dev/null || return 1
	# Fields after the command name, which may hold spaces: state ppid ...
	read -r state ppid _ <<<"${stat##*) }"
	[ "$state" != Z ] && [ "$ppid" = "$parent" ]
}

# e2e_alive NAME: the process started as NAME has not exited.
e2e_alive() {
	local pid=${E2E_PID[$1]:-}
	[ -n "$pid" ] && [ -z "${E2E_RC[$1]+x}" ] && e2e_pid_alive "$pid"
}

# e2e_prog_pid NAME: the program's own pid, the child of its `timeout`
# wrapper; fails when it has none.
e2e_prog_pid() { e2e_child_of "${E2E_PID[$1]}"; }

# e2e_reap NAME: wait for NAME's wrapper; its exit status goes to
# E2E_RC[NAME]: the program's own status, 124 if its time limit ran out,
# 128+N if a signal killed it.
e2e_reap() {
	local rc=0
	wait "${E2E_PID[$1]}" 2>/dev/null || rc=$?
	E2E_RC[$1]=$rc
	e2e_log "$1 exited with status $rc"
}

# e2e_stop NAME [GRACE]: SIGINT the program, wait up to GRACE seconds
# (default 15), then SIGKILL the program and its wrapper; then e2e_reap.
#
# The signal goes to the program itself, never through its timeout
# wrapper: timeout passes it on, then sends it and a SIGCONT to its whole
# group.  That late SIGCONT discards the SIGSTOP with which
# LeakSanitizer's exit-time check (ptrace) stops the process, and the
# check then waits forever: an ASan build "hangs" at exit.
e2e_stop() {
	local name=$1 grace=${2:-15} pid=${E2E_PID[$1]:-} end c
	[ -n "$pid" ] || e2e_fail "e2e_stop: no process named '$name'"
	[ -z "${E2E_RC[$name]+x}" ] || return 0
	if e2e_pid_alive "$pid"; then
		c=$(e2e_children_of "$pid")
		kill -INT ${c:-$pid} 2>/dev/null || true
		end=$(($(date +%s) + grace))
		while e2e_pid_alive "$pid" && [ "$(date +%s)" -lt "$end" ]; do
			sleep 0.05
		done
		if e2e_pid_alive "$pid"; then
			e2e_log "$name did not exit ${grace}s after SIGINT; killing it"
			e2e_kill_tree "$pid"
		fi
	fi
	e2e_reap "$name"
}

# e2e_signal NAME SIG: send SIG to the program itself, once (not through
# its wrapper: see e2e_stop).
e2e_signal() {
	local c
	c=$(e2e_prog_pid "$1") || e2e_fail "e2e_signal: $1 has no running program"
	kill "-$2" "$c"
}

# e2e_term NAME [GRACE]: SIGTERM to the program, then e2e_wait_exit.
e2e_term() {
	e2e_signal "$1" TERM
	e2e_wait_exit "$1" "${2:-15}"
}

# e2e_kill9 NAME: SIGKILL the program itself (not its wrapper): a crash.
e2e_kill9() {
	local c
	c=$(e2e_prog_pid "$1") || e2e_fail "e2e_kill9: $1 has no running program"
	kill -KILL "$c"
	e2e_reap "$1"
}

# e2e_kill_if_ours PID MARKER: SIGKILL PID if it still runs with MARKER (a
# path in our scratch directory) in its command line: for a grandchild
# that cleanup would not reach otherwise.
e2e_kill_if_ours() {
	tr '\0' ' ' 2>/dev/null <"/proc/$1/cmdline" | grep -qF -- "$2" || return 0
	kill -KILL "$1" 2>/dev/null || true
}

# e2e_wait_exit NAME TIMEOUT: wait for NAME to exit by itself, then reap
# it; fail after TIMEOUT seconds.
e2e_wait_exit() {
	local end=$(($(date +%s) + $2))
	while e2e_alive "$1"; do
		[ "$(date +%s)" -lt "$end" ] ||
			e2e_fail "$1 did not exit within $2 s"
		sleep 0.05
	done
	e2e_reap "$1"
}

# SIGKILL our timeout wrapper $1 and everything under it.  timeout runs in
# a process group of its own (it calls setpgid(0, 0)), which holds only
# the program it started and that program's descendants: kill that group,
# as timeout itself does when the limit runs out.  Should the group not be
# the wrapper's own, fall back to the wrapper's direct children.
e2e_kill_tree() {
	local pid=$1 stat pgrp c
	{ read -r stat <"/proc/$pid/stat"; } 2>/dev/null || return 0
	read -r _ _ pgrp _ <<<"${stat##*) }"
	if [ "$pgrp" = "$pid" ]; then
		kill -KILL -- "-$pid" 2>/dev/null || true
	else
		for c in $(e2e_children_of "$pid"); do
			kill -KILL "$c" 2>/dev/null || true
		done
		kill -KILL "$pid" 2>/dev/null || true
	fi
}

# Pids whose parent is $1.
e2e_children_of() {
	local parent=$1 f stat ppid
	for f in /proc/[0-9]*/stat; do
		{ read -r stat <"$f"; } 2>/dev/null || continue
		read -r _ ppid _ <<<"${stat##*) }"
		[ "$ppid" = "$parent" ] || continue
		f=${f#/proc/}
		echo "${f%/stat}"
	done
}

# e2e_child_of PID: the first child of PID; fails when it has none.
e2e_child_of() {
	local c
	c=$(e2e_children_of "$1")
	[ -n "$c" ] || return 1
	echo "${c%%$'\n'*}"
}

# e2e_wait TIMEOUT WHAT CMD [ARGS...]: poll CMD until it succeeds (TIMEOUT
# in whole seconds, WHAT says what we wait for in the failure message).  Fails
# the test after TIMEOUT seconds, or as soon as any process we started
# (and have not stopped) exits: waiting on would only hide the cause.
e2e_wait() {
	local timeout=$1 what=$2 end name
	shift 2
	end=$(($(date +%s%N) + timeout * 1000000000))
	while ! "$@"; do
		for name in "${E2E_NAMES[@]}"; do
			[ -n "${E2E_RC[$name]+x}" ] || e2e_alive "$name" ||
				e2e_fail "$name exited while waiting for $what"
		done
		[ "$(date +%s%N)" -lt "$end" ] ||
			e2e_fail "timed out after ${timeout}s waiting for $what"
		sleep 0.05
	done
}

# e2e_log_has NAME STRING: NAME's log contains STRING (fixed string).
e2e_log_has() { grep -qF -- "$2" "$E2E_DIR/$1.log" 2>/dev/null; }

# e2e_unix_listening PATH: some process listens on the unix socket PATH.
# Better than waiting for a log line, which may be printed before
# listen(2) is called: a connect in that window is refused.
e2e_unix_listening() {
	# /proc/net/unix: Num RefCount Protocol Flags Type St Inode Path;
	# Flags 00010000 is __SO_ACCEPTCON, i.e. listening.
	awk -v p="$1" '$4 == "00010000" && $NF == p { found = 1 }
	               END { exit !found }' /proc/net/unix
}

# e2e_check_sun_path PATH: unix socket paths are limited to 107 bytes.
e2e_check_sun_path() {
	[ "${#1}" -lt 108 ] ||
		e2e_fail "socket path too long for AF_UNIX (${#1} bytes): $1;" \
			"set TMPDIR to a shorter directory"
}

# e2e_expect_eq WHAT GOT WANT
e2e_expect_eq() {
	[ "$2" = "$3" ] || e2e_fail "$1: got '$2', expected '$3'"
}

# e2e_mode PATH: its permission bits, octal.
e2e_mode() { stat -c %a "$1"; }

# Lines of a log worth showing on failure.  A test may redefine this to
# drop its programs' periodic noise (read stdin, write stdout).
e2e_log_filter() { cat; }

# Print the last lines of every log (and of every .err a test wrote),
# terminal escape sequences removed.
e2e_dump_logs() {
	local f
	for f in "$E2E_DIR"/*.log "$E2E_DIR"/*.err; do
		[ -e "$f" ] || continue
		printf '\n----- %s (last %s lines shown) -----\n' "$f" "$E2E_TAIL_LINES"
		sed 's/\x1b\[[0-9;]*[A-Za-z]//g' "$f" | e2e_log_filter |
			tail -n "$E2E_TAIL_LINES"
	done
	printf '\n'
}

e2e_cleanup() {
	local rc=$? name c
	trap - EXIT INT TERM HUP
	[ "$rc" = 0 ] || E2E_FAILED=1
	# Stop what still runs; also reap what already died, so that its exit
	# status is in the output.
	for name in "${E2E_NAMES[@]}"; do
		[ -n "${E2E_RC[$name]+x}" ] || e2e_stop "$name" 3 || true
	done
	for c in "${E2E_CLEANUP[@]}"; do
		eval "$c" || true
	done
	if [ "$E2E_FAILED" != 0 ]; then
		# Nothing was started yet: nothing worth keeping.
		[ -z "$E2E_DIR" ] || rmdir -- "$E2E_DIR" 2>/dev/null || true
		if [ -n "$E2E_DIR" ] && [ -d "$E2E_DIR" ]; then
			for c in "${E2E_ON_FAIL[@]}"; do
				eval "$c" >&2 || true
			done
			e2e_dump_logs >&2
			printf '[%s] logs kept in %s\n' "$E2E_NAME" "$E2E_DIR" >&2
		fi
		[ "$rc" != 0 ] || rc=1
	elif [ "${E2E_KEEP:-0}" = 1 ]; then
		e2e_log "logs kept in $E2E_DIR (E2E_KEEP=1)"
	elif [ -n "$E2E_DIR" ]; then
		rm -rf -- "$E2E_DIR"
	fi
	exit "$rc"
}

# ---- vuproxy with trace_peer, `vuproxy dump` (the trace tests) ----

# e2e_vuproxy_umask0 NAME LIMIT ARGS...: start $VUPROXY ARGS under umask
# 000 (its trace must be 0600 all the same).
e2e_vuproxy_umask0() {
	local name=$1 limit=$2
	shift 2
	e2e_start "$name" "$limit" sh -c 'umask 000 && exec "$@"' sh "$VUPROXY" "$@"
}

# e2e_vuproxy_for_peer NAME TRACE [ARGS...]: vuproxy -w TRACE with the
# sockets e2e_peer_run uses, under umask 000; waits until it listens.
e2e_vuproxy_for_peer() {
	local name=$1 trace=$2
	shift 2
	e2e_check_sun_path "$E2E_DIR/$name-fe.sock"
	e2e_vuproxy_umask0 "$name" 60 --frontend "listen:$E2E_DIR/$name-fe.sock" \
		--backend "connect:$E2E_DIR/$name-be.sock" -w "$trace" "$@"
	e2e_wait 10 "$name to listen" e2e_unix_listening "$E2E_DIR/$name-fe.sock"
}

# e2e_peer_run NAME COUNT PAD: one $TRACE_PEER session through the vuproxy
# started by e2e_vuproxy_for_peer NAME: COUNT numbered messages (see
# tests/trace/trace_peer.c); sets E2E_PEER_MSGS to the messages vuproxy
# relayed.
declare -A E2E_PEER_RUNS=()
e2e_peer_run() {
	local name=$1 count=$2 pad=$3 k=${E2E_PEER_RUNS[$1]:-0}
	k=$((k + 1))
	E2E_PEER_RUNS[$1]=$k
	timeout -k 5 60 "$TRACE_PEER" "$E2E_DIR/$name-fe.sock" "$E2E_DIR/$name-be.sock" \
		"$count" "$pad" >"$E2E_DIR/$name-peer$k.out" 2>"$E2E_DIR/$name-peer$k.err" ||
		e2e_fail "trace_peer run $k through $name failed: $(cat "$E2E_DIR/$name-peer$k.err")"
	# shellcheck disable=SC2034 # the caller's result
	E2E_PEER_MSGS=$(awk '$1 == "messages" { print $2 }' "$E2E_DIR/$name-peer$k.out")
}

# e2e_messages_written NAME: N from vuproxy's "N messages written to" line.
e2e_messages_written() {
	sed -n 's/^vuproxy: \([0-9][0-9]*\) messages written to .*/\1/p' \
		"$E2E_DIR/$1.log" | tail -n 1
}

# e2e_dump OUT ARGS...: run `vuproxy dump ARGS`, stdout in OUT, stderr in
# OUT.err; the exit status in E2E_DUMP_RC.
e2e_dump() {
	local out=$1
	shift
	E2E_DUMP_RC=0
	# shellcheck disable=SC2034 # the caller's result
	timeout 60 "$VUPROXY" dump "$@" >"$out" 2>"$out.err" || E2E_DUMP_RC=$?
}

# ---- `vuproxy check` on a test's trace ----

# e2e_check_run TRACE: run `$VUPROXY check TRACE`, its output (one line per
# finding, then a summary) into the test log and TRACE.check; sets
# E2E_CHECK_RC (0 no error finding, 1 one, 2 unreadable) and
# E2E_CHECK_FOUND, the findings as "ID xCOUNT" by id, comma-separated
# ("VU015 x1, VU016 x1"; "none").  Fails the test only on status 2.
e2e_check_run() {
	local trace=$1 out=$1.check
	E2E_CHECK_RC=0
	timeout 60 "$VUPROXY" check "$trace" >"$out" 2>&1 || E2E_CHECK_RC=$?
	e2e_log "vuproxy check $trace: exit status $E2E_CHECK_RC"
	sed 's/^/  check: /' "$out"
	[ "$E2E_CHECK_RC" = 0 ] || [ "$E2E_CHECK_RC" = 1 ] ||
		e2e_fail "vuproxy check could not read $trace (exit status $E2E_CHECK_RC)"
	E2E_CHECK_FOUND=$(awk '$1 == "frame" && $4 ~ /^VU[0-9]+$/ { n[$4]++ }
		END { for (id in n) print id " x" n[id] }' "$out" | sort |
		paste -sd, - | sed 's/,/, /g')
	E2E_CHECK_FOUND=${E2E_CHECK_FOUND:-none}
	e2e_log "vuproxy check findings: $E2E_CHECK_FOUND"
}

# e2e_check_trace TRACE [ID...]: no false alarm on real peers: `vuproxy
# check` finds no error-level finding in TRACE and reads it whole; each
# ID (the warnings the peers are known for, e.g. VU015 for QEMU's
# negotiation before SET_OWNER) must be among its findings.
e2e_check_trace() {
	local trace=$1 id
	shift
	e2e_check_run "$trace"
	[ "$E2E_CHECK_RC" = 0 ] ||
		e2e_fail "vuproxy check found error-level findings in $trace: $(grep -E '^frame [0-9]+ s[0-9]+ VU[0-9]+ error ' "$trace.check" | head -n 5)"
	for id in "$@"; do
		grep -qE "^frame [0-9]+ s[0-9]+ $id " "$trace.check" ||
			e2e_fail "vuproxy check did not report the expected $id on $trace (findings: $E2E_CHECK_FOUND)"
	done
}

# e2e_check_predicted TRACE FILE: the findings of `vuproxy check TRACE`
# are exactly those the comment line "# check: ID xN, ..." of FILE (a
# rules file: the comment is the one statement of what it causes)
# predicts, in any order; "# check: none" for none.  "ID xN?" is a
# finding the peers' timing decides (the file's comment says which race):
# exactly N of it, or none.
e2e_check_predicted() {
	local want item kept=()
	e2e_check_run "$1"
	want=$(sed -n 's/^# check: *//p' "$2")
	[ -n "$want" ] || e2e_fail "$2 has no '# check: ...' line predicting its findings ($E2E_CHECK_FOUND)"
	[ "$(printf '%s\n' "$want" | wc -l)" = 1 ] || e2e_fail "$2 has several '# check:' lines"
	while read -r item; do
		case $item in
		*\?) item=${item%\?}
			# Only when found, and then with its count.
			[[ ", $E2E_CHECK_FOUND, " == *", ${item%% *} "* ]] && kept+=("$item") ;;
		?*) kept+=("$item") ;;
		esac
	done < <(printf '%s\n' "$want" | tr ',' '\n' | sed 's/^ *//; s/ *$//')
	# In any order: sorted by id as E2E_CHECK_FOUND is.
	want=$(printf '%s\n' "${kept[@]}" | sort | paste -sd, - | sed 's/,/, /g')
	want=${want:-none}
	[ "$E2E_CHECK_FOUND" = "$want" ] ||
		e2e_fail "vuproxy check on $1: findings '$E2E_CHECK_FOUND', $2 predicts '$want'"
	e2e_log "vuproxy check: the findings $2 predicts ($want)"
}
