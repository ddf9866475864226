#!/bin/bash
# tshark_catalogue.sh VUPROXY LUA EVERY_REQUEST - tshark with the dissector
# LUA reads a trace holding every request of the catalogue (written by the
# every_request program through vuproxy's trace writer: both channels,
# request and reply of every row, the packed ring, 40-byte XEN_MMAP memory
# regions, every action and fd kind, unknown codes, a cut message) exactly
# as `vuproxy dump` does (see tshark_lib.sh), and shows every request name
# of `vuproxy requests` at least once.
set -eu
[ $# = 3 ] || { echo "usage: $0 VUPROXY LUA EVERY_REQUEST" >&2; exit 2; }
VUPROXY=$1 LUA=$2 EVERY=$3
. "$(dirname "$0")/tshark_lib.sh"
ws_need tshark jq timeout diff

WS_DIR=$(mktemp -d "${TMPDIR:-/tmp}/vup-wscat.XXXXXX")
trap 'rc=$?; if [ $rc = 0 ]; then rm -rf -- "$WS_DIR"; else echo "files kept in $WS_DIR" >&2; fi' EXIT

trace="$WS_DIR/every.pcapng.gz"
n=$("$EVERY" "$trace") || ws_fail "every_request failed"
echo "every_request wrote $n messages"

ws_check_trace "$trace" every

# Every request of the catalogue was decoded under its name.
"$VUPROXY" requests | awk 'NR > 1 { print $3 }' | sort -u >"$WS_DIR/catalogue.names"
[ -s "$WS_DIR/catalogue.names" ] || ws_fail "vuproxy requests listed nothing"
cut -d ' ' -f 1 "$WS_DIR/every.tshark.names" | grep -vx UNKNOWN | sort -u \
	>"$WS_DIR/seen.names"
if ! diff -u --label "vuproxy requests" "$WS_DIR/catalogue.names" \
	--label "request names tshark showed" "$WS_DIR/seen.names" >&2; then
	ws_fail "tshark did not show every request of the catalogue (diff above)"
fi
grep -qx 'UNKNOWN 0' "$WS_DIR/every.tshark.names" ||
	ws_fail "tshark did not show the unknown request codes as UNKNOWN"
echo "all $(wc -l <"$WS_DIR/catalogue.names") requests of the catalogue decoded by name"
echo PASS
