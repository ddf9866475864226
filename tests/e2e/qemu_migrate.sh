#!/bin/bash
# qemu_migrate.sh - end-to-end: a QEMU live migration through vuproxy.
#
#   source QEMU --src.sock--> vuproxy A --be0.sock--> testpmd net_vhost0 \  icmpecho,
#   dest QEMU   --dst.sock--> vuproxy B --be1.sock--> testpmd net_vhost1 /  loop topology
#   source QEMU ==migration stream (unix socket)==> dest QEMU (-incoming)
#
# The guest pings testpmd every 0.2 s; after a few replies the source QEMU
# migrates it (QMP migrate) to the destination QEMU, which carries on: the
# ping keeps running, its later replies and its statistics appear on the
# destination's serial console.  Two runs, one after the other:
#   direct   QEMUs connected straight to testpmd (the reference);
#   proxied  each QEMU through its own vuproxy -v -w TRACE --tap net
#            (the default keeps the TX copies testpmd uses before the tap
#            re-checks them, marked unverified).
# PASS needs, in each run: the migration completed, the guest lost at most
# MAX_LOST pings, every reply is on one of the two consoles; the source port
# of testpmd read SET_LOG_BASE with its fd (it mapped the dirty log) and the
# same request list through vuproxy as directly; vuproxy ended with 0 failed
# sessions; the tap's counts add up (see the verdict below).
#
# Fits 2 cores: testpmd's main and forwarding lcore share CPU 1 (one core
# polls both ports), both QEMUs run on CPU 0 (taskset).
#
# Needs: qemu-system-x86 (qemu-system-x86_64), dpdk-dev (dpdk-testpmd),
# busybox-static, linux-image-amd64, cpio, gzip, tshark, jq, taskset.
# Env: VUPROXY (required) binary under test; PINGS=30; INTERVAL=0.2;
# MIGRATE_AFTER=8 (replies seen before migrating); MAX_LOST=4; RUNS="direct
# proxied"; TAP=1 (0: the proxied run without --tap); BOOT_TIMEOUT=60;
# KEEP=1 keeps the scratch directory.
# Run by hand: VUPROXY=build/vuproxy tests/e2e/qemu_migrate.sh
set -u
. "$(cd "$(dirname "$0")" && pwd)/qemu_lib.sh"

PINGS=${PINGS:-30}
INTERVAL=${INTERVAL:-0.2}
MIGRATE_AFTER=${MIGRATE_AFTER:-8}
MAX_LOST=${MAX_LOST:-4}
RUNS=${RUNS:-direct proxied}
TAP=${TAP:-1}
BOOT_TIMEOUT=${BOOT_TIMEOUT:-60}
LIMIT=110 # hard bound on every process we start (s)
MEM=256M

qe_init qemu-migrate
qe_need_vuproxy
qe_need_cmd qemu-system-x86_64 dpdk-testpmd timeout awk tshark jq taskset mkfifo
find_kernel
T_START=$(now)
build_initramfs "$W/initramfs.cpio.gz"
APPEND="lab.pings=$PINGS lab.interval=$INTERVAL"
PREFIX=vup-qmig-$$-$RANDOM
TP_CPU=1 # testpmd's two lcores (start_testpmd)
QE_CPU=0 # the QEMUs (start_guest)

# replies FILE: the icmp_seq of each echo reply printed in FILE.
replies() { tr -d '\r' <"$1" | sed -nE 's/.*[0-9]+ bytes from [0-9.]+: seq=([0-9]+) .*/\1/p'; }

# port_requests RUN SOCKET: the vhost-user requests testpmd's port on
# SOCKET read, in order.
port_requests() {
	grep -F "($2) read message VHOST_USER_" "$W/$1-testpmd.log" |
		sed -E 's/.*read message VHOST_USER_([A-Z0-9_]+).*/\1/'
}

# json FIELD: a field of the last QMP answer.
json() { jq -r "$1 // empty" <<<"$QMP_REPLY"; }

