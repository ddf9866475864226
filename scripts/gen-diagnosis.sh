#!/bin/sh
# gen-diagnosis.sh - README's list of checks, generated from the table
# (VUP_CHECKS in include/vuproxy/check.h) by the built binary's
# `vuproxy check --list`, between the two marker lines of the section
# "Diagnosis".  One source: the table; README only holds its output.
#
#   scripts/gen-diagnosis.sh [VUPROXY]          rewrite README.md
#   scripts/gen-diagnosis.sh --check [VUPROXY]  exit 1 if README differs
#
# VUPROXY defaults to build-dev/vuproxy; README to README.md beside this
# script's directory (README= overrides it).
set -eu
check=0
if [ "${1:-}" = "--check" ]; then
	check=1
	shift
fi
root=$(cd "$(dirname "$0")/.." && pwd)
vuproxy=${1:-$root/build-dev/vuproxy}
readme=${README:-$root/README.md}
begin='<!-- checks: generated from VUP_CHECKS by scripts/gen-diagnosis.sh; do not edit -->'
end='<!-- end of checks -->'

[ -x "$vuproxy" ] || { echo "gen-diagnosis: $vuproxy: no binary (build first)" >&2; exit 2; }
n_begin=$(grep -cxF "$begin" "$readme" || true)
n_end=$(grep -cxF "$end" "$readme" || true)
if [ "$n_begin" != 1 ] || [ "$n_end" != 1 ]; then
	echo "gen-diagnosis: $readme needs exactly one line each of:" >&2
	echo "$begin" >&2
	echo "$end" >&2
	exit 2
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$vuproxy" check --list >"$tmp/list" || { echo "gen-diagnosis: $vuproxy check --list failed" >&2; exit 2; }
[ -s "$tmp/list" ] || { echo "gen-diagnosis: empty list" >&2; exit 2; }
# README with the lines between the markers replaced by the list.
awk -v b="$begin" -v e="$end" -v list="$tmp/list" '
	$0 == b { print; while ((getline l < list) > 0) print l; skip = 1; next }
	$0 == e { skip = 0 }
	!skip { print }
' "$readme" >"$tmp/readme"

if [ "$check" = 1 ]; then
	if ! cmp -s "$readme" "$tmp/readme"; then
		echo "FAIL: README's list of checks differs from the table (VUP_CHECKS):" >&2
		diff -u "$readme" "$tmp/readme" >&2 || true
		echo "Regenerate it: build, then scripts/gen-diagnosis.sh [build-dir/vuproxy]" >&2
		exit 1
	fi
	echo "PASS: README lists the $(($(wc -l <"$tmp/list") - 2)) checks of the table"
	exit 0
fi
cp "$tmp/readme" "$readme"
echo "README: $(($(wc -l <"$tmp/list") - 2)) checks"
