#!/bin/bash
# declared.sh - declared state (issue 13): a file that starts in the
# middle of a session restates its set-up first, flagged declared
# (VUP_TRACE_EXT_DECLARED), and each reader keeps it apart from events:
# - dump: a line "s1: declared state ..." before the session's declared
#   records, each marked "[declared]" with the time it crossed; --json
#   "declared": true with declared_ns and declared_at, events without;
# - check: the events are judged against the declared set-up, fully (no
#   "began in an earlier file" fallback), declared records add no finding;
#   a continued file without declared state keeps the fallback;
# - tshark with the dissector: vuproxy.declared and the time it crossed,
#   "[declared]" in the Info column of those frames only.
# The files come from declared_trace_gen (frames 1-21 declared, 22-25
# events).  Env: VUPROXY, DECLARED_TRACE_GEN, VUP_WIRESHARK_LUA.
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source-path=SCRIPTDIR source=../e2e/lib.sh
. "$HERE/../e2e/lib.sh"

e2e_init trace_declared
e2e_need_cmd tshark jq grep
e2e_need_exe VUPROXY
e2e_need_exe DECLARED_TRACE_GEN
LUA=${VUP_WIRESHARK_LUA:-}
[ -r "$LUA" ] || e2e_fail "VUP_WIRESHARK_LUA='$LUA' is not readable"

TRACE=$E2E_DIR/declared.pcapng
OLDER=$E2E_DIR/undeclared.pcapng
GZ=$E2E_DIR/declared.pcapng.gz
"$DECLARED_TRACE_GEN" "$TRACE" || e2e_fail "declared_trace_gen failed"
"$DECLARED_TRACE_GEN" --undeclared "$OLDER" || e2e_fail "declared_trace_gen --undeclared failed"
"$DECLARED_TRACE_GEN" --gz "$GZ" || e2e_fail "declared_trace_gen --gz failed"

# 1. dump
for f in "$TRACE" "$GZ"; do
	"$VUPROXY" dump "$f" >"$E2E_DIR/dump.txt" 2>&1 || e2e_fail "dump $f exit $?: $(cat "$E2E_DIR/dump.txt")"
	[ "$(head -1 "$E2E_DIR/dump.txt")" = "s1: declared state (set up before this file began)" ] ||
		e2e_fail "dump $f: no heading before the declared state: $(head -3 "$E2E_DIR/dump.txt")"
	[ "$(grep -c '^s1: declared state' "$E2E_DIR/dump.txt")" = 1 ] || e2e_fail "dump $f: the heading twice"
	[ "$(grep -c ' s1 \[declared\] ' "$E2E_DIR/dump.txt")" = 21 ] ||
		e2e_fail "dump $f: not 21 declared lines: $(cat "$E2E_DIR/dump.txt")"
	grep -qx ' *0\.000000 s1 \[declared\] front-end>back-end SET_MEM_TABLE need_reply .* (40 B, 1 fds: memfd 1048576) pass \[crossed at 2023-11-14T22:13:20\.008000Z\]' "$E2E_DIR/dump.txt" ||
		e2e_fail "dump $f: SET_MEM_TABLE not declared with its fd and time: $(grep SET_MEM_TABLE "$E2E_DIR/dump.txt")"
	[ "$(grep -c 'GET_VRING_BASE' "$E2E_DIR/dump.txt")" = 4 ] && ! grep 'GET_VRING_BASE' "$E2E_DIR/dump.txt" | grep -q 'declared' ||
		e2e_fail "dump $f: the events are not 4 plain GET_VRING_BASE lines: $(cat "$E2E_DIR/dump.txt")"
	"$VUPROXY" dump --json "$f" >"$E2E_DIR/dump.json" || e2e_fail "dump --json $f exit $?"
	got=$(jq -c '[.request, .reply, (.declared // false)]' "$E2E_DIR/dump.json" | LC_ALL=C sort | uniq -c | sed 's/^ *//')
	want='1 ["GET_FEATURES",false,true]
1 ["GET_FEATURES",true,true]
1 ["GET_PROTOCOL_FEATURES",false,true]
1 ["GET_PROTOCOL_FEATURES",true,true]
2 ["GET_VRING_BASE",false,false]
2 ["GET_VRING_BASE",true,false]
1 ["SET_FEATURES",false,true]
1 ["SET_MEM_TABLE",false,true]
1 ["SET_MEM_TABLE",true,true]
1 ["SET_OWNER",false,true]
1 ["SET_PROTOCOL_FEATURES",false,true]
2 ["SET_VRING_ADDR",false,true]
2 ["SET_VRING_BASE",false,true]
2 ["SET_VRING_CALL",false,true]
2 ["SET_VRING_ENABLE",false,true]
2 ["SET_VRING_KICK",false,true]
2 ["SET_VRING_NUM",false,true]'
	[ "$got" = "$want" ] || e2e_fail "dump --json $f read:
$got
want:
$want"
	got=$(jq -c 'select(.request == "SET_MEM_TABLE" and .reply == false) | [.declared, .declared_ns, .declared_at, .fds[0].kind]' "$E2E_DIR/dump.json")
	[ "$got" = '[true,1700000000008000000,"2023-11-14T22:13:20.008000000Z","memfd"]' ] ||
		e2e_fail "dump --json $f: SET_MEM_TABLE reads $got"
	jq -e 'select(.declared == null) | has("declared_at") | not' "$E2E_DIR/dump.json" >/dev/null ||
		e2e_fail "dump --json $f: an event with declared keys"
done
"$VUPROXY" dump "$OLDER" >"$E2E_DIR/older.txt" 2>&1 || e2e_fail "dump (older) exit $?"
! grep -q declared "$E2E_DIR/older.txt" || e2e_fail "dump shows declared state in a file without it"
e2e_log "dump: 21 records declared under their heading, with fds and times; 4 events"