# run_migration RUN: one whole run; results in R_<field>[RUN].
declare -A R_TOTAL R_DOWN R_CLOCK R_TX R_RX R_SRC R_DST R_T
run_migration() {
	local run=$1 src_sock dst_sock i
	local t_run
	t_run=$(now)
	echo "=== $run run ==="
	BE0=$W/$run-be0.sock BE1=$W/$run-be1.sock
	start_testpmd "$run-testpmd" "$BE0" "$BE1"
	if [ "$run" = direct ]; then
		src_sock=$BE0 dst_sock=$BE1
	else
		src_sock=$W/src.sock dst_sock=$W/dst.sock
		local tapopt=()
		[ "$TAP" = 1 ] && tapopt=(--tap net -s 256)
		# shellcheck disable=SC2034 # read by start_vuproxy
		VUP_NAME=vuproxy-src VUP_EXTRA=(-w "$W/src.pcapng.gz" "${tapopt[@]}")
		start_vuproxy "listen:$src_sock" "connect:$BE0"
		VUPA_PID=$VUP_PID VUPA_LOG=$VUP_LOG
		# shellcheck disable=SC2034 # read by start_vuproxy
		VUP_NAME=vuproxy-dst VUP_EXTRA=(-w "$W/dst.pcapng.gz" "${tapopt[@]}")
		start_vuproxy "listen:$dst_sock" "connect:$BE1"
		VUPB_PID=$VUP_PID VUPB_LOG=$VUP_LOG
	fi

	# The source boots the guest; the destination waits for its state.
	local mig=$W/$run-mig.sock src=$run-src dst=$run-dst
	T_PEERS=$(since "$t_run")
	qe_qmp_prepare "$src"
	net_guest "$src" "path=$src_sock" "$APPEND" "${QMP_ARGS[@]}"
	qe_qmp_connect "$src"
	local src_pid=$Q_PID src_log=$GUEST src_t0=$T0 dst_pid dst_log
	qe_qmp_prepare "$dst"
	net_args "path=$dst_sock"
	start_guest "$dst" "lab.net=1 $APPEND" "${NET_ARGS[@]}" "${QMP_ARGS[@]}" -incoming "unix:$mig"
	qe_qmp_connect "$dst"
	dst_pid=$Q_PID dst_log=$GUEST
	i=0
	until [ -S "$mig" ]; do
		[ $i -ge 200 ] && qe_fail "$run: the destination QEMU does not listen on $mig after 10 s"
		sleep 0.05; i=$((i + 1))
	done

	# Migrate after MIGRATE_AFTER replies.
	GUEST=$src_log Q_PID=$src_pid T0=$src_t0
	qe_milestone ping "seq=$((MIGRATE_AFTER - 1)) " 30 \
		"$run: the guest did not get $MIGRATE_AFTER ping replies before the migration"
	local nbefore
	nbefore=$(replies "$GUEST" | wc -l)
	[ "$nbefore" -ge "$MIGRATE_AFTER" ] ||
		qe_fail "$run: only $nbefore of the first $MIGRATE_AFTER pings answered before migrating"

	# Migrate; poll until completed.
	qe_qmp "$src" migrate-set-parameters '{"max-bandwidth": 4294967296, "downtime-limit": 300}'
	local tm status
	tm=$(now)
	qe_qmp "$src" migrate "{\"uri\": \"unix:$mig\"}"
	i=0
	while :; do
		qe_qmp "$src" query-migrate
		status=$(json .return.status)
		case $status in
		completed) break ;;
		failed | cancelled) qe_fail "$run: migration $status: $QMP_REPLY" ;;
		esac
		[ $i -ge 300 ] && qe_fail "$run: migration not completed after 30 s: $QMP_REPLY"
		sleep 0.1; i=$((i + 1))
	done
	R_CLOCK[$run]=$(since "$tm")
	T_mig=$(since "$T0")
	R_TOTAL[$run]=$(json '.return["total-time"]')
	R_DOWN[$run]=$(json .return.downtime)
	echo "$run: migration completed: total-time ${R_TOTAL[$run]} ms, downtime ${R_DOWN[$run]} ms," \
		"setup $(json '.return["setup-time"]') ms; ${R_CLOCK[$run]} s on our clock;" \
		"ram transferred $(json .return.ram.transferred) B"
	qe_qmp "$dst" query-status
	echo "$run: destination status: $(json .return.status)"

	# The source is paused for good: quit it; the guest carries on on the
	# destination, finishes its pings and powers off.
	qe_qmp "$src" quit
	wait_exit "$src_pid" 20 || qe_fail "$run: the source QEMU did not exit within 20 s of quit"
	GUEST=$dst_log Q_PID=$dst_pid
	qe_milestone off 'LAB: DONE' $((PINGS + 30)) "$run: the guest did not finish its pings on the destination"
	wait_exit "$Q_PID" 30 || qe_fail "$run: the destination QEMU did not exit within 30 s of the guest powering off"
	[ "$WAIT_RC" = 0 ] || qe_fail "$run: the destination QEMU exited with status $WAIT_RC"

	stop "$TP_PID" INT 15 || echo "note: $run testpmd needed SIGKILL"
	port_requests "$run" "$BE0" >"$W/$run-src-requests.txt"
	port_requests "$run" "$BE1" >"$W/$run-dst-requests.txt"
	if [ "$run" != direct ]; then
		check_vuproxy vuproxy-src "$VUPA_PID" "$VUPA_LOG" "$W/$run-src-requests.txt"
		check_vuproxy vuproxy-dst "$VUPB_PID" "$VUPB_LOG" "$W/$run-dst-requests.txt"
	fi

	# Pings: the statistics of the guest's ping, on the destination console.
	local stats
	stats=$(grep -E '[0-9]+ packets transmitted, [0-9]+ packets received' "$W/$dst.log" | tr -d '\r' | tail -1)
	[ -n "$stats" ] || qe_fail "$run: no ping statistics on the destination console"
	R_TX[$run]=$(echo "$stats" | sed -E 's/^([0-9]+) packets transmitted.*/\1/')
	R_RX[$run]=$(echo "$stats" | sed -E 's/.* ([0-9]+) packets received.*/\1/')
	R_SRC[$run]=$(replies "$W/$src.log" | wc -l)
	R_DST[$run]=$(replies "$W/$dst.log" | wc -l)
	R_T[$run]=$(since "$t_run")
	# shellcheck disable=SC2154 # T_* are set by qe_milestone
	echo "$run timeline (s from the QEMUs' start; testpmd and vuproxy took $T_PEERS s before):" \
		"guest /init $T_init, eth0 up $T_net, $MIGRATE_AFTER replies $T_ping," \
		"migrated $T_mig, guest done on the destination $T_off"
	echo "$run: $stats; replies on the consoles: source ${R_SRC[$run]}, destination ${R_DST[$run]}; run took ${R_T[$run]} s"
}

