#!/bin/bash
# versioning.sh - the trace's versioning rule (README, "What the trace
# gains"; include/vuproxy/pcapng.h) holds:
# - every committed capture reads the same: `vuproxy dump` and `dump
#   --json` print, byte for byte, what the reader printed before the trace
#   had extensions (captures.sha256, made with the vuproxy of ea1db77);
# - a trace with what later versions add (ext_trace_gen.c: a mark, an
#   extension of a type nobody knows, a record of a link type nobody
#   knows) reads whole: dump shows the three messages with their fields
#   and the marks, skips the unknown extension by its length and the
#   unknown record, exit 0; tshark with the dissector shows the same
#   messages, the marks as vuproxy.mark with an expert info, the unknown
#   extension as an extension of type 0x7f01, and no Lua error.
# Env: VUPROXY, EXT_TRACE_GEN, VUP_WIRESHARK_LUA (all required).
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source-path=SCRIPTDIR source=tlib.sh
. "$HERE/tlib.sh"

t_init trace_versioning
t_need_cmd tshark jq sha256sum grep
t_need_exe VUPROXY
t_need_exe EXT_TRACE_GEN
LUA=${VUP_WIRESHARK_LUA:-}
[ -r "$LUA" ] || t_fail "VUP_WIRESHARK_LUA='$LUA' is not readable"
CAPTURES=$HERE/../../captures

# 1. The committed captures read as they always did.
n=0
while read -r sum file mode; do
	opt=; [ "$mode" = json ] && opt=--json
	got=$("$VUPROXY" dump $opt "$CAPTURES/$file" 2>&1 | sha256sum | cut -d' ' -f1)
	[ "$got" = "$sum" ] || t_fail "$file: dump $opt reads differently from before (sha256 $got, was $sum)"
	n=$((n + 1))
done <"$HERE/captures.sha256"
have=$(find "$CAPTURES" -name '*.pcapng.gz' | wc -l)
[ "$n" -eq $((2 * have)) ] || t_fail "captures.sha256 has $n digests for $have captures: add the new ones"
t_log "$have captures read the same as before ($n digests)"

# 2. What later versions add.
TRACE=$T_DIR/ext.pcapng.gz
"$EXT_TRACE_GEN" "$TRACE" || t_fail "ext_trace_gen failed"
"$VUPROXY" dump --json "$TRACE" >"$T_DIR/dump.json" 2>"$T_DIR/dump.err" ||
	t_fail "dump exit $?: $(cat "$T_DIR/dump.err")"
[ ! -s "$T_DIR/dump.err" ] || t_fail "dump said: $(cat "$T_DIR/dump.err")"
got=$(jq -c '[.request, .reply, (.payload.num // null), (.mark // null)]' "$T_DIR/dump.json")
want='["GET_FEATURES",false,null,null]
["GET_FEATURES",true,null,"need-reply-on-reply: NEED_REPLY set on a reply (flags 0xd)"]
["SET_VRING_NUM",false,256,"size: written by a later vuproxy"]'
[ "$got" = "$want" ] || t_fail "dump --json read:
$got
want:
$want"
"$VUPROXY" dump "$TRACE" >"$T_DIR/dump.txt" 2>&1 || t_fail "dump (text) exit $?"
grep -q 'GET_FEATURES reply need_reply .*\[relayed despite: need-reply-on-reply: NEED_REPLY set on a reply (flags 0xd)\]' "$T_DIR/dump.txt" ||
	t_fail "dump's text shows no mark on the reply: $(cat "$T_DIR/dump.txt")"
t_log "dump: 3 messages, 2 marks, the unknown extension and record skipped"

tshark -X "lua_script:$LUA" -r "$TRACE" -T fields -E separator='|' \
	-e frame.number -e vhostuser.request_name -e vuproxy.mark -e vuproxy.ext.type \
	-e vhostuser.vring_state.num >"$T_DIR/tshark.txt" 2>"$T_DIR/tshark.err" ||
	t_fail "tshark exit $?: $(cat "$T_DIR/tshark.err")"
! grep -v '^Running as user "root"' "$T_DIR/tshark.err" ||
	t_fail "tshark said the above"
got=$(cat "$T_DIR/tshark.txt")
want='1|GET_FEATURES|||
2|GET_FEATURES|need-reply-on-reply: NEED_REPLY set on a reply (flags 0xd)|1|
3|SET_VRING_NUM|size: written by a later vuproxy|32513,1|256
4||||'
[ "$got" = "$want" ] || t_fail "tshark read:
$got
want:
$want"
tshark -X "lua_script:$LUA" -r "$TRACE" -V >"$T_DIR/tshark.V" 2>&1 || t_fail "tshark -V exit $?"
! grep -q "Lua Error" "$T_DIR/tshark.V" || t_fail "Lua error: $(grep 'Lua Error' "$T_DIR/tshark.V")"
grep -q 'Expert Info (Warning/Protocol): need-reply-on-reply' "$T_DIR/tshark.V" ||
	t_fail "no expert info for the mark: $(grep -i expert "$T_DIR/tshark.V" | head)"
t_log "tshark: the same messages, the marks as vuproxy.mark and expert infos, the unknown extension shown by type"
t_log "PASS"
