#!/bin/bash
# check_captures.sh - `vuproxy check` on every file in captures/ (real
# peers: zero error findings, exit 0), its --json and --junit output, a
# cut-off copy of a capture, and the files it cannot read (exit 2).
# jq is required (scripts/install-deps.sh installs it): a missing jq fails.
# Environment: VUPROXY (the binary), CAPTURES (the captures directory).
set -u
fail() {
	echo "FAIL: $*" >&2
	exit 1
}
command -v jq >/dev/null || fail "jq is not installed (scripts/install-deps.sh)"
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT

n=0
for f in "$CAPTURES"/*.pcapng.gz; do
	n=$((n + 1))
	"$VUPROXY" check "$f" >"$dir/out" 2>"$dir/err"
	rc=$?
	[ "$rc" = 0 ] || fail "$f: exit $rc: $(cat "$dir/out" "$dir/err")"
	grep -q ' 0 errors, .* in [1-9][0-9]* sessions, [1-9][0-9]* messages$' \
		"$dir/out" || fail "$f: no summary: $(tail -1 "$dir/out")"
	grep -q '^frame [0-9]* s[0-9]* VU[0-9]* error' "$dir/out" &&
		fail "$f: error findings: $(grep ' error ' "$dir/out")"
	echo "$(basename "$f"): $(tail -1 "$dir/out" | sed 's/^[^:]*: //')"

	"$VUPROXY" check --json "$f" >"$dir/json" 2>/dev/null ||
		fail "$f: --json exit $?"
	jq -e -s 'all(.[]; has("id") and has("severity") and has("session")
		and has("frame") and has("request") and has("message")
		and has("spec")) and all(.[]; .severity != "error")' \
		"$dir/json" >/dev/null || fail "$f: --json: $(cat "$dir/json")"
	[ "$(wc -l <"$dir/json")" = "$(grep -c '^frame ' "$dir/out")" ] ||
		fail "$f: --json and text disagree on the number of findings"

	"$VUPROXY" check --junit "$dir/j.xml" "$f" >/dev/null ||
		fail "$f: --junit exit $?"
	grep -q '<testsuite name="vuproxy check .* failures="0"' "$dir/j.xml" ||
		fail "$f: --junit: $(head -3 "$dir/j.xml")"
done
[ "$n" -gt 0 ] || fail "no captures in $CAPTURES"

# Cut-off copies: each trace cut at every tenth of its uncompressed
# length, compressed again, and a gzip stream cut short.  Still checked
# (exit 0: real peers, no error finding), the summary says the file was
# cut off, and a request whose reply lies past the cut is info (VU023).
cut_info=0
for f in "$CAPTURES"/*.pcapng.gz; do
	zcat "$f" >"$dir/full.pcapng"
	size=$(stat -c %s "$dir/full.pcapng")
	for p in 10 20 30 40 50 60 70 80 90; do
		head -c $((size * p / 100)) "$dir/full.pcapng" |
			gzip >"$dir/cut.pcapng.gz"
		"$VUPROXY" check "$dir/cut.pcapng.gz" >"$dir/out" 2>"$dir/err"
		rc=$?
		[ "$rc" = 0 ] || fail "$f cut at $p%: exit $rc: $(cat "$dir/err")"
		grep -q '(file cut off)$' "$dir/out" ||
			fail "$f cut at $p%: summary: $(tail -1 "$dir/out")"
		grep -q ' error ' "$dir/out" &&
			fail "$f cut at $p%: error findings: $(cat "$dir/out")"
		grep -q ' VU023 info ' "$dir/out" && cut_info=$((cut_info + 1))
	done
	gsize=$(stat -c %s "$f")
	head -c $((gsize * 2 / 3)) "$f" >"$dir/cutgz.pcapng.gz"
	"$VUPROXY" check "$dir/cutgz.pcapng.gz" >"$dir/out" 2>"$dir/err"
	rc=$?
	[ "$rc" = 0 ] || fail "$f, gzip cut short: exit $rc: $(cat "$dir/err")"
done
[ "$cut_info" -gt 0 ] || fail "no cut-off copy had a reply owed (VU023)"
echo "cut-off copies: $cut_info of them end with a reply owed (info)"

# Files it cannot read: exit 2.
"$VUPROXY" check "$dir/missing.pcapng.gz" >/dev/null 2>&1
rc=$?
[ "$rc" = 2 ] || fail "missing file: exit $rc, want 2"
echo "not a trace" >"$dir/text.txt"
"$VUPROXY" check "$dir/text.txt" >/dev/null 2>&1
rc=$?
[ "$rc" = 2 ] || fail "text file: exit $rc, want 2"
"$VUPROXY" check >/dev/null 2>&1
rc=$?
[ "$rc" = 2 ] || fail "no file: exit $rc, want 2"
echo "PASS: $n captures, cut-off copies, unreadable files"
