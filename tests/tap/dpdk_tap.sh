#!/bin/bash
# dpdk_tap.sh RING [QUEUE_SIZE [default|strict [burst]]] - the net tap
# between real DPDK peers (with "strict": vuproxy --tap-strict, verified
# copies only):
# testpmd net_virtio_user (txonly) -> vuproxy --tap net -s 128 -w TRACE ->
# testpmd net_vhost (rxonly).
#
# Checks, for the TX queue (vring 1) vuproxy followed:
# - split: what the tap says the device consumed equals the back-end's
#   RX-packets (every packet is one buffer: 64-byte single-segment frames);
#   packed: not more (README, "The tap": no used index to count from);
# - captured + missed + torn + malformed == consumed (vuproxy's summary);
# - tshark decodes every captured TX frame as the UDP/IPv4 packet txonly
#   sends (198.18.0.1 -> 198.18.0.2, port 9); one burst with the
#   default (unverified copies kept): all 64 captured;
# - the trace's Interface Statistics Block holds the same counts;
# - the RX queue (vring 0) carried nothing (rxonly sends nothing back).
#
# Environment: VUPROXY (required), E2E_TESTPMD, E2E_TRAFFIC_SECS (default 2),
# E2E_READY_TIMEOUT (30), E2E_BE_CPU / E2E_FE_CPU (0 / 1), TAP_INTERVAL
# (vuproxy --tap-interval, default 1000 us), E2E_KEEP=1.
set -eu
. "$(dirname "$0")/../e2e/lib.sh"

[ $# -ge 1 ] || { echo "usage: VUPROXY=... $0 split|packed [QUEUE_SIZE [default|strict [burst]]]" >&2; exit 2; }
RING=$1
QSIZE=${2:-256}
MODE=${3:-default}
STRICT=()
case $MODE in default) ;; strict) STRICT=(--tap-strict) ;; *) exit 2 ;; esac
# burst: the front-end sends one burst of 64 packets (testpmd --tx-first)
# instead of txonly's full rate, a load a timer-driven reader can follow.
FE_FWD=(--forward-mode=txonly)
[ "${4:-}" = burst ] && FE_FWD=(--forward-mode=rxonly --tx-first --burst=64)
case $RING in split) PACKED=0 ;; packed) PACKED=1 ;; *) exit 2 ;; esac
TRAFFIC_SECS=${E2E_TRAFFIC_SECS:-2}
TESTPMD=${E2E_TESTPMD:-dpdk-testpmd}
READY_TIMEOUT=${E2E_READY_TIMEOUT:-30}
BE_CPU=${E2E_BE_CPU:-0}
FE_CPU=${E2E_FE_CPU:-1}
LIMIT=$((READY_TIMEOUT * 2 + TRAFFIC_SECS + 30))

e2e_init "dpdk_tap_${RING}_q${QSIZE}_${MODE}${4:+_$4}"
e2e_need_cmd "$TESTPMD" timeout awk tshark
[ -x "${VUPROXY:-}" ] || e2e_fail "VUPROXY is not set to the vuproxy binary"

PREFIX="vuptap-${E2E_DIR##*.}-$$"
if [ "$(id -u)" = 0 ]; then RUNDIR=/var/run/dpdk; else RUNDIR=${XDG_RUNTIME_DIR:-/tmp}/dpdk; fi
EAL=(--no-pci --no-huge -m 512)
TP=(--stats-period=1 --nb-cores=1 --total-num-mbufs=16384 "--rxd=$QSIZE" "--txd=$QSIZE")
FESOCK=$E2E_DIR/fe.sock BESOCK=$E2E_DIR/be.sock TRACE=$E2E_DIR/tap.pcapng.gz

e2e_on_exit rm -rf -- "$RUNDIR/$PREFIX-be" "$RUNDIR/$PREFIX-fe"
e2e_start be "$LIMIT" "$TESTPMD" --lcores "0@$BE_CPU,1@$BE_CPU" "${EAL[@]}" \
	--file-prefix="$PREFIX-be" --vdev "net_vhost0,iface=$BESOCK,queues=1" \
	-- "${TP[@]}" --forward-mode=rxonly
e2e_wait "$READY_TIMEOUT" "the back-end to listen" e2e_unix_listening "$BESOCK"
# Both cores are busy-polled by testpmd.  A split ring's used index is 16
# bits: should vuproxy not get a CPU for 65536 packets (13 ms at 5 Mpps),
# the index wraps unseen and the consumed count is short by 65536 (README,
# "Tap": give vuproxy a real-time priority on such a machine).  Do so.
RT=()
if chrt -f 1 true 2>/dev/null; then RT=(chrt -f 1); else e2e_log "chrt -f 1 is not permitted: vuproxy runs at normal priority"; fi
e2e_start vuproxy "$LIMIT" "${RT[@]}" "$VUPROXY" --frontend "listen:$FESOCK" \
	--backend "connect:$BESOCK" -w "$TRACE" --tap net -s 128 \
	--tap-interval "${TAP_INTERVAL:-1000}" "${STRICT[@]}"
e2e_wait "$READY_TIMEOUT" "vuproxy to listen" e2e_unix_listening "$FESOCK"
e2e_start fe "$LIMIT" "$TESTPMD" --lcores "0@$FE_CPU,1@$FE_CPU" "${EAL[@]}" \
	--file-prefix="$PREFIX-fe" \
	--vdev "net_virtio_user0,path=$FESOCK,queues=1,queue_size=$QSIZE,packed_vq=$PACKED,mrg_rxbuf=1,in_order=1" \
	-- "${TP[@]}" "${FE_FWD[@]}"
