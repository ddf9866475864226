# tshark_lib.sh - helpers for the Wireshark dissector tests.  Source it from
# a bash script running with `set -eu`; it needs VUPROXY (the binary under
# test), LUA (tools/wireshark/vuproxy.lua) and WS_DIR (a scratch
# directory) set.
#
#   ws_check_trace TRACE NAME   tshark with the dissector reads TRACE as
#                               `vuproxy dump` does; NAME prefixes scratch
#                               files and messages.
#
# What it checks, failing (exit 1) at the first difference:
# - tshark exits 0 and says nothing about Lua on stderr (a script that does
#   not load prints "Lua: Error during loading"), and no frame holds a
#   "Lua Error" (a dissector that throws);
# - the sequence of request names and reply flags tshark shows
#   (vhostuser.request_name, vhostuser.flags.reply) is the one of
#   `vuproxy dump --json` (.request, .reply): same names, same count, not
#   empty;
# - the Info column of every frame is dump's text line without its time,
#   the "(N B, N fds...)" part and the action "pass";
# - every field of every message agrees with dump --json (compare.jq:
#   header, pseudo-header, and each payload field generically).
# A missing tshark or jq fails the test: it never skips.

ws_fail() {
	printf 'FAIL: %s\n' "$*" >&2
	exit 1
}

ws_need() {
	local c
	for c in "$@"; do
		command -v "$c" >/dev/null 2>&1 ||
			ws_fail "required program '$c' not found in PATH"
	done
}

# ws_tshark OUT ARGS...: tshark with the dissector on ARGS, stdout to OUT;
# fails on a non-zero exit or on Lua messages on stderr.
ws_tshark() {
	local out=$1 err rc=0
	shift
	err="$out.stderr"
	timeout -k 5 120 tshark -X "lua_script:$LUA" "$@" >"$out" 2>"$err" || rc=$?
	# tshark warns when run as root; nothing else is expected.
	grep -v '^Running as user "root"' "$err" >"$err.rest" || true
	if grep -qi 'lua' "$err.rest"; then
		cat "$err.rest" >&2
		ws_fail "tshark printed Lua errors (above) for: tshark $*"
	fi
	[ "$rc" = 0 ] || {
		cat "$err.rest" >&2
		ws_fail "tshark exited with status $rc: tshark $*"
	}
}

# Hex as a canonical number: no 0x, no leading zeros, lower case.
ws_hex() { sed -E 's/^0x//; s/^0+([0-9a-fA-F])/\1/' | tr 'A-F' 'a-f'; }

ws_check_trace() {
	local trace=$1 name=$2 base="$WS_DIR/$2" n
	[ -s "$trace" ] || ws_fail "$name: no trace at $trace"

	"$VUPROXY" dump "$trace" --json >"$base.dump.json" ||
		ws_fail "$name: vuproxy dump --json $trace failed"
	"$VUPROXY" dump "$trace" >"$base.dump.txt" ||
		ws_fail "$name: vuproxy dump $trace failed"

	# 1. Request names and reply flags, in order.
	jq -r '"\(.request) \(if .reply then 1 else 0 end)"' \
		"$base.dump.json" >"$base.dump.names"
	ws_tshark "$base.tshark.fields" -r "$trace" -T fields \
		-e vhostuser.request_name -e vhostuser.flags.reply
	# tshark 4.0 prints booleans as 1/0, later versions as True/False.
	tr '\t' ' ' <"$base.tshark.fields" |
		sed 's/ True$/ 1/; s/ False$/ 0/' >"$base.tshark.names"
	n=$(wc -l <"$base.dump.names")
	[ "$n" -gt 0 ] || ws_fail "$name: vuproxy dump shows no message"
	if ! diff -u --label "vuproxy dump --json" "$base.dump.names" \
		--label "tshark vhostuser.request_name vhostuser.flags.reply" \
		"$base.tshark.names" >"$base.names.diff"; then
		head -n 60 "$base.names.diff" >&2
		ws_fail "$name: tshark's request names or reply flags differ" \
			"from vuproxy dump (diff above)"
	fi
	echo "$name: $n messages, request names and reply flags identical"

	# 2. No Lua error in any frame.
	ws_tshark "$base.tshark.verbose" -r "$trace" -V
	if grep -q 'Lua Error' "$base.tshark.verbose"; then
		grep -n 'Lua Error' "$base.tshark.verbose" | head -n 5 >&2
		ws_fail "$name: the dissector threw Lua errors (above)"
	fi

	# 3. The Info column is dump's line.
	# (dump heads a file's declared set-up with a line of its own)
	sed -E '/^s[0-9]+: declared state/d; s/^ *[0-9]+\.[0-9]{6} //;
	        s/ \([0-9]+ B, [0-9]+ fds[^)]*\)( pass)?//' \
		"$base.dump.txt" >"$base.dump.info"
	ws_tshark "$base.tshark.info" -r "$trace" -T fields -e _ws.col.Info
	if ! diff -u --label "vuproxy dump" "$base.dump.info" \
		--label "tshark Info column" "$base.tshark.info" \
		>"$base.info.diff"; then
		head -n 60 "$base.info.diff" >&2
		ws_fail "$name: the Info column differs from vuproxy dump" \
			"(diff above)"
	fi
	echo "$name: Info column identical to vuproxy dump's lines"

	# 4. Every field.
	ws_tshark "$base.tshark.ek" -r "$trace" -T ek
	jq -n -r --slurpfile t "$base.tshark.ek" \
		--slurpfile d "$base.dump.json" \
		-f "$(dirname "${BASH_SOURCE[0]}")/compare.jq" \
		>"$base.fields.diff" ||
		ws_fail "$name: jq failed on the tshark and dump outputs"
	if [ -s "$base.fields.diff" ]; then
		head -n 40 "$base.fields.diff" >&2
		ws_fail "$name: $(wc -l <"$base.fields.diff") field values" \
			"differ between tshark and vuproxy dump --json (above)"
	fi
	echo "$name: every field of every message identical to dump --json"
}
