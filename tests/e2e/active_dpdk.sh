#!/bin/bash
# active_dpdk.sh [txonly|burst|rx] - --active net between real DPDK peers:
# testpmd net_virtio_user (split ring, packed_vq=0, in_order=0,
# mrg_rxbuf=0) -> vuproxy --active net -w TRACE -> testpmd net_vhost
# (rxonly).  vuproxy is the device of the front-end's rings and the
# driver of the shadow rings the back-end reads.
#
# Checks:
# - the back-end's RX-packets equals the front-end's TX-packets (lossless;
#   txonly: TRAFFIC_SECS of full rate, burst: one burst of 64); rx: the
#   other way, the back-end txonly and the front-end rxonly (the back-end
#   is stopped first): vuproxy completes to the guest exactly the
#   back-end's TX-packets (the front-end reads no more than that: it
#   drops what is unread when the back-end hangs up);
# - vuproxy wrote exactly that many used elements into the guest's used
#   rings (its summary line at the end of the session);
# - the trace holds exactly that many frames on "s1 net q1 tx" (tshark),
#   and its statistics block says consumed = captured = that, nothing
#   missed or torn (capture lossless by construction); burst: each one is
#   txonly's UDP packet;
# - the offers were masked (the front-end negotiated neither RING_PACKED
#   nor IN_ORDER) and the trace shows the rewrites (vuproxy dump);
# - vuproxy exits 0.
#
# Environment: VUPROXY (required), E2E_TESTPMD, E2E_TRAFFIC_SECS (default
# 0.4: a few hundred thousand frames, which tshark reads in seconds),
# E2E_READY_TIMEOUT (30), E2E_BE_CPU / E2E_FE_CPU (0 / 1), E2E_KEEP=1.
set -eu
. "$(dirname "$0")/lib.sh"

MODE=${1:-txonly}
FE_FWD=(--forward-mode=txonly) BE_FWD=(--forward-mode=rxonly)
# The sender's and the receiver's logs, the queue the frames go through.
SND=fe RCV=be Q="q1 tx"
case $MODE in
txonly) ;;
burst) FE_FWD=(--forward-mode=rxonly --tx-first --burst=64) ;;
rx) FE_FWD=(--forward-mode=rxonly) BE_FWD=(--forward-mode=txonly)
	SND=be RCV=fe Q="q0 rx" ;;
*) echo "usage: VUPROXY=... $0 [txonly|burst|rx]" >&2; exit 2 ;;
esac
TRAFFIC_SECS=${E2E_TRAFFIC_SECS:-0.4}
TESTPMD=${E2E_TESTPMD:-dpdk-testpmd}
READY_TIMEOUT=${E2E_READY_TIMEOUT:-30}
BE_CPU=${E2E_BE_CPU:-0}
FE_CPU=${E2E_FE_CPU:-1}
LIMIT=$((READY_TIMEOUT * 2 + 40)) # TRAFFIC_SECS may be a fraction

e2e_init "active_dpdk_$MODE"
e2e_need_cmd "$TESTPMD" timeout awk tshark
[ -x "${VUPROXY:-}" ] || e2e_fail "VUPROXY is not set to the vuproxy binary"

PREFIX="vupact-${E2E_DIR##*.}-$$"
if [ "$(id -u)" = 0 ]; then RUNDIR=/var/run/dpdk; else RUNDIR=${XDG_RUNTIME_DIR:-/tmp}/dpdk; fi
EAL=(--no-pci --no-huge -m 512)
TP=(--stats-period=1 --nb-cores=1 --total-num-mbufs=16384 --rxd=256 --txd=256)
FESOCK=$E2E_DIR/fe.sock BESOCK=$E2E_DIR/be.sock TRACE=$E2E_DIR/active.pcapng.gz

e2e_on_exit rm -rf -- "$RUNDIR/$PREFIX-be" "$RUNDIR/$PREFIX-fe"
e2e_start be "$LIMIT" "$TESTPMD" --lcores "0@$BE_CPU,1@$BE_CPU" "${EAL[@]}" \
	--file-prefix="$PREFIX-be" --vdev "net_vhost0,iface=$BESOCK,queues=1" \
	-- "${TP[@]}" "${BE_FWD[@]}"
e2e_wait "$READY_TIMEOUT" "the back-end to listen" e2e_unix_listening "$BESOCK"
# Both cores are busy-polled by testpmd: vuproxy, in event mode, gets a
# real-time priority when it may (as in dpdk_tap.sh), else what is left.
RT=()
if chrt -f 1 true 2>/dev/null; then RT=(chrt -f 1); else e2e_log "chrt -f 1 is not permitted: vuproxy runs at normal priority"; fi
e2e_start vuproxy "$LIMIT" "${RT[@]}" "$VUPROXY" --frontend "listen:$FESOCK" \
	--backend "connect:$BESOCK" -w "$TRACE" --active net --no-control -v
