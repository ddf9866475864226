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
# shellcheck source=../e2e/lib.sh
. "$(dirname "$0")/../e2e/lib.sh"

e2e_init trace_signals
e2e_need_cmd strace gzip timeout
e2e_need_exe VUPROXY TRACE_PEER

TRACE=$E2E_DIR/sig.pcapng.gz
e2e_check_sun_path "$E2E_DIR/vp-fe.sock"
# LeakSanitizer cannot run under ptrace; leaks are checked by every other
# test of a sanitizer build.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
e2e_start vp 60 strace -f -o "$E2E_DIR/strace.out" -e trace=fsync \
	-e inject=fsync:delay_enter=2000000 \
	"$VUPROXY" --frontend "listen:$E2E_DIR/vp-fe.sock" \
	--backend "connect:$E2E_DIR/vp-be.sock" -w "$TRACE"
e2e_wait 20 "vuproxy to listen" e2e_unix_listening "$E2E_DIR/vp-fe.sock"
strace_pid=$(e2e_prog_pid vp) || e2e_fail "strace is not running"
vp_pid=$(e2e_child_of "$strace_pid") || e2e_fail "vuproxy is not running under strace"
# strace detaches when it is stopped: make sure vuproxy goes too.
e2e_on_exit e2e_kill_if_ours "$vp_pid" "$E2E_DIR/vp-fe.sock"
e2e_peer_run vp 10 0
kill -INT "$vp_pid"
# vuproxy logs "Interrupt: stopping", closes its sessions at once, leaves
# its event loop and closes the trace: 0.5 s later it is in the slowed
# fsync.
e2e_wait 10 "vuproxy to log that it is stopping" e2e_log_has vp ": stopping"
sleep 0.5
kill -TERM "$vp_pid" 2>/dev/null || e2e_fail "vuproxy exited before the second signal despite the slowed fsync"
e2e_wait_exit vp 20
e2e_log "strace: $(tr '\n' ' ' <"$E2E_DIR/strace.out")"
grep -q "killed by SIG" "$E2E_DIR/strace.out" &&
	e2e_fail "vuproxy was killed by the second signal while closing its trace: $(grep 'killed by' "$E2E_DIR/strace.out")"
e2e_expect_eq "exit status (strace passes vuproxy's on)" "${E2E_RC[vp]}" 0
e2e_expect_eq "'messages written' line" "$(e2e_messages_written vp)" "$E2E_PEER_MSGS"
gzip -t "$TRACE" 2>"$E2E_DIR/gzip.err" || e2e_fail "the trace fails gzip -t: $(cat "$E2E_DIR/gzip.err")"
e2e_dump "$E2E_DIR/dump.txt" "$TRACE"
e2e_expect_eq "dump exit status (stderr: $(cat "$E2E_DIR/dump.txt.err"))" "$E2E_DUMP_RC" 0
e2e_expect_eq "dump lines" "$(wc -l <"$E2E_DIR/dump.txt")" "$E2E_PEER_MSGS"
e2e_log PASS