# vring_num LOG "DIRECTION REQUEST" Q: num= of the last such -v line for
# queue Q ("... SET_VRING_BASE index=1 num=13 (8 B, 0 fds)").
vring_num() {
	grep -E "^[0-9:.]+ s1 $2 index=$3 num=[0-9]+ " "$1" | tail -n 1 | sed -E 's/.* num=([0-9]+) .*/\1/'
}

# check_run RUN: what must hold in every run.
check_run() {
	local run=$1 src=$1-src dst=$1-dst lost
	[ "${R_TX[$run]}" = "$PINGS" ] || qe_fail "$run: the guest sent ${R_TX[$run]} pings, expected $PINGS"
	lost=$((R_TX[$run] - R_RX[$run]))
	[ "$lost" -le "$MAX_LOST" ] ||
		qe_fail "$run: the guest lost $lost of $PINGS pings across the migration (at most $MAX_LOST allowed)"
	# Every reply the guest counted is printed once, on one console or the other.
	local uniq last_src first_dst
	uniq=$( { replies "$W/$src.log"; replies "$W/$dst.log"; } | sort -nu | wc -l)
	[ "$uniq" = "${R_RX[$run]}" ] && [ $((R_SRC[$run] + R_DST[$run])) = "${R_RX[$run]}" ] ||
		qe_fail "$run: the consoles show ${R_SRC[$run]} + ${R_DST[$run]} replies ($uniq distinct), ping counted ${R_RX[$run]}"
	last_src=$(replies "$W/$src.log" | sort -n | tail -1)
	first_dst=$(replies "$W/$dst.log" | sort -n | head -1)
	[ "${R_SRC[$run]}" -ge "$MIGRATE_AFTER" ] && [ "${R_DST[$run]}" -ge 1 ] && [ "$first_dst" -gt "$last_src" ] ||
		qe_fail "$run: the replies do not run from the source console (up to seq ${last_src:-none}) on to the destination's (from seq ${first_dst:-none})"

	# The source port mapped the dirty log: SET_LOG_BASE came with its fd,
	# and LOG_ALL was acked.
	local tp=$W/$run-testpmd.log feat
	[ "$(grep -c '^SET_LOG_BASE$' "$W/$run-src-requests.txt")" = 1 ] ||
		qe_fail "$run: testpmd's source port read SET_LOG_BASE $(grep -c '^SET_LOG_BASE$' "$W/$run-src-requests.txt") times, expected once"
	grep -qE "\\($W/$run-be0.sock\\) log mmap size: [1-9][0-9]*" "$tp" ||
		qe_fail "$run: testpmd's source port did not map the dirty log (no 'log mmap size' line): SET_LOG_BASE without its fd?"
	feat=$(grep -oE "\\($W/$run-be0.sock\\) negotiated Virtio features: 0x[0-9a-f]+" "$tp" | tail -1 | sed 's/.* //')
	[ -n "$feat" ] && (((feat >> 26) & 1)) ||
		qe_fail "$run: the source port's last negotiated features (${feat:-none}) lack VHOST_F_LOG_ALL (bit 26)"
	if grep -E "VHOST_CONFIG: .*($run-be[01].sock).*(failed|error|expect [0-9]+ FDs)" "$tp" >"$W/$run-tp-errors.txt"; then
		cat "$W/$run-tp-errors.txt"
		qe_fail "$run: testpmd reported vhost-user errors (above)"
	fi
}

