#!/bin/bash
# active_dpdk.sh [txonly|burst] - --active net between real DPDK peers:
# testpmd net_virtio_user (split ring, packed_vq=0, in_order=0,
# mrg_rxbuf=0) -> vuproxy --active net -w TRACE -> testpmd net_vhost
# (rxonly).  vuproxy is the device of the front-end's rings and the
# driver of the shadow rings the back-end reads.
#
# Checks:
# - the back-end's RX-packets equals the front-end's TX-packets (lossless;
#   txonly: TRAFFIC_SECS of full rate, burst: one burst of 64);
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
# 2), E2E_READY_TIMEOUT (30), E2E_BE_CPU / E2E_FE_CPU (0 / 1), E2E_KEEP=1.
set -eu
. "$(dirname "$0")/lib.sh"

MODE=${1:-txonly}
FE_FWD=(--forward-mode=txonly)
case $MODE in
txonly) ;;
burst) FE_FWD=(--forward-mode=rxonly --tx-first --burst=64) ;;
*) echo "usage: VUPROXY=... $0 [txonly|burst]" >&2; exit 2 ;;
esac
TRAFFIC_SECS=${E2E_TRAFFIC_SECS:-2}
TESTPMD=${E2E_TESTPMD:-dpdk-testpmd}
READY_TIMEOUT=${E2E_READY_TIMEOUT:-30}
BE_CPU=${E2E_BE_CPU:-0}
FE_CPU=${E2E_FE_CPU:-1}
LIMIT=$((READY_TIMEOUT * 2 + TRAFFIC_SECS + 30))

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
	-- "${TP[@]}" --forward-mode=rxonly
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
e2e_stop fe 20
e2e_wait 10 "vuproxy to close the session" e2e_log_has vuproxy " closed: "
e2e_stop vuproxy 10
[ "${E2E_RC[vuproxy]}" = 0 ] || e2e_fail "vuproxy exited with ${E2E_RC[vuproxy]}"
e2e_stop be 20

stat() { # LOG FIELD: the accumulated statistics' FIELD
	sed 's/\x1b\[[0-9;]*[A-Za-z]//g' "$E2E_DIR/$1.log" |
		awk -v f="$2:" '/Accumulated forward statistics/ { a = 1; next }
		     a && $0 ~ f { for (i = 1; i < NF; i++) if ($i == f) n = $(i + 1); a = 0 }
		     END { print n }'
}
rx=$(stat be RX-packets)
tx=$(stat fe TX-packets)
used=$(sed -nE 's/.* s1 --active: guest memory writes: ([0-9]+) used elements.*/\1/p' \
	"$E2E_DIR/vuproxy.log" | tail -n 1)
e2e_log "front-end TX-packets $tx; back-end RX-packets $rx; vuproxy used elements written $used"
[ -n "$rx" ] && [ "$rx" -gt 0 ] || e2e_fail "the back-end received nothing (RX-packets '$rx')"
[ "$rx" = "$tx" ] || e2e_fail "lost: the front-end sent $tx, the back-end received $rx"
[ "$used" = "$tx" ] || e2e_fail "vuproxy completed $used chains to the guest, the front-end sent $tx"
if [ "$MODE" = burst ]; then
	[ "$tx" = 64 ] || e2e_fail "one burst of 64: the front-end sent $tx"
fi
grep -q 'ERROR\|error:' "$E2E_DIR/vuproxy.log" &&
	{ grep 'ERROR\|error:' "$E2E_DIR/vuproxy.log" >&2; e2e_fail "vuproxy logged an error"; }

# The capture: every TX frame, once.
tshark -n -r "$TRACE" -T fields -e frame.interface_name -e ip.src -e ip.dst \
	-e udp.dstport >"$E2E_DIR/frames.txt" 2>"$E2E_DIR/tshark.err" ||
	{ cat "$E2E_DIR/tshark.err" >&2; e2e_fail "tshark could not read the trace"; }
ntx=$(grep -c '^s1 net q1 tx	' "$E2E_DIR/frames.txt" || true)
nudp=$(grep -c '^s1 net q1 tx	198\.18\.0\.1	198\.18\.0\.2	9$' "$E2E_DIR/frames.txt" || true)
e2e_log "tshark: $ntx frames on s1 net q1 tx, $nudp of them UDP 198.18.0.1 -> 198.18.0.2:9"
[ "$ntx" = "$tx" ] || e2e_fail "the trace holds $ntx TX frames, the front-end sent $tx"
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