# 2. check
for f in "$TRACE" "$GZ"; do
	"$VUPROXY" check "$f" >"$E2E_DIR/check.txt" 2>&1 || e2e_fail "check $f exit $?: $(cat "$E2E_DIR/check.txt")"
	grep -q '^session 1 began before this file: judged against the set-up it declared (21 records)$' "$E2E_DIR/check.txt" &&
		grep -q ': 0 errors, 0 warnings, 0 infos in 1 sessions, 4 messages$' "$E2E_DIR/check.txt" &&
		! grep -q 'earlier file' "$E2E_DIR/check.txt" ||
		e2e_fail "check $f said: $(cat "$E2E_DIR/check.txt")"
done
"$VUPROXY" check "$OLDER" >"$E2E_DIR/check.txt" 2>&1 || e2e_fail "check (older) exit $?"
grep -q '^session 1 began in an earlier file (a rotated file): its set-up is not in this one' "$E2E_DIR/check.txt" ||
	e2e_fail "check (older) said: $(cat "$E2E_DIR/check.txt")"
e2e_log "check: the 4 events judged against the 21 declared records; without them, the fallback"

# 3. replay: both roles against each other, the declared state played
# first; the file without it refused.
SOCK=$E2E_DIR/replay.sock
e2e_start be 30 "$VUPROXY" replay "$TRACE" --as back-end --frontend "listen:$SOCK"
e2e_wait 10 "the back-end replay's socket" e2e_unix_listening "$SOCK"
e2e_start fe 30 "$VUPROXY" replay "$TRACE" --as front-end --backend "connect:$SOCK" -v
e2e_wait_exit fe 20
e2e_wait_exit be 20
[ "${E2E_RC[fe]}" = 0 ] && [ "${E2E_RC[be]}" = 0 ] ||
	e2e_fail "replay exit ${E2E_RC[fe]} (front-end), ${E2E_RC[be]} (back-end)"
got=$(grep -o 'replay > #[0-9]* [A-Z_]*' "$E2E_DIR/fe.log" | head -3 | tr '\n' ' ')
[ "$got" = 'replay > #1 SET_OWNER replay > #2 GET_FEATURES replay > #4 GET_PROTOCOL_FEATURES ' ] ||
	e2e_fail "the front-end replay did not start with the declared set-up: $got"
grep -q '20 messages sent, 5 received, 5 compared, 0 differences: identical' "$E2E_DIR/fe.log" ||
	e2e_fail "front-end replay: $(tail -3 "$E2E_DIR/fe.log")"
rc=0
"$VUPROXY" replay "$OLDER" --as front-end --backend "connect:$SOCK" >"$E2E_DIR/older.out" 2>&1 || rc=$?
[ "$rc" = 2 ] && grep -q 'lacks its set-up .*re-record it with a newer vuproxy' "$E2E_DIR/older.out" ||
	e2e_fail "replay of the file without declared state: exit $rc: $(cat "$E2E_DIR/older.out")"
e2e_log "replay: the declared set-up sent first, identical both ways; the older file refused"

# 4. tshark with the dissector: vuproxy.declared on the 21 first frames
# only, with the time each crossed; the Info column is dump's line (as
# tshark_lib.sh compares them), "[declared]" and all.
for f in "$TRACE" "$GZ"; do
	tshark -X "lua_script:$LUA" -r "$f" -T fields -E separator='|' \
		-e frame.number -e vuproxy.declared -e vuproxy.declared.time \
		>"$E2E_DIR/tshark.txt" 2>"$E2E_DIR/tshark.err" || e2e_fail "tshark $f exit $?: $(cat "$E2E_DIR/tshark.err")"
	! grep -v '^Running as user "root"' "$E2E_DIR/tshark.err" || e2e_fail "tshark said the above"
	got=$(awk -F'|' '$2 != "" { n++; if ($1 > 21) bad = $1 } END { print n + 0, bad + 0 }' "$E2E_DIR/tshark.txt")
	[ "$got" = "21 0" ] || e2e_fail "tshark $f: vuproxy.declared on (count, a frame past 21): $got"
	grep -q '^8|[^|]*|Nov 14, 2023 22:13:20.008000000 UTC$' "$E2E_DIR/tshark.txt" ||
		e2e_fail "tshark $f: frame 8's declared time: $(sed -n 8p "$E2E_DIR/tshark.txt")"
	tshark -X "lua_script:$LUA" -r "$f" -T fields -e _ws.col.Info >"$E2E_DIR/info.txt" 2>/dev/null ||
		e2e_fail "tshark $f (Info) exit $?"
	"$VUPROXY" dump "$f" | grep -v '^s1: declared state' |
		sed -E 's/^ *[0-9]+\.[0-9]{6} //; s/ \([0-9]+ B, [0-9]+ fds[^)]*\)( pass)?//' >"$E2E_DIR/dump.info"
	diff -u "$E2E_DIR/dump.info" "$E2E_DIR/info.txt" >&2 || e2e_fail "tshark $f: the Info column is not dump's line (diff above)"
	tshark -X "lua_script:$LUA" -r "$f" -V 2>&1 | grep -q "Lua Error" && e2e_fail "tshark $f: a Lua error"
done
grep -q '^s1 \[declared\] front-end>back-end SET_OWNER \[crossed at 2023-11-14T22:13:20.001000Z\]$' "$E2E_DIR/info.txt" ||
	e2e_fail "tshark: Info of frame 1: $(head -1 "$E2E_DIR/info.txt")"
e2e_log "tshark: vuproxy.declared and its time on the 21 declared frames, Info as dump's line"
e2e_log "PASS"