# check_vuproxy NAME PID LOG: exit 0 on SIGINT, one session, none failed,
# and as many requests logged as the back-end read.
check_vuproxy() {
	local name=$1 reqs=$4 n
	VUP_PID=$2 VUP_LOG=$3
	stop_vuproxy
	echo "$name: $VUP_SUMMARY"
	[ "$VUP_SESSIONS" = 1 ] || qe_fail "$name counted $VUP_SESSIONS sessions, expected 1 ($VUP_SUMMARY)"
	[ "$VUP_FAILED" = 0 ] || qe_fail "$name ended with $VUP_FAILED failed session(s) ($VUP_SUMMARY)"
	# "HH:MM:SS.us s1 front-end>back-end NAME ..." on the main channel,
	# requests only: as many as the back-end read, in the same order.
	awk '$3 == "front-end>back-end" && $4 !~ /^\[/ && $5 != "reply" { print $4 }' "$VUP_LOG" >"$W/$name-requests.txt"
	# testpmd 22.11 still says SET_SLAVE_REQ_FD, vuproxy the current name.
	sed 's/^SET_SLAVE_REQ_FD$/SET_BACKEND_REQ_FD/' "$reqs" >"$W/$name-read.txt"
	diff -u --label "testpmd read" "$W/$name-read.txt" --label "$name relayed" "$W/$name-requests.txt" >"$W/$name-requests.diff" ||
		{ cat "$W/$name-requests.diff"; qe_fail "$name's -v log and the back-end's request list differ (above)"; }
	# The live checker's lines for the warnings these peers are known for
	# (asserted on the traces below) are expected; any other is not.
	local ok="^[0-9:.]+ s1 (front-end>back-end|back-end>front-end) |^[0-9:.]+ s1 check VU0(15|16|36) \[warning\] |listening on|accepted on|connected to|closed|tap q[01]:|Interrupt|^vuproxy: "
	n=$(grep -vcE "$ok" "$VUP_LOG")
	[ "$n" = 0 ] || {
		grep -vE "$ok" "$VUP_LOG"
		qe_fail "$name logged $n unexpected line(s) (above: a warning, a refusal?)"
	}
}

for run in $RUNS; do
	run_migration "$run"
	check_run "$run"
done

