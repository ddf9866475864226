#!/bin/bash
# findings.sh - the checker's finding records (include/vuproxy/tracemsg.h,
# LINKTYPE_USER3) as every reader sees them, on the file `ext_trace_gen
# --findings` writes (its comment lists the 11 frames):
# - `vuproxy dump` shows each version-1 finding as one line (its frame,
#   session, severity, id, the frame it is about, request, message, rule)
#   and, with --json, as an object with check --json's keys; it skips the
#   version-2 and the cut finding without a word; --session and --request
#   select findings as they select messages;
# - `vuproxy check` does not count findings as messages, and numbers
#   frames as the recorded findings do: it finds each recorded finding
#   that names a frame, with the same id at the same frame;
# - tshark with the dissector: `-z expert` lists each finding with its
#   severity (error, warn, note) and "ID: message"; the fields filter by id
#   and severity; the frame it is about is a frame number; no Lua error;
# - `vuproxy replay` plays the messages around a finding and skips it:
#   both roles replayed against each other on the versioning file (a
#   finding between messages) are identical, with the messages' frames.
# Env: VUPROXY, EXT_TRACE_GEN, VUP_WIRESHARK_LUA (all required).
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source-path=SCRIPTDIR source=../e2e/lib.sh
. "$HERE/../e2e/lib.sh"

e2e_init trace_findings
e2e_need_cmd tshark jq grep
e2e_need_exe VUPROXY
e2e_need_exe EXT_TRACE_GEN
LUA=${VUP_WIRESHARK_LUA:-}
[ -r "$LUA" ] || e2e_fail "VUP_WIRESHARK_LUA='$LUA' is not readable"

# same WHAT GOT WANT
same() {
	[ "$2" = "$3" ] || e2e_fail "$1:
$2
want:
$3"
}

TRACE=$E2E_DIR/findings.pcapng.gz
"$EXT_TRACE_GEN" --findings "$TRACE" || e2e_fail "ext_trace_gen --findings failed"

# 1. dump.
"$VUPROXY" dump "$TRACE" >"$E2E_DIR/dump.txt" 2>"$E2E_DIR/dump.err" ||
	e2e_fail "dump exit $?: $(cat "$E2E_DIR/dump.err")"
[ ! -s "$E2E_DIR/dump.err" ] || e2e_fail "dump said: $(cat "$E2E_DIR/dump.err")"
got=$(grep ' finding ' "$E2E_DIR/dump.txt" | sed 's/^ *[0-9.]* //')
same "dump's finding lines" "$got" 's1 frame 2 finding warning VU015 about frame 1 GET_FEATURES: GET_FEATURES before SET_OWNER
s1 frame 5 finding error VU012 about frame 4 SET_FEATURES: acked 0x8000, never offered
s1 frame 8 finding info VU023 about no frame of this file GET_VRING_BASE: reply owed since the previous file
s1 frame 11 finding error VU022 about frame 7 GET_VRING_BASE: no reply to GET_VRING_BASE rule=hang-base'
[ "$(grep -vc ' finding ' "$E2E_DIR/dump.txt")" = 5 ] ||
	e2e_fail "dump shows other than the 5 messages: $(cat "$E2E_DIR/dump.txt")"
"$VUPROXY" dump --json "$TRACE" >"$E2E_DIR/dump.json" 2>&1 || e2e_fail "dump --json exit $?"
got=$(jq -c 'select(.type == "finding") | [.finding_frame, .session, .severity, .id, .frame, .request, .from, .message, .rule, .title]' "$E2E_DIR/dump.json")
same "dump --json's findings" "$got" '[2,1,"warning","VU015",1,"GET_FEATURES","front-end","GET_FEATURES before SET_OWNER",null,"request before SET_OWNER"]
[5,1,"error","VU012",4,"SET_FEATURES","front-end","acked 0x8000, never offered",null,"acked features never offered"]
[8,1,"info","VU023",0,"GET_VRING_BASE","back-end","reply owed since the previous file",null,"reply owed when the file was cut off or rotated"]
[11,1,"error","VU022",7,"GET_VRING_BASE","front-end","no reply to GET_VRING_BASE","hang-base","reply owed and never sent"]'
jq -se 'map(select(.id == "VU012"))[0].spec | startswith("VHOST_USER_SET_FEATURES: Enable features")' "$E2E_DIR/dump.json" >/dev/null ||
	e2e_fail "dump --json gives VU012 no spec: $(grep VU012 "$E2E_DIR/dump.json")"
got=$("$VUPROXY" dump --request SET_FEATURES "$TRACE" | sed 's/^ *[0-9.]* //')
same "dump --request SET_FEATURES" "$got" 's1 front-end>back-end SET_FEATURES features=0x100008000 <VIRTIO_NET_F_MRG_RXBUF|VIRTIO_F_VERSION_1> (8 B, 0 fds) pass
s1 frame 5 finding error VU012 about frame 4 SET_FEATURES: acked 0x8000, never offered'
got=$("$VUPROXY" dump --session 2 "$TRACE" | wc -l)
same "dump --session 2 (no such session)" "$got" 0
e2e_log "dump: 4 findings, 2 records that are not version-1 findings skipped"

