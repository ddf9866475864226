#!/bin/bash
# versioning.sh - the trace's versioning rule (README, "What the trace
# gains"; include/vuproxy/pcapng.h) holds:
# - every committed capture reads the same: `vuproxy dump` and `dump
#   --json` print, byte for byte, what the reader printed before the trace
#   had extensions (captures.sha256, made with the vuproxy of ea1db77);
# - a trace with what later versions add (ext_trace_gen.c: a mark, an
#   extension of a type nobody knows, a record of a link type nobody
#   knew, which is not a finding, and a finding record) reads whole: dump
#   shows the four messages with their fields and the marks, skips the
#   unknown extension by its length and the record that is not a finding,
#   shows the finding, exit 0; tshark with the dissector shows the same
#   messages, the marks as vuproxy.mark with an expert info, the unknown
#   extension as an extension of type 0x7f01, the finding as
#   vuproxy.finding, and no Lua error;
# - an older reader, the dissector from before extensions, reads that file
#   with the same messages and fields (it skips what it does not know: the
#   finding interface is left to Wireshark's data dissector);
# - a file that starts with declared state (declared_trace_gen, extension
#   2 on its first 21 records) reads by the same rule: the dissector from
#   before extensions shows its 25 messages with their fields, as plain
#   messages, and no error.
# Env: VUPROXY, EXT_TRACE_GEN, DECLARED_TRACE_GEN, VUP_WIRESHARK_LUA (all
# required).
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source-path=SCRIPTDIR source=../e2e/lib.sh
. "$HERE/../e2e/lib.sh"

e2e_init trace_versioning
e2e_need_cmd tshark jq sha256sum grep
e2e_need_exe VUPROXY
e2e_need_exe EXT_TRACE_GEN
e2e_need_exe DECLARED_TRACE_GEN
LUA=${VUP_WIRESHARK_LUA:-}
[ -r "$LUA" ] || e2e_fail "VUP_WIRESHARK_LUA='$LUA' is not readable"
CAPTURES=$HERE/../../captures

# 1. The committed captures read as they always did.
n=0
while read -r sum file mode; do
	opt=; [ "$mode" = json ] && opt=--json
	got=$("$VUPROXY" dump $opt "$CAPTURES/$file" 2>&1 | sha256sum | cut -d' ' -f1)
	[ "$got" = "$sum" ] || e2e_fail "$file: dump $opt reads differently from before (sha256 $got, was $sum)"
	n=$((n + 1))
done <"$HERE/captures.sha256"
have=$(find "$CAPTURES" -name '*.pcapng.gz' | wc -l)
[ "$n" -eq $((2 * have)) ] || e2e_fail "captures.sha256 has $n digests for $have captures: add the new ones"
e2e_log "$have captures read the same as before ($n digests)"

# 2. What later versions add.
TRACE=$E2E_DIR/ext.pcapng.gz
"$EXT_TRACE_GEN" "$TRACE" || e2e_fail "ext_trace_gen failed"
"$VUPROXY" dump --json "$TRACE" >"$E2E_DIR/dump.json" 2>"$E2E_DIR/dump.err" ||
	e2e_fail "dump exit $?: $(cat "$E2E_DIR/dump.err")"
[ ! -s "$E2E_DIR/dump.err" ] || e2e_fail "dump said: $(cat "$E2E_DIR/dump.err")"
got=$(jq -c 'select(.type == "control") | [.request, .reply, (.payload.num // null), (.mark // null)]' "$E2E_DIR/dump.json")
want='["GET_FEATURES",false,null,null]
["GET_FEATURES",true,null,"need-reply-on-reply: NEED_REPLY set on a reply (flags 0xd)"]
["SET_VRING_NUM",false,256,"size: written by a later vuproxy"]
["SET_OWNER",false,null,null]'
[ "$got" = "$want" ] || e2e_fail "dump --json read:
$got
want:
$want"
got=$(jq -c 'select(.type != "control") | [.type, .id, .severity, .frame, .finding_frame, .request, .message]' "$E2E_DIR/dump.json")
want='["finding","VU004","error",2,5,"GET_FEATURES","NEED_REPLY set on a reply (flags 0xd)"]'
[ "$got" = "$want" ] || e2e_fail "dump --json read besides the messages:
$got
want:
$want"
"$VUPROXY" dump "$TRACE" >"$E2E_DIR/dump.txt" 2>&1 || e2e_fail "dump (text) exit $?"
grep -qx ' *[0-9.]* s1 frame 5 finding error VU004 about frame 2 GET_FEATURES: NEED_REPLY set on a reply (flags 0xd)' "$E2E_DIR/dump.txt" ||
	e2e_fail "dump's text shows no finding line: $(cat "$E2E_DIR/dump.txt")"
grep -q 'GET_FEATURES reply need_reply .*\[problem: need-reply-on-reply: NEED_REPLY set on a reply (flags 0xd)\]' "$E2E_DIR/dump.txt" ||
	e2e_fail "dump's text shows no mark on the reply: $(cat "$E2E_DIR/dump.txt")"
e2e_log "dump: 4 messages, 2 marks, a finding, the unknown extension and record skipped"

tshark -X "lua_script:$LUA" -r "$TRACE" -T fields -E separator='|' \
	-e frame.number -e vhostuser.request_name -e vuproxy.mark -e vuproxy.ext.type \
	-e vhostuser.vring_state.num >"$E2E_DIR/tshark.txt" 2>"$E2E_DIR/tshark.err" ||
	e2e_fail "tshark exit $?: $(cat "$E2E_DIR/tshark.err")"
