#!/bin/bash
# dpdk.sh - DPDK data-path throughput and device set-up time, direct vs
# through vuproxy.
#
#   back-end   dpdk-testpmd --vdev net_vhost0,iface=BE.sock (listens), rxonly,
#              lcores on CPU BE_CPU
#   front-end  dpdk-testpmd --vdev net_virtio_user0,path=... txonly,
#              lcores on CPU FE_CPU
#   direct     front-end path=BE.sock
#   proxied    vuproxy -q --frontend listen:FE.sock --backend connect:BE.sock,
#              front-end path=FE.sock
#   tapped     the same with the tap on: --tap net -s 128 -w TRACE
#              $DPDK_TAP_ARGS (only with DPDK_TAP=1, the default); also
#              reports vuproxy's CPU share and the tap's capture ratio
#              (captured / consumed, from vuproxy's summary)
#
# Each run starts a fresh back-end (and vuproxy when proxied), waits until
# they listen, then starts the front-end and measures
#   set-up time: front-end start -> back-end logs "virtio is now ready for
#                processing" (the device is live)
#   throughput:  back-end Rx-pps over DPDK_SECS of traffic (1-s samples,
#                first and last dropped), 64-byte packets
# Runs alternate direct/proxied (ABBA order) DPDK_ROUNDS times each.
# Each run also records how much CPU the two testpmd processes got during
# the traffic window (each busy-polls one CPU, so an undisturbed run gives
# about 1.0 each); a run where either got less than DPDK_QUIET (0.9) shared
# its CPU with someone else and is not "quiet".  Throughput is reported
# over all runs and over quiet runs; set-up time as median and best.
#
# Needs VUPROXY.  Knobs: DPDK_ROUNDS=5 DPDK_SECS=6 (>= 3) BE_CPU=0 FE_CPU=1
#   DPDK_QUIET=0.9
#   VUPROXY_CPUS=0,1 (taskset list for vuproxy; it is idle on the data path)
#   TESTPMD=dpdk-testpmd  WORK=dir for logs  RESULTS=file for key=value
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"
: "${VUPROXY:?set VUPROXY to the vuproxy binary}"
DPDK_ROUNDS=${DPDK_ROUNDS:-5}; DPDK_SECS=${DPDK_SECS:-6}
BE_CPU=${BE_CPU:-0}; FE_CPU=${FE_CPU:-1}; VUPROXY_CPUS=${VUPROXY_CPUS:-0,1}
DPDK_QUIET=${DPDK_QUIET:-0.9}; HZ=$(getconf CLK_TCK)
DPDK_TAP=${DPDK_TAP:-1}; DPDK_TAP_ARGS=${DPDK_TAP_ARGS:---tap-interval 1000}
# virtio-user ring size (queue_size; DPDK's default is 256)
DPDK_QSIZE=${DPDK_QSIZE:-256}
TESTPMD=${TESTPMD:-dpdk-testpmd}
OWN_WORK=0
if [ -z "${WORK:-}" ]; then WORK=$(mktemp -d /tmp/vuproxy-bench-dpdk.XXXXXX); OWN_WORK=1; fi
PREFIXES=()
cleanup() {
	stop_all
	local p
	for p in "${PREFIXES[@]}"; do rm -rf "/var/run/dpdk/$p"; done
	[ $OWN_WORK = 1 ] && [ "${KEEP:-0}" != 1 ] && rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if ! command -v "$TESTPMD" >/dev/null; then
	echo "ERROR: $TESTPMD not found (Debian: apt-get install dpdk-dev)" >&2
	exit 1
fi

LIMIT=$((DPDK_SECS + 60))
EAL=(--no-pci --no-huge -m 512)
TP=(--stats-period=1 --nb-cores=1 --total-num-mbufs=16384)

# Average of the Rx-pps samples in a testpmd log, in Mpps (first and last
# positive samples dropped: they cover partial seconds).
rx_mpps() {
	tr -d '\033' <"$1" | awk '$1 == "Rx-pps:" && $2 > 0 {a[++n] = $2}
		END {s = 0; m = 0; for (i = 2; i < n; i++) {s += a[i]; m++}
		     if (m) printf "%.3f %d\n", s / m / 1e6, m; else print "nan 0"}'
}

# cpu_ticks PID: user+system clock ticks of the program that `timeout`
# PID runs (its child), or nothing.
cpu_ticks() {
	local c
	c=$(pgrep -P "$1" | head -1)
	[ -n "$c" ] && sed 's/^.*) //' "/proc/$c/stat" 2>/dev/null | awk '{print $12 + $13}'
}

# dpdk_once MODE RUN: sets D_SETUP (s), D_MPPS and D_CPU ("be/fe" CPU
# share of the two testpmd processes during the traffic window); when
# tapped also D_VCPU (vuproxy's CPU share) and D_CAPT (captured/consumed).
dpdk_once() {
	local mode=$1 r=$2 dir tag be_pid fe_pid vp_pid="" path t0 t1 n
	local w0 w1 be0 be1 fe0 fe1 vp0 vp1 tapargs=()
	dir=$WORK/dpdk-$r-$mode
	mkdir -p "$dir"
	tag=vupbench-$$-$r-$mode
	PREFIXES+=("$tag-be" "$tag-fe")
	start "$dir/be.log" "$LIMIT" INT "$TESTPMD" --lcores "0@$BE_CPU,1@$BE_CPU" "${EAL[@]}" \
		--file-prefix="$tag-be" --vdev "net_vhost0,iface=$dir/be.sock,queues=1" \
		--log-level=lib.vhost.config:info -- "${TP[@]}" --forward-mode=rxonly
	be_pid=$STARTED_PID
	wait_listen "$dir/be.sock" 30 || { tail -20 "$dir/be.log" >&2; return 1; }
	path=$dir/be.sock
	if [ "$mode" = tapped ]; then
		# shellcheck disable=SC2206 # options, split on purpose
		tapargs=(-w "$dir/tap.pcapng.gz" --tap net -s 128 $DPDK_TAP_ARGS)
	fi
	if [ "$mode" != direct ]; then
		start "$dir/vuproxy.log" "$LIMIT" TERM taskset -c "$VUPROXY_CPUS" \
			"$VUPROXY" -q --frontend "listen:$dir/fe.sock" \
			--backend "connect:$dir/be.sock" "${tapargs[@]}"
		vp_pid=$STARTED_PID
		wait_listen "$dir/fe.sock" 10 || { cat "$dir/vuproxy.log" >&2; return 1; }
		path=$dir/fe.sock
	fi
	t0=$(now)
	start "$dir/fe.log" "$LIMIT" INT "$TESTPMD" --lcores "0@$FE_CPU,1@$FE_CPU" "${EAL[@]}" \
		--file-prefix="$tag-fe" \
		--vdev "net_virtio_user0,path=$path,queues=1,queue_size=$DPDK_QSIZE" \
		-- "${TP[@]}" --rxd="$DPDK_QSIZE" --txd="$DPDK_QSIZE" --forward-mode=txonly
	fe_pid=$STARTED_PID
	if ! wait_log "$dir/be.log" "virtio is now ready for processing" 30; then
		echo "ERROR: $mode run $r: the back-end never became ready" >&2
		tail -15 "$dir/be.log" "$dir/fe.log" >&2
		[ -n "$vp_pid" ] && cat "$dir/vuproxy.log" >&2
		return 1
	fi
	t1=$(now)
	# CPU shares over the traffic window, the first second (ramp) left out
	sleep 1
	w0=$(now); be0=$(cpu_ticks "$be_pid"); fe0=$(cpu_ticks "$fe_pid")
	[ -n "$vp_pid" ] && vp0=$(cpu_ticks "$vp_pid")
	sleep "$((DPDK_SECS - 1))"
	w1=$(now); be1=$(cpu_ticks "$be_pid"); fe1=$(cpu_ticks "$fe_pid")
	[ -n "$vp_pid" ] && vp1=$(cpu_ticks "$vp_pid")
	D_VCPU=$(awk -v w="$(awk -v a="$w0" -v b="$w1" 'BEGIN{print b - a}')" -v hz="$HZ" \
		-v a="${vp0:-0}" -v b="${vp1:-0}" 'BEGIN{printf "%.3f", (b - a) / hz / w}')
	D_CPU=$(awk -v w="$(awk -v a="$w0" -v b="$w1" 'BEGIN{print b - a}')" -v hz="$HZ" \
		-v b0="${be0:-0}" -v b1="${be1:-0}" -v f0="${fe0:-0}" -v f1="${fe1:-0}" \
		'BEGIN{printf "%.2f/%.2f", (b1 - b0) / hz / w, (f1 - f0) / hz / w}')
	stop "$fe_pid" INT 15
	stop "$be_pid" INT 15
	[ -n "$vp_pid" ] && stop "$vp_pid" TERM 5
	rm -rf "/var/run/dpdk/$tag-be" "/var/run/dpdk/$tag-fe"
	D_SETUP=$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.3f", b - a}')
	read -r D_MPPS n < <(rx_mpps "$dir/be.log")
	if [ "$n" -lt 1 ]; then
		echo "ERROR: $mode run $r: only $n throughput samples" >&2
		tail -30 "$dir/be.log" >&2
		return 1
	fi
	if [ -n "$vp_pid" ] && ! grep -q "1 sessions (0 failed)" "$dir/vuproxy.log"; then
		echo "WARN: $mode run $r: vuproxy says: $(tail -3 "$dir/vuproxy.log")" >&2
	fi
	D_CAPT=""
	if [ "$mode" = tapped ]; then
		# "vuproxy: tap: 2 queues, C buffers consumed: K captured (U unverified), ..."
		D_CAPT=$(sed -nE 's/^vuproxy: tap: .* ([0-9]+) buffers consumed: ([0-9]+) captured.*/\2 \1/p' \
			"$dir/vuproxy.log" | awk '{ if ($2 > 0) printf "%.4f", $1 / $2; else print "nan" }')
	fi
}

echo "== DPDK: $DPDK_ROUNDS runs each of direct and proxied (interleaved), ${DPDK_SECS} s of 64 B traffic per run"
if [ "$DPDK_SECS" -lt 3 ]; then echo "DPDK_SECS must be at least 3" >&2; exit 2; fi
echo "   pinning: back-end testpmd --lcores 0@$BE_CPU,1@$BE_CPU (rxonly), front-end --lcores 0@$FE_CPU,1@$FE_CPU (txonly), vuproxy taskset -c $VUPROXY_CPUS"
echo "   load average at start: $(loadavg)"
declare -A SETUPS MPPS QMPPS NQ VCPU CAPT
MODES=(direct proxied)
[ "$DPDK_TAP" = 1 ] && MODES+=(tapped)
for ((r = 1; r <= DPDK_ROUNDS; r++)); do
	order=("${MODES[@]}")
	if ! ((r % 2)); then order=(); for ((i = ${#MODES[@]} - 1; i >= 0; i--)); do order+=("${MODES[i]}"); done; fi
	line="   round $r:"
	for mode in "${order[@]}"; do
		dpdk_once "$mode" "$r" || exit 1
		SETUPS[$mode]+="$D_SETUP "; MPPS[$mode]+="$D_MPPS "
		quiet=$(awk -v c="$D_CPU" -v q="$DPDK_QUIET" 'BEGIN{split(c, a, "/"); print (a[1] >= q && a[2] >= q) ? 1 : 0}')
		if [ "$quiet" = 1 ]; then
			QMPPS[$mode]+="$D_MPPS "; NQ[$mode]=$((${NQ[$mode]:-0} + 1)); mark=""
		else
			mark=" DISTURBED"
		fi
		line+=" $mode set-up ${D_SETUP} s, ${D_MPPS} Mpps (cpu be/fe $D_CPU$mark)"
		if [ "$mode" = tapped ]; then
			VCPU[$mode]+="$D_VCPU "; CAPT[$mode]+="$D_CAPT "
			line+=" vuproxy cpu $D_VCPU, captured/consumed $D_CAPT"
		fi
		line+=";"
	done
	echo "${line%;}"
done
col() { tr ' ' '\n' <<<"$1" | grep .; }
SD=$(col "${SETUPS[direct]}" | median); SP=$(col "${SETUPS[proxied]}" | median)
SDB=$(col "${SETUPS[direct]}" | sort -g | head -1); SPB=$(col "${SETUPS[proxied]}" | sort -g | head -1)
MD=$(col "${MPPS[direct]}" | median); MP=$(col "${MPPS[proxied]}" | median)
NQD=${NQ[direct]:-0}; NQP=${NQ[proxied]:-0}
QD=nan QP=nan
[ "$NQD" -gt 0 ] && QD=$(col "${QMPPS[direct]}" | median)
[ "$NQP" -gt 0 ] && QP=$(col "${QMPPS[proxied]}" | median)
TR=$(ratio "$MP" "$MD"); TQ=nan
[ "$NQD" -gt 0 ] && [ "$NQP" -gt 0 ] && TQ=$(ratio "$QP" "$QD")
SR=$(ratio "$SD" "$SP"); SRB=$(ratio "$SDB" "$SPB")
echo "   throughput (median of per-run means): all runs direct $MD, proxied $MP Mpps -> proxied/direct $TR;"
echo "     quiet runs ($NQD direct, $NQP proxied) direct $QD, proxied $QP Mpps -> $TQ (target >= 0.98)"
echo "   set-up: median direct $SD s, proxied $SP s -> direct/proxied $SR; best $SDB s / $SPB s -> $SRB (target >= 0.95)"
if [ "$DPDK_TAP" = 1 ]; then
	MT=$(col "${MPPS[tapped]}" | median)
	TT=$(ratio "$MT" "$MD")
	VC=$(col "${VCPU[tapped]}" | median); CR=$(col "${CAPT[tapped]}" | median)
	echo "   tap on ($DPDK_TAP_ARGS, -s 128, ring $DPDK_QSIZE): median $MT Mpps -> tapped/direct $TT (target >= 0.95);" \
		"vuproxy CPU share $VC; captured/consumed $CR"
fi
echo "   load average at end: $(loadavg)"
if [ -n "${RESULTS:-}" ]; then
	{
		echo "dpdk_direct_mpps=$MD"
		echo "dpdk_proxied_mpps=$MP"
		echo "dpdk_mpps_ratio=$TR"
		echo "dpdk_quiet_runs=$NQD+$NQP of $DPDK_ROUNDS+$DPDK_ROUNDS"
		echo "dpdk_quiet_direct_mpps=$QD"
		echo "dpdk_quiet_proxied_mpps=$QP"
		echo "dpdk_quiet_mpps_ratio=$TQ"
		echo "setup_direct_s=$SD"
		echo "setup_proxied_s=$SP"
		echo "setup_ratio=$SR"
		echo "setup_best_direct_s=$SDB"
		echo "setup_best_proxied_s=$SPB"
		echo "setup_best_ratio=$SRB"
		if [ "$DPDK_TAP" = 1 ]; then
			echo "dpdk_tapped_mpps=$MT"
			echo "dpdk_tapped_ratio=$TT"
			echo "dpdk_tapped_vuproxy_cpu=$VC"
			echo "dpdk_tapped_capture=$CR"
		fi
	} >>"$RESULTS"
fi
