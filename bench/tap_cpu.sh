#!/bin/bash
# tap_cpu.sh - what the tap's polling costs in CPU when nothing moves:
# vuproxy --tap net between a testpmd virtio-user and a testpmd vhost back-end
# that both only receive (rings set up, no traffic), for each
# --tap-interval in TAP_INTERVALS (microseconds).  Prints vuproxy's CPU
# share (user+system time / wall time) over TAP_SECS after the link is up.
# The cost under traffic is in dpdk.sh (tapped mode).
#
# Needs VUPROXY.  Knobs: TAP_INTERVALS="1000 200 100 50" TAP_SECS=5
#   BE_CPU=0 FE_CPU=1 TESTPMD=dpdk-testpmd  WORK=dir  RESULTS=file
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"
: "${VUPROXY:?set VUPROXY to the vuproxy binary}"
TAP_INTERVALS=${TAP_INTERVALS:-1000 200 100 50}; TAP_SECS=${TAP_SECS:-5}
BE_CPU=${BE_CPU:-0}; FE_CPU=${FE_CPU:-1}; TESTPMD=${TESTPMD:-dpdk-testpmd}
HZ=$(getconf CLK_TCK)
OWN_WORK=0
if [ -z "${WORK:-}" ]; then WORK=$(mktemp -d /tmp/vuproxy-bench-tapcpu.XXXXXX); OWN_WORK=1; fi
cleanup() { stop_all; rm -rf /var/run/dpdk/vuptapcpu-$$-*; [ $OWN_WORK = 1 ] && [ "${KEEP:-0}" != 1 ] && rm -rf "$WORK"; }
trap cleanup EXIT
trap 'exit 130' INT TERM
EAL=(--no-pci --no-huge -m 512)
TP=(--stats-period=1 --nb-cores=1 --total-num-mbufs=16384 --forward-mode=rxonly)

ticks() { sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | awk '{print $12 + $13}'; }

echo "== tap CPU cost with idle rings: vuproxy CPU share over ${TAP_SECS} s"
for us in $TAP_INTERVALS; do
	dir=$WORK/i$us; mkdir -p "$dir"; tag=vuptapcpu-$$-$us
	start "$dir/be.log" 120 INT "$TESTPMD" --lcores "0@$BE_CPU,1@$BE_CPU" "${EAL[@]}" \
		--file-prefix="$tag-be" --vdev "net_vhost0,iface=$dir/be.sock,queues=1" -- "${TP[@]}"
	be=$STARTED_PID
	wait_listen "$dir/be.sock" 30 || exit 1
	start "$dir/vuproxy.log" 120 TERM "$VUPROXY" --frontend "listen:$dir/fe.sock" \
		--backend "connect:$dir/be.sock" --tap net --tap-interval "$us"
	vp=$STARTED_PID
	wait_listen "$dir/fe.sock" 10 || exit 1
	vpc=$(pgrep -P "$vp" | head -1)
	# No session yet: the timer alone.
	t0=$(now); c0=$(ticks "$vpc"); sleep "$TAP_SECS"; t1=$(now); c1=$(ticks "$vpc")
	nosess=$(awk -v a="$c0" -v b="$c1" -v w="$(awk -v x="$t0" -v y="$t1" 'BEGIN{print y-x}')" -v hz="$HZ" \
		'BEGIN{printf "%.4f", (b - a) / hz / w}')
	start "$dir/fe.log" 120 INT "$TESTPMD" --lcores "0@$FE_CPU,1@$FE_CPU" "${EAL[@]}" \
		--file-prefix="$tag-fe" --vdev "net_virtio_user0,path=$dir/fe.sock,queues=1" -- "${TP[@]}"
	fe=$STARTED_PID
	wait_log "$dir/be.log" "virtio is now ready for processing" 30 || { echo "ERROR: no link" >&2; exit 1; }
	sleep 1
	t0=$(now); c0=$(ticks "$vpc"); sleep "$TAP_SECS"; t1=$(now); c1=$(ticks "$vpc")
	idle=$(awk -v a="$c0" -v b="$c1" -v w="$(awk -v x="$t0" -v y="$t1" 'BEGIN{print y-x}')" -v hz="$HZ" \
		'BEGIN{printf "%.4f", (b - a) / hz / w}')
	stop "$fe" INT 15; stop "$vp" TERM 5; stop "$be" INT 15
	echo "   --tap-interval $us us: no session $nosess, one session with 2 idle queues $idle"
	[ -n "${RESULTS:-}" ] && echo "tap_cpu_idle_${us}us=$idle" >>"$RESULTS"
done