# 2. check: findings are no messages; the frames agree.
rc=0
"$VUPROXY" check --json "$TRACE" >"$E2E_DIR/check.json" 2>"$E2E_DIR/check.err" || rc=$?
[ "$rc" = 1 ] || e2e_fail "check exit $rc, not 1 (error findings): $(cat "$E2E_DIR/check.err")"
grep -q ' 5 messages$' "$E2E_DIR/check.err" || e2e_fail "check counted other than the 5 messages: $(cat "$E2E_DIR/check.err")"
for f in $(jq -r 'select(.type == "finding" and .frame != 0) | "\(.id)@\(.frame)"' "$E2E_DIR/dump.json"); do
	jq -se --arg id "${f%@*}" --argjson frame "${f#*@}" \
		'any(.id == $id and .frame == $frame)' "$E2E_DIR/check.json" >/dev/null ||
		e2e_fail "check does not find $f: $(cat "$E2E_DIR/check.json")"
done
e2e_log "check: 5 messages; it finds each recorded finding at its frame"

# 3. tshark.
tshark -X "lua_script:$LUA" -r "$TRACE" -q -z expert >"$E2E_DIR/expert.txt" 2>"$E2E_DIR/tshark.err" ||
	e2e_fail "tshark -z expert exit $?: $(cat "$E2E_DIR/tshark.err")"
! grep -v '^Running as user "root"' "$E2E_DIR/tshark.err" || e2e_fail "tshark said the above"
# Each section's protocol-group lines: severity, then the findings.
got=$(awk '/^(Errors|Warns|Notes|Chats) \(/ { sev = $1 }
	$2 == "Protocol" && $3 == "VUPROXY.FINDING" { $1 = $2 = $3 = ""; sub(/^ +/, ""); print sev ": " $0 }' "$E2E_DIR/expert.txt")
same "tshark -z expert" "$got" 'Errors: VU012: acked 0x8000, never offered
Errors: VU022: no reply to GET_VRING_BASE
Warns: VU015: GET_FEATURES before SET_OWNER
Notes: VU023: reply owed since the previous file'
grep -Eq '^ +1 +Undecoded +VUPROXY.FINDING +Finding record version 2' "$E2E_DIR/expert.txt" ||
	e2e_fail "no note of the version-2 finding: $(cat "$E2E_DIR/expert.txt")"
got=$(tshark -X "lua_script:$LUA" -r "$TRACE" -Y 'vuproxy.finding.id == "VU012"' -T fields -E separator='|' \
	-e frame.number -e vuproxy.finding.frame -e vuproxy.finding.severity -e vuproxy.finding.request_name \
	-e vuproxy.finding.title -e vuproxy.finding.section 2>/dev/null)
same "tshark -Y 'vuproxy.finding.id == \"VU012\"'" "$got" '5|4|2|SET_FEATURES|acked features never offered|VHOST_USER_SET_FEATURES'
got=$(tshark -X "lua_script:$LUA" -r "$TRACE" -Y 'vuproxy.finding.severity == 2' -T fields -E separator='|' \
	-e frame.number -e vuproxy.finding.id -e vuproxy.finding.rule 2>/dev/null)
same "tshark -Y 'vuproxy.finding.severity == 2'" "$got" '5|VU012|
11|VU022|hang-base'
# The frame a finding is about is a frame number (FT_FRAMENUM), which
# filters compare with frame numbers.
got=$(tshark -X "lua_script:$LUA" -r "$TRACE" -Y 'vuproxy.finding.frame == 7' -T fields -e frame.number 2>/dev/null)
same "tshark -Y 'vuproxy.finding.frame == 7'" "$got" 11
tshark -X "lua_script:$LUA" -r "$TRACE" -V >"$E2E_DIR/tshark.V" 2>&1 || e2e_fail "tshark -V exit $?"
! grep -q "Lua Error" "$E2E_DIR/tshark.V" || e2e_fail "Lua error: $(grep 'Lua Error' "$E2E_DIR/tshark.V")"
grep -q '^ *\[Spec sentence: Enable features in the underlying vhost implementation using a bitmask.\]' "$E2E_DIR/tshark.V" ||
	e2e_fail "tshark -V shows no spec sentence for VU012"
e2e_log "tshark: -z expert lists the 4 findings by severity; fields filter"

# 4. replay, both roles against each other, on a finding between messages.
EXT=$E2E_DIR/ext.pcapng.gz
"$EXT_TRACE_GEN" "$EXT" || e2e_fail "ext_trace_gen failed"
SOCK=$E2E_DIR/replay.sock
e2e_start be 30 "$VUPROXY" replay "$EXT" --as back-end --frontend "listen:$SOCK"
e2e_wait 10 "the back-end replay's socket" e2e_unix_listening "$SOCK"
e2e_start fe 30 "$VUPROXY" replay "$EXT" --as front-end --backend "connect:$SOCK" -v
e2e_wait_exit fe 30
e2e_wait_exit be 30
[ "${E2E_RC[fe]}${E2E_RC[be]}" = 00 ] ||
	e2e_fail "replay exit ${E2E_RC[fe]} (front-end), ${E2E_RC[be]} (back-end)"
got=$(grep -o 'replay > #[0-9]* [A-Z_]*' "$E2E_DIR/fe.log")
same "the front-end replay sent" "$got" 'replay > #1 GET_FEATURES
replay > #3 SET_VRING_NUM
replay > #6 SET_OWNER'
e2e_log_has fe "0 differences: identical" || e2e_fail "front-end replay: $(cat "$E2E_DIR/fe.log")"
e2e_log_has be "3 received, 3 compared, 0 differences: identical" || e2e_fail "back-end replay: $(cat "$E2E_DIR/be.log")"
e2e_log "replay: the messages around the finding, frames 1, 3, 6, identical"
e2e_log "PASS"