# The source port read the same requests through vuproxy as directly,
# SET_LOG_BASE included (checked above: with its fd); so did the
# destination port.
if [ -e "$W/direct-src-requests.txt" ] && [ -e "$W/proxied-src-requests.txt" ]; then
	for side in src dst; do
		diff -u --label direct "$W/direct-$side-requests.txt" --label proxied \
			"$W/proxied-$side-requests.txt" >"$W/$side-requests.diff" || {
			cat "$W/$side-requests.diff"
			qe_fail "testpmd's $side port read other requests through vuproxy than directly (diff above: - direct, + proxied)"
		}
		echo "$side port: the same $(wc -l <"$W/direct-$side-requests.txt") requests direct and proxied:" \
			"$(uniq -c "$W/direct-$side-requests.txt" | awk '{ printf "%s%s ", $2, ($1 > 1 ? "x" $1 : "") }')"
	done
fi

# No false alarm: `vuproxy check` on each side's trace, QEMU's known
# warnings: VU015 (negotiation before SET_OWNER), VU016 (SET_VRING_CALL
# before SET_FEATURES); the source's holds the dirty log, and DPDK
# answers SET_LOG_BASE with a 0-byte reply, which QEMU accepts (VU036).
if [[ " $RUNS " == *" proxied "* ]]; then
	e2e_check_trace "$W/src.pcapng.gz" VU015 VU016 VU036
	e2e_check_trace "$W/dst.pcapng.gz" VU015 VU016
fi

