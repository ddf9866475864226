#!/bin/bash
# check_live.sh - what live checking costs the relay (ab.sh): vuproxy
# (the checker on, the default) against vuproxy --no-check, the same
# binary; or, with VUPROXY_BASE set, that binary (a build without live
# checking, e.g. the main before it; or the same binary as VUPROXY, to
# see the noise floor).  Knobs: those of ab.sh.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
: "${VUPROXY:?set VUPROXY to the vuproxy binary}"
if [ -n "${VUPROXY_BASE:-}" ]; then
	B='("$VUPROXY_BASE" -q)'
elif "$VUPROXY" --help 2>&1 | grep -q -- '--no-check'; then
	B='("$VUPROXY" -q --no-check)'
else
	echo "ERROR: $VUPROXY has no --no-check; set VUPROXY_BASE to a build without live checking" >&2
	exit 1
fi
AB_NAME="live checking" AB_A=checked AB_B=unchecked AB_KEY=live \
	AB_A_CMD='("$VUPROXY" -q)' AB_B_CMD="$B" exec "$HERE/ab.sh"
