#!/bin/bash
# kill_stream.sh - SIGKILL vuproxy -w in the middle of a stream of control
# messages: what was forwarded is in the file.
#
# trace_peer (crash mode) sends SET_VRING_NUM num=0,1,2,... as fast as
# vuproxy relays them; once the trace has grown past 100 kB, vuproxy gets
# SIGKILL.  The back-end reports how many it received (R), the front-end
# how many it sent (S).  Every message is written and flushed before it is
# forwarded, so:
# - dump recovers SET_VRING_NUM 0 .. M-1 without a gap, with M >= R (all
#   that reached the back-end) and M <= S; it follows the GET_FEATURES
#   exchange that opened the session;
# - dump exits 2, saying on one stderr line that the file is cut short and
#   how many records it read (those it printed);
# - tshark recovers as many frames.
set -eu
# shellcheck source=../e2e/lib.sh
. "$(dirname "$0")/../e2e/lib.sh"

e2e_init trace_kill_stream
e2e_need_cmd timeout awk sed grep tshark stat
e2e_need_exe VUPROXY TRACE_PEER

TRACE=$E2E_DIR/stream.pcapng.gz
e2e_vuproxy_for_peer vp "$TRACE"
e2e_start peer 60 "$TRACE_PEER" "$E2E_DIR/vp-fe.sock" "$E2E_DIR/vp-be.sock" 1000000000 0 crash
trace_grew() { [ "$(stat -c %s "$TRACE")" -gt 100000 ]; }
e2e_wait 20 "the trace to pass 100 kB" trace_grew
e2e_kill9 vp
e2e_expect_eq "vuproxy wrapper status after SIGKILL" "${E2E_RC[vp]}" 137
e2e_wait_exit peer 20
e2e_expect_eq "trace_peer exit status (log: $(tr '\n' ' ' <"$E2E_DIR/peer.log"))" "${E2E_RC[peer]}" 0
R=$(awk '$1 == "received" { print $2 }' "$E2E_DIR/peer.log")
S=$(awk '$1 == "sent" { print $2 }' "$E2E_DIR/peer.log")
[ -n "$R" ] && [ -n "$S" ] || e2e_fail "trace_peer did not report its counts: $(cat "$E2E_DIR/peer.log")"
e2e_log "SIGKILL after $(stat -c %s "$TRACE") bytes: the front-end sent $S SET_VRING_NUM, the back-end received $R"
[ "$R" -gt 0 ] || e2e_fail "the back-end received nothing"

e2e_dump "$E2E_DIR/dump.txt" "$TRACE"
n=$(wc -l <"$E2E_DIR/dump.txt")
e2e_log "dump: exit $E2E_DUMP_RC, $n lines; stderr: $(cat "$E2E_DIR/dump.txt.err")"
e2e_expect_eq "dump exit status on a SIGKILLed trace" "$E2E_DUMP_RC" 2
e2e_expect_eq "stderr lines of dump" "$(wc -l <"$E2E_DIR/dump.txt.err")" 1
grep -q "cut short" "$E2E_DIR/dump.txt.err" ||
	e2e_fail "dump's stderr does not say the file is cut short"
grep -qE "[^0-9]$n records read" "$E2E_DIR/dump.txt.err" ||
	e2e_fail "dump printed $n records, its stderr says otherwise"

awk -v r="$R" -v s="$S" '
	NR == 1 { if ($0 !~ / s1 front-end>back-end GET_FEATURES \(/) { print "line 1 is not the GET_FEATURES request: " $0; exit 1 }; next }
	NR == 2 { if ($0 !~ / s1 back-end>front-end GET_FEATURES reply /) { print "line 2 is not the GET_FEATURES reply: " $0; exit 1 }; next }
	{ if (!match($0, / s1 front-end>back-end SET_VRING_NUM index=0 num=[0-9]+ /)) { print "line " NR ": " $0; exit 1 }
	  v = substr($0, RSTART, RLENGTH); sub(/.*num=/, "", v); v += 0
	  if (v != m) { printf "line %d: num %d, expected %d\n", NR, v, m; exit 1 }
	  m++ }
	END { if (m < r) { printf "the trace holds nums 0..%d, the back-end received %d messages\n", m - 1, r; exit 1 }
	      if (m > s) { printf "the trace holds %d messages, the front-end sent only %d\n", m, s; exit 1 }
	      printf "nums 0..%d, back-end received %d, front-end sent %d\n", m - 1, r, s }' \
	"$E2E_DIR/dump.txt" >"$E2E_DIR/check.txt" || e2e_fail "$(cat "$E2E_DIR/check.txt")"
e2e_log "$(cat "$E2E_DIR/check.txt")"

nframes=$(timeout 60 tshark -r "$TRACE" 2>/dev/null | wc -l)
e2e_expect_eq "tshark frames vs dump records" "$nframes" "$n"
e2e_log PASS