e2e_wait "$READY_TIMEOUT" "the link to come up" \
	e2e_log_has be "virtio is now ready for processing"
sleep "$TRAFFIC_SECS"
e2e_stop fe 20
e2e_wait 10 "vuproxy to close the session" e2e_log_has vuproxy " closed: "
e2e_stop vuproxy 10
[ "${E2E_RC[vuproxy]}" = 0 ] || e2e_fail "vuproxy exited with ${E2E_RC[vuproxy]}"
e2e_stop be 20

rx=$(sed 's/\x1b\[[0-9;]*[A-Za-z]//g' "$E2E_DIR/be.log" |
	awk '/Accumulated forward statistics/ { a = 1; next }
	     a && $1 == "RX-packets:" { n = $2; a = 0 } END { print n }')
[ -n "$rx" ] && [ "$rx" -gt 0 ] || e2e_fail "the back-end received nothing (RX-packets '$rx')"

# "s1 tap q1: consumed N, captured N[ (N unverified)], missed N, torn N,
# malformed N"
counts() { # QUEUE
	grep " s1 tap q$1: consumed " "$E2E_DIR/vuproxy.log" | tail -n 1 |
		sed -E 's/.*consumed ([0-9]+), captured ([0-9]+)( \(([0-9]+) unverified\))?, missed ([0-9]+), torn ([0-9]+), malformed ([0-9]+).*/\1 \2 \5 \6 \7 \4/'
}
read -r consumed captured missed torn malformed unverified <<<"$(counts 1)" ||
	e2e_fail "vuproxy printed no tap counts for queue 1"
e2e_log "TX queue: back-end RX-packets $rx; tap consumed $consumed, captured $captured," \
	"missed $missed, torn $torn, malformed $malformed"
if [ "$RING" = split ]; then
	[ "$consumed" = "$rx" ] ||
		e2e_fail "the tap counted $consumed buffers consumed on the TX queue, the back-end received $rx"
else
	# A packed ring has no used index: consumed is what the tap saw used,
	# exact only while it reads every slot once per lap of the ring (at
	# millions of packets a second it cannot).  It never counts more.
	[ "$consumed" -le "$rx" ] ||
		e2e_fail "the tap counted $consumed buffers consumed on a packed TX queue, more than the $rx the back-end received"
fi
[ $((captured + missed + torn + malformed)) = "$consumed" ] ||
	e2e_fail "captured + missed + torn + malformed != consumed"
# At tens of millions of packets a second testpmd uses each TX buffer
# microseconds after the offer: a strict tap may verify none (they count
# torn or missed, as they should), and keeps nothing unverified.  By
# default the copies of offers the device had already used are kept,
# unless the ring lapped them: one burst of 64 on a split ring of 256 is
# captured whole.
if [ "$MODE" = strict ]; then
	[ "${unverified:-0}" = 0 ] ||
		e2e_fail "--tap-strict kept $unverified unverified copies"
fi
if [ "$MODE" = default ] && [ "${4:-}" = burst ] && [ "$RING" = split ]; then
	[ "$captured" = 64 ] && [ "$consumed" = 64 ] ||
		e2e_fail "one burst of 64 (default: unverified copies kept): $captured of $consumed captured, expected 64 of 64"
fi
[ "$malformed" = 0 ] || e2e_fail "$malformed buffers of a real ring were counted malformed"
read -r c0 _ <<<"$(counts 0)"
[ "${c0:-0}" = 0 ] || e2e_fail "the RX queue consumed $c0 buffers; rxonly sends none"

# tshark: every captured TX frame is txonly's UDP packet.
tshark -r "$TRACE" -Y 'frame.interface_name == "s1 net q1 tx"' -T fields \
	-e ip.src -e ip.dst -e udp.dstport >"$E2E_DIR/tx.txt" 2>"$E2E_DIR/tshark.err" ||
	{ cat "$E2E_DIR/tshark.err" >&2; e2e_fail "tshark could not read the trace"; }
ntx=$(wc -l <"$E2E_DIR/tx.txt")
nudp=$(grep -c '^198\.18\.0\.1	198\.18\.0\.2	9$' "$E2E_DIR/tx.txt" || true)
e2e_log "tshark: $ntx frames on s1 net q1 tx, $nudp of them UDP 198.18.0.1 -> 198.18.0.2:9"
[ "$ntx" = "$captured" ] || e2e_fail "the trace holds $ntx TX frames, vuproxy captured $captured"
[ "$nudp" = "$ntx" ] || { sort "$E2E_DIR/tx.txt" | uniq -c | head >&2; e2e_fail "not every TX frame decodes as txonly's packet"; }

# The Interface Statistics Block (its comment spells out the classes)
# says the same.
want="consumed=$consumed captured=$captured missed=$missed torn=$torn malformed=$malformed"
zcat "$TRACE" | tr -c '[:print:]' '\n' | grep '^consumed=' >"$E2E_DIR/isb.txt" || true
grep -qxF "$want" "$E2E_DIR/isb.txt" ||
	{ cat "$E2E_DIR/isb.txt" >&2; e2e_fail "no statistics block with $want"; }
e2e_log "PASS"
