#!/bin/bash
# ring.sh - what the flight recorder costs the relay (ab.sh): vuproxy
# --ring RING_MB (default 64) with no trigger against vuproxy without
# it, the same binary.  Targets (issue 13): CPU per relayed message and
# the round trip at most 1.05 times without the ring; VmHWM at most the
# baseline plus RING_MB MiB plus 8 MiB.  LIVE_N defaults to 500000
# round trips here: a million records of ~90 bytes, enough to fill and
# turn a 64 MiB ring, so that the memory reported is the ring full.
# Knobs: RING_MB, and those of ab.sh.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
: "${VUPROXY:?set VUPROXY to the vuproxy binary}"
RING_MB=${RING_MB:-64}
export LIVE_N=${LIVE_N:-500000}
RESULTS_OUT=${RESULTS:-}
TMP_RES=$(mktemp)
trap 'rm -f "$TMP_RES"' EXIT
RESULTS=$TMP_RES AB_NAME="flight recorder (--ring $RING_MB, no trigger)" \
	AB_A=ring AB_B=noring AB_KEY=ring \
	AB_A_CMD="(\"\$VUPROXY\" -q --ring $RING_MB)" AB_B_CMD='("$VUPROXY" -q)' \
	"$HERE/ab.sh" || exit 1
a=$(sed -n 's/^ring_vmhwm_ring_kib=//p' "$TMP_RES")
b=$(sed -n 's/^ring_vmhwm_noring_kib=//p' "$TMP_RES")
limit=$((${b%.*} + RING_MB * 1024 + 8192))
verdict=met
[ "${a%.*}" -le "$limit" ] || verdict="NOT met"
echo "   VmHWM with the ring ${a%.*} KiB <= baseline ${b%.*} + $RING_MB MiB + 8 MiB = $limit KiB: $verdict"
[ -z "$RESULTS_OUT" ] || { cat "$TMP_RES"; echo "ring_vmhwm_limit_kib=$limit"; } >>"$RESULTS_OUT"