e2e_wait "$READY_TIMEOUT" "vuproxy to listen" e2e_unix_listening "$FESOCK"
e2e_start fe "$LIMIT" "$TESTPMD" --lcores "0@$FE_CPU,1@$FE_CPU" "${EAL[@]}" \
	--file-prefix="$PREFIX-fe" \
	--vdev "net_virtio_user0,path=$FESOCK,queues=1,queue_size=256,packed_vq=0,mrg_rxbuf=0,in_order=0" \
	-- "${TP[@]}" "${FE_FWD[@]}"
e2e_wait "$READY_TIMEOUT" "the link to come up" \
	e2e_log_has be "virtio is now ready for processing"
sleep "$TRAFFIC_SECS"
# The sender stops first: what it counted as sent has been offered.
e2e_stop "$SND" 20
e2e_wait 10 "vuproxy to close the session" e2e_log_has vuproxy " closed: "
[ "$MODE" = rx ] && sleep 1
e2e_stop "$RCV" 20
e2e_stop vuproxy 10
[ "${E2E_RC[vuproxy]}" = 0 ] || e2e_fail "vuproxy exited with ${E2E_RC[vuproxy]}"

stat() { # LOG FIELD: the accumulated statistics' FIELD
	sed 's/\x1b\[[0-9;]*[A-Za-z]//g' "$E2E_DIR/$1.log" |
		awk -v f="$2:" '/Accumulated forward statistics/ { a = 1; next }
		     a && $0 ~ f { for (i = 1; i < NF; i++) if ($i == f) n = $(i + 1); a = 0 }
		     END { print n }'
}
rx=$(stat "$RCV" RX-packets)
tx=$(stat "$SND" TX-packets)
used=$(sed -nE 's/.* s1 --active: guest memory writes: ([0-9]+) used elements.*/\1/p' \
	"$E2E_DIR/vuproxy.log" | tail -n 1)
e2e_log "$SND TX-packets $tx; $RCV RX-packets $rx; vuproxy used elements written $used"
[ -n "$rx" ] && [ "$rx" -gt 0 ] || e2e_fail "the $RCV received nothing (RX-packets '$rx')"
if [ "$MODE" = rx ]; then
	# The front-end drops what its used ring held when the back-end
	# hung up (virtio-user resets on a disconnect, as without vuproxy):
	# vuproxy's own count is the exact one.
	[ "$rx" -le "$tx" ] || e2e_fail "the front-end received $rx, more than the $tx sent"
	e2e_log "the front-end left $((tx - rx)) frames unread at the back-end's disconnect"
else
	[ "$rx" = "$tx" ] || e2e_fail "lost: the $SND sent $tx, the $RCV received $rx"
fi
[ "$used" = "$tx" ] || e2e_fail "vuproxy completed $used chains to the guest, the $SND sent $tx"
if [ "$MODE" = burst ]; then
	[ "$tx" = 64 ] || e2e_fail "one burst of 64: the front-end sent $tx"
fi
grep -q 'ERROR\|error:' "$E2E_DIR/vuproxy.log" &&
	{ grep 'ERROR\|error:' "$E2E_DIR/vuproxy.log" >&2; e2e_fail "vuproxy logged an error"; }

# The capture: every TX frame, once.
tshark -n -r "$TRACE" -T fields -e frame.interface_name -e ip.src -e ip.dst \
	-e udp.dstport >"$E2E_DIR/frames.txt" 2>"$E2E_DIR/tshark.err" ||
	{ cat "$E2E_DIR/tshark.err" >&2; e2e_fail "tshark could not read the trace"; }
ntx=$(grep -c "^s1 net $Q	" "$E2E_DIR/frames.txt" || true)
nudp=$(grep -c "^s1 net $Q	"'198\.18\.0\.1	198\.18\.0\.2	9$' "$E2E_DIR/frames.txt" || true)
e2e_log "tshark: $ntx frames on s1 net $Q, $nudp of them UDP 198.18.0.1 -> 198.18.0.2:9"
[ "$ntx" = "$tx" ] || e2e_fail "the trace holds $ntx frames on $Q, the $SND sent $tx"
[ "$nudp" = "$ntx" ] || e2e_fail "not every TX frame decodes as txonly's packet"
want="consumed=$tx captured=$tx missed=0 torn=0 malformed=0"
zcat "$TRACE" | tr -c '[:print:]' '\n' | grep '^consumed=' >"$E2E_DIR/isb.txt" || true
grep -qxF "$want" "$E2E_DIR/isb.txt" ||
	{ cat "$E2E_DIR/isb.txt" >&2; e2e_fail "no statistics block with $want"; }

# The offers as the front-end saw them, and the rewrites in the trace.
"$VUPROXY" dump "$TRACE" >"$E2E_DIR/dump.txt" 2>&1 || e2e_fail "vuproxy dump failed"
grep -q 'rewrite.*--active\|--active.*rewrite' "$E2E_DIR/dump.txt" ||
	e2e_fail "the trace shows no --active rewrite"
if grep -E 'SET_FEATURES.*(RING_PACKED|IN_ORDER)' "$E2E_DIR/dump.txt"; then
	e2e_fail "the front-end acked a feature --active hides"
fi
e2e_log "PASS"
