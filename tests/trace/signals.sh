#!/bin/bash
# signals.sh - a second SIGINT or SIGTERM while vuproxy is finishing its
# trace must not kill it: the gzip stream must still be finished and the
# "N messages written" line printed, exit status 0.
#
# Why it matters: `timeout` passes its signal to the program and then to
# the program's process group, so a vuproxy run under timeout (or by a
# supervisor that signals the group, or a user pressing Ctrl-C twice) gets
# two signals in a row; if the second lands while the trace is being
# closed, the default action kills vuproxy before the gzip trailer or the
# summary is written.
#
# To make the window wide and the test deterministic, vuproxy runs under
# strace with every fsync(2) delayed by 2 s (the trace writer fsyncs the
# file when it closes it).  One trace_peer session is recorded, then
# SIGINT; 0.5 s after vuproxy logged that it is stopping (it is in the
# slowed fsync by then), SIGTERM.
set -eu
. "$(dirname "$0")/tlib.sh"

t_init trace_signals
t_need_cmd strace gzip timeout
t_need_exe VUPROXY TRACE_PEER

TRACE=$T_DIR/sig.pcapng.gz
t_check_sun_path "$T_DIR/vp-fe.sock"
# LeakSanitizer cannot run under ptrace; leaks are checked by every other
# test of a sanitizer build.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
t_start vp 60 strace -f -o "$T_DIR/strace.out" -e trace=fsync \
	-e inject=fsync:delay_enter=2000000 \
	"$VUPROXY" --frontend "listen:$T_DIR/vp-fe.sock" \
	--backend "connect:$T_DIR/vp-be.sock" -w "$TRACE"
t_wait 20 "vuproxy to listen" t_unix_listening "$T_DIR/vp-fe.sock"
strace_pid=$(t_prog_pid vp) || t_fail "strace is not running"
vp_pid=$(t_child_of "$strace_pid") || t_fail "vuproxy is not running under strace"
# strace detaches when it is stopped: make sure vuproxy goes too.
t_on_exit t_kill_if_ours "$vp_pid" "$T_DIR/vp-fe.sock"
t_peer_run vp 10 0
kill -INT "$vp_pid"
# vuproxy logs "Interrupt: stopping", closes its sessions at once, leaves
# its event loop and closes the trace: 0.5 s later it is in the slowed
# fsync.
t_wait 10 "vuproxy to log that it is stopping" t_log_has vp ": stopping"
sleep 0.5
kill -TERM "$vp_pid" 2>/dev/null || t_fail "vuproxy exited before the second signal despite the slowed fsync"
t_wait_exit vp 20
t_log "strace: $(tr '\n' ' ' <"$T_DIR/strace.out")"
grep -q "killed by SIG" "$T_DIR/strace.out" &&
	t_fail "vuproxy was killed by the second signal while closing its trace: $(grep 'killed by' "$T_DIR/strace.out")"
t_expect_eq "exit status (strace passes vuproxy's on)" "${T_RC[vp]}" 0
t_expect_eq "'messages written' line" "$(t_messages_written vp)" "$T_PEER_MSGS"
gzip -t "$TRACE" 2>"$T_DIR/gzip.err" || t_fail "the trace fails gzip -t: $(cat "$T_DIR/gzip.err")"
t_dump "$T_DIR/dump.txt" "$TRACE"
t_expect_eq "dump exit status (stderr: $(cat "$T_DIR/dump.txt.err"))" "$T_DUMP_RC" 0
t_expect_eq "dump lines" "$(wc -l <"$T_DIR/dump.txt")" "$T_PEER_MSGS"
t_log PASS