! grep -v '^Running as user "root"' "$E2E_DIR/tshark.err" ||
	e2e_fail "tshark said the above"
got=$(cat "$E2E_DIR/tshark.txt")
want='1|GET_FEATURES|||
2|GET_FEATURES|need-reply-on-reply: NEED_REPLY set on a reply (flags 0xd)|1|
3|SET_VRING_NUM|size: written by a later vuproxy|32513,1|256
4||||
5||||
6|SET_OWNER|||'
[ "$got" = "$want" ] || e2e_fail "tshark read:
$got
want:
$want"
tshark -X "lua_script:$LUA" -r "$TRACE" -V >"$E2E_DIR/tshark.V" 2>&1 || e2e_fail "tshark -V exit $?"
! grep -q "Lua Error" "$E2E_DIR/tshark.V" || e2e_fail "Lua error: $(grep 'Lua Error' "$E2E_DIR/tshark.V")"
grep -q 'Expert Info (Warning/Protocol): need-reply-on-reply' "$E2E_DIR/tshark.V" ||
	e2e_fail "no expert info for the mark: $(grep -i expert "$E2E_DIR/tshark.V" | head)"
got=$(tshark -X "lua_script:$LUA" -r "$TRACE" -Y vuproxy.finding -T fields -E separator='|' \
	-e frame.number -e vuproxy.finding.id -e vuproxy.finding.frame -e frame.interface_name 2>/dev/null)
[ "$got" = '5|VU004|2|vuproxy findings' ] || e2e_fail "tshark read the findings as: $got"
e2e_log "tshark: the same messages, the marks as vuproxy.mark and expert infos, the unknown extension shown by type, the finding"

# 3. An older reader: the dissector as it was before extensions existed
# (vuproxy-before-extensions.lua, tools/wireshark/vuproxy.lua of ea1db77)
# shows the same messages and fields, and neither the marks nor an error.
OLD=$HERE/vuproxy-before-extensions.lua
tshark -X "lua_script:$OLD" -r "$TRACE" -T fields -E separator='|' \
	-e frame.number -e vhostuser.request_name -e vhostuser.flags \
	-e vhostuser.vring_state.num >"$E2E_DIR/old.txt" 2>"$E2E_DIR/old.err" ||
	e2e_fail "tshark with the old dissector: exit $?: $(cat "$E2E_DIR/old.err")"
! grep -v '^Running as user "root"' "$E2E_DIR/old.err" || e2e_fail "the old dissector said the above"
got=$(cat "$E2E_DIR/old.txt")
want='1|GET_FEATURES|0x00000009|
2|GET_FEATURES|0x0000000d|
3|SET_VRING_NUM|0x00000001|256
4|||
5|||
6|SET_OWNER|0x00000001|'
[ "$got" = "$want" ] || e2e_fail "the old dissector read:
$got
want:
$want"
got=$(tshark -X "lua_script:$OLD" -r "$TRACE" -Y 'frame.number == 5' -T fields -e frame.interface_name -e frame.protocols 2>/dev/null)
[ "$got" = "$(printf 'vuproxy findings\tuser_dlt:data')" ] ||
	e2e_fail "the old dissector took the finding interface: $got"
tshark -X "lua_script:$OLD" -r "$TRACE" -V 2>&1 | grep -q "Lua Error" &&
	e2e_fail "the old dissector raised a Lua error"
e2e_log "the dissector from before extensions reads the file, without the marks, and leaves the finding to Wireshark's data"

# 4. Declared state, to an older reader: the extension is skipped by its
# length, the messages read as they are.
DECL=$E2E_DIR/declared.pcapng
"$DECLARED_TRACE_GEN" "$DECL" || e2e_fail "declared_trace_gen failed"
tshark -X "lua_script:$OLD" -r "$DECL" -T fields -E separator='|' \
	-e frame.number -e vhostuser.request_name -e vhostuser.vring_state.num \
	>"$E2E_DIR/old-decl.txt" 2>"$E2E_DIR/old-decl.err" ||
	e2e_fail "tshark with the old dissector on declared state: exit $?: $(cat "$E2E_DIR/old-decl.err")"
! grep -v '^Running as user "root"' "$E2E_DIR/old-decl.err" || e2e_fail "the old dissector said the above"
tshark -X "lua_script:$LUA" -r "$DECL" -T fields -E separator='|' \
	-e frame.number -e vhostuser.request_name -e vhostuser.vring_state.num \
	>"$E2E_DIR/new-decl.txt" 2>/dev/null || e2e_fail "tshark on declared state: exit $?"
[ "$(wc -l <"$E2E_DIR/old-decl.txt")" = 25 ] && diff -u "$E2E_DIR/new-decl.txt" "$E2E_DIR/old-decl.txt" >&2 ||
	e2e_fail "the old dissector reads the declared file differently (diff above, or not 25 frames)"
grep -q '^10|SET_VRING_NUM|256$' "$E2E_DIR/old-decl.txt" || e2e_fail "the old dissector lost SET_VRING_NUM's fields"
tshark -X "lua_script:$OLD" -r "$DECL" -V 2>&1 | grep -q "Lua Error" &&
	e2e_fail "the old dissector raised a Lua error on declared state"
e2e_log "the dissector from before extensions reads declared state as the 25 messages it restates and follows"
e2e_log "PASS"
