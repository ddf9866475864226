#!/bin/bash
# captures.sh [DIR|FILE...] - every committed capture (default: the
# *.pcapng.gz of ../../captures; a DIR stands for its *.pcapng.gz) is read
# whole, without an unknown, by `vuproxy dump` and by tshark with
# tools/wireshark/vuproxy.lua ($VUP_WIRESHARK_LUA).
#
# For each file:
# - `vuproxy dump --json` exits 0, says nothing on stderr and prints at
#   least one record, none of them undecoded: no control message whose
#   request is "UNKNOWN" (a code the catalogue does not name on its
#   channel) or whose payload is shown as opaque "bytes"; no blk record
#   dump cannot read ("error"), nor one whose type or status it cannot
#   name; no record of another type than control, net, blk or stats;
# - tshark with the dissector exits 0 with no Lua message on stderr and no
#   "Lua Error" in any frame; it reads as many frames as dump prints
#   records other than the statistics blocks; its control messages
#   (vhostuser) have the same request names and reply flags, in the same
#   order and number, as dump's, and every field agrees
#   (../wireshark/compare.jq); its blk records have the same type, sector,
#   length and status, in order; and no frame carries an expert info of
#   severity warning or error (an unknown request, an undecoded or
#   malformed record, a size or fd count outside the catalogue).
# Every file is checked and every failure reported, then the test fails.
# A missing tshark or jq fails the test: it never skips.
# Env: VUPROXY (required), VUP_WIRESHARK_LUA (required), E2E_KEEP=1.
# Run by hand: VUPROXY=build/vuproxy \
#   VUP_WIRESHARK_LUA=tools/wireshark/vuproxy.lua tests/trace/captures.sh
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source-path=SCRIPTDIR source=../e2e/lib.sh
. "$HERE/../e2e/lib.sh"

e2e_init trace_captures
e2e_need_cmd tshark jq timeout diff grep sed wc
e2e_need_exe VUPROXY
LUA=${VUP_WIRESHARK_LUA:-}
{ [ -n "$LUA" ] && [ -r "$LUA" ]; } || e2e_fail "VUP_WIRESHARK_LUA='$LUA' is not a readable file"
COMPARE_JQ=$HERE/../wireshark/compare.jq
[ -r "$COMPARE_JQ" ] || e2e_fail "no $COMPARE_JQ"