# The tap, with its counts exact across the hand-over:
# - per queue and session, captured + missed + torn + malformed = consumed
#   (the buffers the device used while vuproxy watched);
# - each tap consumed exactly what its device used: the back-end's
#   GET_VRING_BASE answer minus the SET_VRING_BASE the queue started at;
#   the destination's queues start where the source's stopped, so across
#   the hand-over no buffer is counted twice or never;
# - the guest's own counters are not above that (its driver counts a TX
#   packet when it gets the buffer back, so the last ones may be missing
#   from the counters it prints);
# - tshark finds the guest's echo requests (TX) and replies (RX) in the two
#   traces: each one once, and every one not there is among the buffers the
#   tap counted missed, torn or malformed.  (Not all of them are always in
#   the trace: when the guest offers a TX head again within one poll of the
#   tap, e.g. the first echo request right after the ARP exchange, or the
#   burst of IPv6 and ARP announcements the guest sends on resuming on the
#   destination, one of the two uses may count torn or missed.)
if [[ " $RUNS " == *" proxied "* ]] && [ "$TAP" = 1 ]; then
	read -r G_RX G_TX < <(grep -o 'LAB: eth0 counters rx_packets=[0-9]* tx_packets=[0-9]*' "$W/proxied-dst.log" |
		tail -1 | sed -E 's/.*rx_packets=([0-9]+) tx_packets=([0-9]+)/\1 \2/')
	[ -n "${G_TX:-}" ] || qe_fail "no eth0 counters on the destination console"
	declare -A C K M T B
	for side in src dst; do
		for q in 0 1; do
			read -r "C[$side$q]" "K[$side$q]" "M[$side$q]" "T[$side$q]" "B[$side$q]" _ \
				<<<"$(tap_counts $q "$W/vuproxy-$side.log")"
			[ -n "${B[$side$q]:-}" ] || qe_fail "vuproxy-$side printed no tap counts for queue $q"
			[ $((K[$side$q] + M[$side$q] + T[$side$q] + B[$side$q])) = "${C[$side$q]}" ] ||
				qe_fail "vuproxy-$side q$q: captured + missed + torn + malformed != consumed"
			echo "tap $side q$q: consumed ${C[$side$q]}, captured ${K[$side$q]}, missed ${M[$side$q]}, torn ${T[$side$q]}, malformed ${B[$side$q]}"
		done
	done
	declare -A BASE USED
	for side in src dst; do
		for q in 0 1; do
			BASE[$side$q]=$(vring_num "$W/vuproxy-$side.log" "front-end>back-end SET_VRING_BASE" $q)
			USED[$side$q]=$(vring_num "$W/vuproxy-$side.log" "back-end>front-end GET_VRING_BASE reply" $q)
			[ -n "${BASE[$side$q]}" ] && [ -n "${USED[$side$q]}" ] ||
				qe_fail "vuproxy-$side's log lacks SET_VRING_BASE or GET_VRING_BASE's reply for queue $q"
			[ "${C[$side$q]}" = $(((USED[$side$q] - BASE[$side$q]) & 0xffff)) ] ||
				qe_fail "vuproxy-$side q$q: the tap counted ${C[$side$q]} buffers consumed, the device used" \
					"${BASE[$side$q]}..${USED[$side$q]} ($(((USED[$side$q] - BASE[$side$q]) & 0xffff)))"
		done
	done
	for q in 0 1; do
		[ "${BASE[dst$q]}" = "${USED[src$q]}" ] ||
			qe_fail "q$q: the destination started at ${BASE[dst$q]}, the source stopped at ${USED[src$q]}"
	done
	echo "device indices: rx 0..${USED[src0]}..${USED[dst0]}, tx 0..${USED[src1]}..${USED[dst1]} (source..destination);" \
		"the guest's counters: rx_packets $G_RX, tx_packets $G_TX"
	[ "$G_RX" -le $((C[src0] + C[dst0])) ] && [ "$G_TX" -le $((C[src1] + C[dst1])) ] ||
		qe_fail "the guest counted more packets (rx $G_RX, tx $G_TX) than the taps buffers" \
			"(rx ${C[src0]} + ${C[dst0]}, tx ${C[src1]} + ${C[dst1]})"
	for side in src dst; do
		tshark -r "$W/$side.pcapng.gz" -Y icmp -T fields -e frame.interface_name -e ip.src -e ip.dst \
			-e icmp.type -e icmp.seq >"$W/$side-icmp.txt" 2>"$W/tshark.err" ||
			{ cat "$W/tshark.err"; qe_fail "tshark could not read $side.pcapng.gz"; }
	done
	# "s1 net q1 tx<TAB>10.0.0.2<TAB>10.0.0.1<TAB>8<TAB>SEQ" -> SEQ
	seqs() { cat "$W/src-icmp.txt" "$W/dst-icmp.txt" | awk -F'\t' -v i="$1" -v s="$2" -v t="$3" \
		'$1 == "s1 net " i && $2 == s && $4 == t { print $5 }'; }
	NREQ=$(seqs "q1 tx" 10.0.0.2 8 | wc -l)
	NREP=$(seqs "q0 rx" 10.0.0.1 0 | wc -l)
	[ "$(seqs "q1 tx" 10.0.0.2 8 | sort -u | wc -l)" = "$NREQ" ] || qe_fail "an echo request is twice in the traces"
	[ "$(seqs "q0 rx" 10.0.0.1 0 | sort -u | wc -l)" = "$NREP" ] || qe_fail "an echo reply is twice in the traces"
	UNTX=$((M[src1] + T[src1] + B[src1] + M[dst1] + T[dst1] + B[dst1]))
	UNRX=$((M[src0] + T[src0] + B[src0] + M[dst0] + T[dst0] + B[dst0]))
	echo "traces: $NREQ echo requests (the guest sent ${R_TX[proxied]}; TX buffers not captured: $UNTX)," \
		"$NREP echo replies (the guest received ${R_RX[proxied]}; RX buffers not captured: $UNRX)"
	if [ "$NREQ" != "${R_TX[proxied]}" ]; then
		echo "echo requests not in the traces: seq $(seq 0 $((PINGS - 1)) | grep -vxF -f <(seqs "q1 tx" 10.0.0.2 8) | tr '\n' ' ')"
	fi
	[ "$NREQ" -le "${R_TX[proxied]}" ] && [ $((NREQ + UNTX)) -ge "${R_TX[proxied]}" ] ||
		qe_fail "$NREQ echo requests in the traces, ${R_TX[proxied]} sent, $UNTX TX buffers not captured"
	[ "$NREP" -le "${R_RX[proxied]}" ] && [ $((NREP + UNRX)) -ge "${R_RX[proxied]}" ] ||
		qe_fail "$NREP echo replies in the traces, ${R_RX[proxied]} received, $UNRX RX buffers not captured"
fi

for run in $RUNS; do
	echo "$run: migration total-time ${R_TOTAL[$run]} ms (downtime ${R_DOWN[$run]} ms, ${R_CLOCK[$run]} s on our clock);" \
		"pings ${R_RX[$run]}/${R_TX[$run]} answered, $((R_TX[$run] - R_RX[$run])) lost;" \
		"replies on the source console ${R_SRC[$run]}, on the destination's ${R_DST[$run]}; run ${R_T[$run]} s"
done
echo "PASS: qemu_migrate ($RUNS; whole test $(since "$T_START") s)"
