#!/bin/bash
# The main job, as a demo: vuproxy between two real DPDK testpmd processes
# (virtio-user front-end -> vuproxy -> vhost back-end), printing the live
# message log for about SECS seconds, then a summary.
#   SECS=10  PACKED=0|1  SKIP_INSTALL=1 (deps already installed)
set -eu
cd "$(dirname "$0")/.."
SECS=${SECS:-10}; PACKED=${PACKED:-0}
[ "${SKIP_INSTALL:-0}" = 1 ] || ./scripts/install-deps.sh
./scripts/build.sh >/dev/null
VUPROXY=$PWD/${BUILD_DIR:-build}/vuproxy

T=$(mktemp -d /tmp/vuproxy-demo.XXXXXX)
TAG=vupdemo-$$
PIDS=()
cleanup() {
	for p in "${PIDS[@]}"; do kill -INT "$p" 2>/dev/null || true; done
	sleep 1
	for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
	rm -rf "/var/run/dpdk/be-$TAG" "/var/run/dpdk/fe-$TAG"
}
trap cleanup EXIT
waitfor() { # file pattern seconds
	local end=$(($(date +%s) + $3))
	until grep -q "$2" "$1" 2>/dev/null; do
		[ "$(date +%s)" -lt $end ] || return 1
		sleep 0.05
	done
}
# Without hugepages DPDK backs guest memory with a memfd, which is what
# SET_MEM_TABLE passes; each testpmd keeps to one core of its own.
EAL="--no-pci --no-huge -m 512"
TP="--stats-period=1 --nb-cores=1 --total-num-mbufs=16384"

echo "== back-end: dpdk-testpmd net_vhost listening on $T/be.sock (rxonly)"
timeout -s INT $((SECS + 30)) dpdk-testpmd --lcores 0@0,1@0 $EAL --file-prefix=be-$TAG \
	--vdev "net_vhost0,iface=$T/be.sock,queues=1" --log-level=lib.vhost.config:debug \
	-- $TP --forward-mode=rxonly </dev/null >"$T/be.log" 2>&1 &
PIDS+=($!); BE=$!
waitfor "$T/be.log" "binding succeeded" 20 || { echo "back-end did not start:"; tail "$T/be.log"; exit 1; }

echo "== vuproxy: front-end listen:$T/vm.sock, back-end connect:$T/be.sock, -v"
"$VUPROXY" --frontend "listen:$T/vm.sock" --backend "connect:$T/be.sock" -v \
	2> >(tee "$T/vuproxy.log" >&2) &
PIDS+=($!); VP=$!
waitfor "$T/vuproxy.log" "listening on" 10 || { echo "vuproxy did not start"; exit 1; }

echo "== front-end: dpdk-testpmd net_virtio_user connecting to $T/vm.sock (txonly, ${SECS} s)"
T0=$(date +%s.%N)
timeout -s INT $((SECS + 20)) dpdk-testpmd --lcores 0@1,1@1 $EAL --file-prefix=fe-$TAG \
	--vdev "net_virtio_user0,path=$T/vm.sock,queues=1,packed_vq=$PACKED" \
	-- $TP --forward-mode=txonly </dev/null >"$T/fe.log" 2>&1 &
PIDS+=($!); FE=$!
if waitfor "$T/be.log" "virtio is now ready for processing" 30; then
	printf '== device ready %.2f s after the front-end started\n' "$(echo "$(date +%s.%N) - $T0" | bc)"
else
	echo "device never became ready"; tail -5 "$T/be.log" "$T/fe.log"; exit 1
fi
sleep "$SECS"
kill -INT $FE; wait $FE 2>/dev/null || true
sleep 1
kill -INT "$VP"; sleep 0.5
kill -INT $BE; wait $BE 2>/dev/null || true

echo
echo "== summary"
echo "requests the back-end logged:         $(grep -c 'read message VHOST_USER_' "$T/be.log")"
echo "requests vuproxy relayed to it:       $(grep ' s1 front-end>back-end ' "$T/vuproxy.log" | grep -vc ' reply ')"
echo "replies vuproxy relayed back:         $(grep -c ' s1 back-end>front-end .* reply ' "$T/vuproxy.log")"
tr -d '\033' <"$T/be.log" | grep -A2 'Accumulated forward statistics' | grep RX-packets |
	awk '{print "packets the back-end received (data path, not through vuproxy): " $2}'
grep '^vuproxy:' "$T/vuproxy.log" || true
echo "logs kept in $T"
trap - EXIT; cleanup