[ $# -gt 0 ] || set -- "$HERE/../../captures"
FILES=()
for a in "$@"; do
	if [ -d "$a" ]; then
		for f in "$a"/*.pcapng.gz; do
			[ -e "$f" ] && FILES+=("$f")
		done
	elif [ -f "$a" ]; then
		FILES+=("$a")
	else
		e2e_fail "no file or directory $a"
	fi
done
[ "${#FILES[@]}" -gt 0 ] || e2e_fail "no *.pcapng.gz capture in $*"

fails=()
# bad FILE WHAT: record a failure, go on with the next check.
bad() {
	e2e_log "NOT OK: $(basename "$1"): $2"
	fails+=("$(basename "$1"): $2")
}

# ts OUT ARGS...: tshark with the dissector, stdout to OUT; 1 (reported)
# on a non-zero exit or a Lua message on stderr.
ts() {
	local out=$1 rc=0
	shift
	timeout -k 5 60 tshark -X "lua_script:$LUA" "$@" >"$out" 2>"$out.err" || rc=$?
	# tshark warns when run as root; nothing else is expected.
	grep -v '^Running as user "root"' "$out.err" >"$out.rest" || true
	if [ "$rc" != 0 ] || grep -qi lua "$out.rest"; then
		bad "$F" "tshark $* exited $rc: $(head -c 300 "$out.rest")"
		return 1
	fi
}

# undecoded: jq filter, one line per record dump could not decode.
# shellcheck disable=SC2016 # jq, not shell
UNDECODED='
  to_entries[] | (.key + 1) as $n | .value
  | if .type == "control" then
      if .request == "UNKNOWN" then
        "record \($n): \(.channel) channel request code \(.code) is UNKNOWN"
      elif (.payload | type) == "object" and (.payload | has("bytes")) then
        "record \($n): \(.request) payload not decoded (opaque bytes)"
      else empty end
    elif .type == "blk" then
      if has("error") then "record \($n): blk record not decoded: \(.error)"
      elif .op == null then "record \($n): blk request type \(.op_code) unknown"
      elif .status == null and .status_code != null then
        "record \($n): blk status \(.status_code) unknown"
      else empty end
    elif .type == "net" or .type == "stats" then empty
    else "record \($n): record type \(.type) unknown" end'

check_file() {
	local b=$E2E_DIR/$1 n nctl nblk ntap nframes
	# 1. vuproxy dump --json.
	e2e_dump "$b.dump.json" --json "$F"
	if [ "$E2E_DUMP_RC" != 0 ]; then
		bad "$F" "vuproxy dump --json exited $E2E_DUMP_RC: $(head -c 300 "$b.dump.json.err")"
		return
	fi
	[ ! -s "$b.dump.json.err" ] || bad "$F" "vuproxy dump wrote to stderr: $(head -c 300 "$b.dump.json.err")"
	n=$(wc -l <"$b.dump.json")
	[ "$n" -gt 0 ] || { bad "$F" "vuproxy dump --json prints no record"; return; }
	if ! jq -s -r "$UNDECODED" "$b.dump.json" >"$b.undecoded" 2>"$b.undecoded.err"; then
		bad "$F" "jq cannot read dump's output: $(head -c 300 "$b.undecoded.err")"
		return
	fi
	[ ! -s "$b.undecoded" ] ||
		bad "$F" "$(wc -l <"$b.undecoded") records not decoded by dump: $(head -n 5 "$b.undecoded" | tr '\n' ';')"
	jq -r 'select(.type == "control") | "\(.request) \(if .reply then 1 else 0 end)"' \
		"$b.dump.json" >"$b.dump.names"
	jq -c 'select(.type == "control")' "$b.dump.json" >"$b.dump.control"
	jq -r 'select(.type == "blk") | "\(.op_code) \(.sector) \(.len) \(.status_code // "")"' \
		"$b.dump.json" >"$b.dump.blk"
	nctl=$(wc -l <"$b.dump.names")
	nblk=$(wc -l <"$b.dump.blk")
	ntap=$(jq -r 'select(.type != "control" and .type != "stats") | .type' "$b.dump.json" | wc -l)
	[ "$nctl" -gt 0 ] || bad "$F" "vuproxy dump shows no control message"

	# 2. tshark with the dissector: every frame, then the control messages.
	ts "$b.frames" -r "$F" -T fields -e frame.number -e vhostuser.request_name \
		-e vhostuser.flags.reply || return
	nframes=$(wc -l <"$b.frames")
	[ "$nframes" = $((nctl + ntap)) ] ||
		bad "$F" "tshark reads $nframes frames, vuproxy dump $((nctl + ntap)) records ($nctl control, $ntap tap, statistics apart)"
	# tshark 4.0 prints booleans as 1/0, later versions as True/False.
	awk -F'\t' '$2 != "" { print $2, $3 }' "$b.frames" |
		sed 's/ True$/ 1/; s/ False$/ 0/' >"$b.tshark.names"
	if ! diff -u --label "vuproxy dump --json" "$b.dump.names" \
		--label "tshark vhostuser.request_name vhostuser.flags.reply" \
		"$b.tshark.names" >"$b.names.diff"; then
		bad "$F" "tshark shows $(wc -l <"$b.tshark.names") control messages, dump $nctl, or other request names or reply flags: $(grep '^[-+][^-+]' "$b.names.diff" | head -n 6 | tr '\n' ';')"
	fi
	ts "$b.ek" -r "$F" -Y vhostuser -T ek || return
	jq -n -r --slurpfile t "$b.ek" --slurpfile d "$b.dump.control" -f "$COMPARE_JQ" \
		>"$b.fields.diff" 2>"$b.fields.err" ||
		bad "$F" "jq $COMPARE_JQ failed: $(head -c 300 "$b.fields.err")"
	[ ! -s "$b.fields.diff" ] ||
		bad "$F" "$(wc -l <"$b.fields.diff") field values differ between tshark and dump: $(head -n 3 "$b.fields.diff" | tr '\n' ';')"
	ts "$b.tshark.blk" -r "$F" -Y vuproxy.blk -T fields -e vuproxy.blk.type \
		-e vuproxy.blk.sector -e vuproxy.blk.len -e vuproxy.blk.status || return
	tr '\t' ' ' <"$b.tshark.blk" >"$b.tshark.blk.txt"
	diff -q "$b.dump.blk" "$b.tshark.blk.txt" >/dev/null ||
		bad "$F" "tshark's blk records (type sector len status) differ from dump's ($(wc -l <"$b.tshark.blk.txt") vs $nblk)"
	# 3. No warning or error expert info, no Lua error in any frame.
	ts "$b.expert" -r "$F" -Y '_ws.expert.severity >= 0x00600000' -T fields \
		-e frame.number -e _ws.expert.message || return
	[ ! -s "$b.expert" ] ||
		bad "$F" "tshark flags $(wc -l <"$b.expert") frames: $(head -n 3 "$b.expert" | tr '\t\n' ' ;')"
	ts "$b.verbose" -r "$F" -V || return
	! grep -q 'Lua Error' "$b.verbose" ||
		bad "$F" "the dissector threw: $(grep -m 3 'Lua Error' "$b.verbose" | tr '\n' ';')"
	e2e_log "$(basename "$F"): $n records: $nctl control messages, $((ntap - nblk)) net frames, $nblk blk requests, $((n - nctl - ntap)) statistics"
}

i=0
for F in "${FILES[@]}"; do
	i=$((i + 1))
	nfails=${#fails[@]}
	check_file "$i"
	[ "${#fails[@]}" != "$nfails" ] || e2e_log "ok: $(basename "$F")"
done

if [ "${#fails[@]}" -gt 0 ]; then
	printf '  %s\n' "${fails[@]}" >&2
	e2e_fail "${#fails[@]} problems in ${#FILES[@]} captures (above)"
fi
e2e_log "PASS: ${#FILES[@]} captures decoded without an unknown by vuproxy dump and tshark"
