#!/bin/bash
# qemu_net.sh - end-to-end: QEMU (TCG guest, virtio-net-pci, vhost-user
# front-end) <-> vuproxy <-> dpdk-testpmd net_vhost (back-end, icmpecho).
#
#   guest eth0 10.0.0.2 --ping--> testpmd icmpecho answers ARP and ICMP echo
#
# QEMU's chardev is a client of `vuproxy --frontend listen:`, vuproxy is a
# client of testpmd's vhost-user server (`--backend connect:`).  PASS needs:
# the guest booted, eth0 came up, every ping answered, vuproxy relayed the
# memory table and the vrings, and vuproxy ends with 0 failed sessions;
# `vuproxy check` finds no error in the trace (lib.sh, e2e_check_trace).
# vuproxy runs with plain `--tap net` (the default: copies of buffers
# testpmd used before the tap re-checked them are kept, marked): tshark
# must find every echo request and every reply in the trace, and the
# tap's counts must account for every buffer the guest's driver got back.
#
# Needs: qemu-system-x86 (qemu-system-x86_64), dpdk-dev (dpdk-testpmd),
# busybox-static, linux-image-amd64 (guest kernel + modules), cpio, gzip.
# Env: VUPROXY (required) binary under test; PINGS=20, INTERVAL=0.2 (s
# between pings); KERNEL, KVER (guest
# kernel, default newest /boot/vmlinuz-*); BOOT_TIMEOUT=120 (s until the
# guest's /init runs); KEEP=1 keeps the scratch directory.
# Run by hand: VUPROXY=build/vuproxy tests/e2e/qemu_net.sh
set -u
. "$(cd "$(dirname "$0")" && pwd)/qemu_lib.sh"

PINGS=${PINGS:-20}
INTERVAL=${INTERVAL:-0.2}
BOOT_TIMEOUT=${BOOT_TIMEOUT:-120}
LIMIT=240 # hard bound on every process we start (s)
MEM=256M

qe_init qemu-net
qe_need_vuproxy
qe_need_cmd qemu-system-x86_64 dpdk-testpmd timeout awk tshark
find_kernel
T_START=$(now)
build_initramfs "$W/initramfs.cpio.gz"

FE=$W/fe.sock BE=$W/be.sock
PREFIX=vup-qnet-$$-$RANDOM

# 1. back-end: testpmd vhost-user server, answering pings.
start_testpmd testpmd "$BE"

# 2. vuproxy between them, tapping the queues into a trace.
TRACE=$W/trace.pcapng.gz
VUP_EXTRA=(-w "$TRACE" --tap net -s 256)
start_vuproxy "listen:$FE" "connect:$BE"

# 3. front-end: QEMU connects to vuproxy.  The guest's IPv6 (MLD, DAD,
# router solicitations) is off: it sends frames back to back, and two
# frames the guest sends on the same head, both used by testpmd within
# one tap poll, leave the tap only the second one's bytes (the first
# counts torn: the tap never records a frame with another's bytes), while
# the check below wants every buffer captured.  The pings are 0.2 s apart.
net_guest guest "path=$FE" "lab.pings=$PINGS lab.interval=$INTERVAL ipv6.disable=1"
qe_milestone ping 'LAB: ping rc=' $((PINGS * 3 + 30)) "the guest's ping never finished"
qe_milestone off 'LAB: DONE' 30 "the guest did not finish"
wait_exit "$Q_PID" 30 || qe_fail "QEMU did not exit within 30 s of the guest powering off"
Q_RC=$WAIT_RC

stop_vuproxy
stop "$TP_PID" INT 15 || echo "note: dpdk-testpmd needed SIGKILL"

# --- verdict ---
[ "$Q_RC" = 0 ] || qe_fail "QEMU exited with status $Q_RC"
STATS=$(grep -E '[0-9]+ packets transmitted, [0-9]+ packets received' "$GUEST" | tr -d '\r' | tail -1)
[ -n "$STATS" ] || qe_fail "no ping statistics on the guest console"
TX=$(echo "$STATS" | sed -E 's/^([0-9]+) packets transmitted.*/\1/')
RX=$(echo "$STATS" | sed -E 's/.* ([0-9]+) packets received.*/\1/')
[ "$TX" = "$PINGS" ] || qe_fail "the guest sent $TX pings, expected $PINGS ($STATS)"
[ "$RX" = "$TX" ] || qe_fail "only $RX of $TX pings answered ($STATS)"
grep -q 'LAB: ping rc=0 ' "$GUEST" || qe_fail "ping exited non-zero although '$STATS'"
RTT=$(grep -oE 'round-trip min/avg/max = [0-9./]+ ms' "$GUEST" | tail -1)

for m in SET_MEM_TABLE SET_VRING_ADDR SET_VRING_KICK SET_VRING_CALL; do
	vup_saw "^[0-9:.]+ s[0-9]+ front-end>back-end $m " || qe_fail "vuproxy's -v log shows no relayed $m"
done
vup_saw 'back-end>front-end GET_FEATURES reply' || qe_fail "vuproxy's -v log shows no GET_FEATURES reply"
[ "$VUP_SESSIONS" -ge 1 ] || qe_fail "vuproxy counted no session ($VUP_SUMMARY)"
[ "$VUP_FAILED" = 0 ] || qe_fail "vuproxy ended with $VUP_FAILED failed session(s) ($VUP_SUMMARY)"

# The tap: tshark finds the guest's pings in the trace as Ethernet frames,
# requests from the guest on the TX queue, replies on the RX queue.
tshark -r "$TRACE" -Y 'icmp' -T fields -e frame.interface_name -e ip.src -e ip.dst \
	-e icmp.type -e icmp.seq -e frame.comment >"$W/icmp.txt" 2>"$W/tshark.err" ||
	{ cat "$W/tshark.err"; qe_fail "tshark could not read the trace"; }
echo "tshark -Y icmp on the trace:"
sed 's/^/  /' "$W/icmp.txt"
NREQ=$(grep -c '^s1 net q1 tx	10\.0\.0\.2	10\.0\.0\.1	8	' "$W/icmp.txt")
NREP=$(grep -c '^s1 net q0 rx	10\.0\.0\.1	10\.0\.0\.2	0	' "$W/icmp.txt")
# Requests kept although testpmd had used them before the re-check carry
# the packet comment "unverified: ...".
NREQ_UNV=$(grep -c '^s1 net q1 tx	10\.0\.0\.2	10\.0\.0\.1	8	.*	unverified: ' "$W/icmp.txt")
# Each echo sequence number once in each direction.
NSEQ_REQ=$(awk -F'\t' '$1 == "s1 net q1 tx" && $4 == 8 { print $5 }' "$W/icmp.txt" | sort -un | wc -l)
NSEQ_REP=$(awk -F'\t' '$1 == "s1 net q0 rx" && $4 == 0 { print $5 }' "$W/icmp.txt" | sort -un | wc -l)
grep ' s1 tap q[01]: consumed ' "$VUP_LOG" | sed 's/^/  /'
grep '^vuproxy: tap: ' "$VUP_LOG" | sed 's/^/  /'
# "C K M T B U" of each queue (tap_counts, qemu_lib.sh).
read -r RXC RXK RXM RXT RXB RXU <<<"$(tap_counts 0)"
read -r TXC TXK TXM TXT TXB TXU <<<"$(tap_counts 1)"
[ -n "${TXU:-}" ] && [ -n "${RXU:-}" ] || qe_fail "vuproxy printed no tap counts for queues 0 and 1"
# The guest's own counters: every buffer its driver got back was counted.
read -r G_RX G_TX < <(grep -o 'LAB: eth0 counters rx_packets=[0-9]* tx_packets=[0-9]*' "$GUEST" |
	tail -1 | sed -E 's/.*rx_packets=([0-9]+) tx_packets=([0-9]+)/\1 \2/')
[ "$RXC" = "$G_RX" ] || qe_fail "the tap counted $RXC RX buffers consumed, the guest received $G_RX packets"
[ "$TXC" = "$G_TX" ] || qe_fail "the tap counted $TXC TX buffers consumed, the guest sent $G_TX packets"
[ $((RXK + RXM + RXT + RXB)) = "$RXC" ] && [ $((TXK + TXM + TXT + TXB)) = "$TXC" ] ||
	qe_fail "captured + missed + torn + malformed != consumed"
# At a few packets a second nothing escapes the default tap: every buffer
# of both queues is captured.  Replies are written by the device and
# verified when used; requests are copied when offered, and testpmd (a
# polling back-end) uses most of them before the tap's re-check: kept,
# counted unverified.
[ "$RXK" = "$RXC" ] && [ "$TXK" = "$TXC" ] ||
	qe_fail "not every buffer captured: RX $RXK of $RXC (missed $RXM, torn $RXT, malformed $RXB), TX $TXK of $TXC (missed $TXM, torn $TXT, malformed $TXB)"
[ "$((10#$RXU))" = 0 ] || qe_fail "$((10#$RXU)) RX buffers counted unverified: device-written data is always verified"
[ "$NREQ" = "$PINGS" ] && [ "$NSEQ_REQ" = "$PINGS" ] ||
	qe_fail "the trace holds $NREQ echo requests ($NSEQ_REQ sequence numbers) on s1 net q1 tx, expected $PINGS"
[ "$NREP" = "$PINGS" ] && [ "$NSEQ_REP" = "$PINGS" ] ||
	qe_fail "the trace holds $NREP echo replies ($NSEQ_REP sequence numbers) on s1 net q0 rx, expected $PINGS"
[ "$NREQ_UNV" -le "$((10#$TXU))" ] ||
	qe_fail "$NREQ_UNV echo requests marked unverified, but the tap counted only $((10#$TXU)) TX copies unverified"
echo "tap: $NREQ/$PINGS echo requests ($NREQ_UNV marked unverified) and $NREP/$PINGS echo replies in the trace;" \
	"RX consumed $RXC captured $RXK, TX consumed $TXC captured $TXK ($((10#$TXU)) unverified);" \
	"the guest's counters: rx $G_RX, tx $G_TX"

# No false alarm (vuproxy check), QEMU's known warnings: VU015 (GET_FEATURES
# before SET_OWNER), VU016 (SET_VRING_CALL before SET_FEATURES).
e2e_check_trace "$TRACE" VU015 VU016

echo "timeline (host wall clock from QEMU start):"
# shellcheck disable=SC2154 # T_* are set by qe_milestone
printf '  %-26s +%s s\n' "guest /init running" "$T_init" "guest eth0 up" "$T_net" \
	"pings done" "$T_ping" "guest powered off" "$T_off"
echo "guest: $STATS; ${RTT:-no rtt line}"
echo "$VUP_SUMMARY"
echo "PASS: qemu_net ($PINGS/$PINGS pings through vuproxy, whole test $(since "$T_START") s)"
