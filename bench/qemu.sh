#!/bin/bash
# qemu.sh - optional: VM start -> back-end ready, direct vs through vuproxy.
#
#   back-end   dpdk-testpmd --vdev net_vhost0,iface=BE.sock (listens), rxonly,
#              lcores on CPU BE_CPU
#   front-end  qemu-system-x86_64 -accel tcg, virtio-net-pci on a vhost-user
#              netdev, guest = Debian kernel + busybox initramfs that loads
#              virtio_net (mkinitramfs.sh); QEMU pinned to CPU QEMU_CPU
#   proxied    vuproxy -q --frontend listen:FE.sock --backend connect:BE.sock
# Measures QEMU start -> back-end logs "virtio is now ready for processing"
# (the guest driver set DRIVER_OK), QEMU_ROUNDS runs each, interleaved.
#
# Needs VUPROXY, qemu-system-x86_64, a kernel in /boot with its modules,
# busybox-static.  Knobs: QEMU_ROUNDS=3 BE_CPU=0 QEMU_CPU=1 VUPROXY_CPUS=0,1
#   KERNEL=/boot/vmlinuz-<newest>  WORK=dir for logs  RESULTS=file
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"
: "${VUPROXY:?set VUPROXY to the vuproxy binary}"
QEMU_ROUNDS=${QEMU_ROUNDS:-3}; BE_CPU=${BE_CPU:-0}; QEMU_CPU=${QEMU_CPU:-1}
VUPROXY_CPUS=${VUPROXY_CPUS:-0,1}; TESTPMD=${TESTPMD:-dpdk-testpmd}
KERNEL=${KERNEL:-$(ls /boot/vmlinuz-* 2>/dev/null | sort -V | tail -1)}
OWN_WORK=0
if [ -z "${WORK:-}" ]; then WORK=$(mktemp -d /tmp/vuproxy-bench-qemu.XXXXXX); OWN_WORK=1; fi
PREFIXES=()
cleanup() {
	stop_all
	local p
	for p in "${PREFIXES[@]}"; do rm -rf "/var/run/dpdk/$p"; done
	[ $OWN_WORK = 1 ] && [ "${KEEP:-0}" != 1 ] && rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

for t in qemu-system-x86_64 "$TESTPMD"; do
	command -v "$t" >/dev/null || { echo "ERROR: $t not found" >&2; exit 1; }
done
if [ -z "$KERNEL" ] || [ ! -r "$KERNEL" ]; then echo "ERROR: no guest kernel (KERNEL=)" >&2; exit 1; fi
KVER=$(basename "$KERNEL" | sed 's/^vmlinuz-//')
INITRD=$WORK/initramfs.cpio.gz
"$HERE/mkinitramfs.sh" "$INITRD" "$KVER" || exit 1
LIMIT=90

# qemu_once MODE RUN: sets Q_READY (s).
qemu_once() {
	local mode=$1 r=$2 dir tag be_pid q_pid vp_pid="" path t0 t1
	dir=$WORK/qemu-$r-$mode
	mkdir -p "$dir"
	tag=vupbench-$$-q$r-$mode
	PREFIXES+=("$tag")
	start "$dir/be.log" "$LIMIT" INT "$TESTPMD" --lcores "0@$BE_CPU,1@$BE_CPU" \
		--no-pci --no-huge -m 256 --file-prefix="$tag" \
		--vdev "net_vhost0,iface=$dir/be.sock,queues=1" \
		--log-level=lib.vhost.config:info \
		-- --stats-period=1 --nb-cores=1 --total-num-mbufs=8192 --forward-mode=rxonly
	be_pid=$STARTED_PID
	wait_listen "$dir/be.sock" 30 || { tail -20 "$dir/be.log" >&2; return 1; }
	path=$dir/be.sock
	if [ "$mode" = proxied ]; then
		start "$dir/vuproxy.log" "$LIMIT" TERM taskset -c "$VUPROXY_CPUS" \
			"$VUPROXY" -q --frontend "listen:$dir/fe.sock" \
			--backend "connect:$dir/be.sock"
		vp_pid=$STARTED_PID
		wait_listen "$dir/fe.sock" 10 || { cat "$dir/vuproxy.log" >&2; return 1; }
		path=$dir/fe.sock
	fi
	t0=$(now)
	# vectors=0: QEMU 7.2 + TCG + vhost-user crashes at DRIVER_OK with MSI-X
	start "$dir/qemu.log" "$LIMIT" TERM taskset -c "$QEMU_CPU" qemu-system-x86_64 \
		-accel tcg -cpu max -M q35 -m 512M -smp 1 \
		-nodefaults -no-user-config -display none -serial stdio -no-reboot \
		-object memory-backend-memfd,id=mem,size=512M,share=on -numa node,memdev=mem \
		-chardev "socket,id=c0,path=$path" -netdev vhost-user,id=n0,chardev=c0 \
		-device virtio-net-pci,netdev=n0,mac=52:54:00:12:34:56,vectors=0 \
		-kernel "$KERNEL" -initrd "$INITRD" \
		-append "console=ttyS0 panic=-1 quiet lab.hold=60"
	q_pid=$STARTED_PID
	if ! wait_log "$dir/be.log" "virtio is now ready for processing" 60; then
		echo "ERROR: $mode run $r: the back-end never became ready" >&2
		tail -15 "$dir/be.log" "$dir/qemu.log" >&2
		return 1
	fi
	t1=$(now)
	stop "$q_pid" TERM 10
	stop "$be_pid" INT 15
	[ -n "$vp_pid" ] && stop "$vp_pid" TERM 5
	rm -rf "/var/run/dpdk/$tag"
	Q_READY=$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.3f", b - a}')
}

echo "== QEMU (TCG): $QEMU_ROUNDS runs each of direct and proxied (interleaved), QEMU start -> back-end ready"
echo "   pinning: back-end testpmd --lcores 0@$BE_CPU,1@$BE_CPU, QEMU taskset -c $QEMU_CPU, vuproxy taskset -c $VUPROXY_CPUS; guest kernel $KVER"
echo "   load average at start: $(loadavg)"
declare -A READY
for ((r = 1; r <= QEMU_ROUNDS; r++)); do
	if ((r % 2)); then order=(direct proxied); else order=(proxied direct); fi
	line="   round $r:"
	for mode in "${order[@]}"; do
		qemu_once "$mode" "$r" || exit 1
		READY[$mode]+="$Q_READY "
		line+=" $mode ${Q_READY} s;"
	done
	echo "${line%;}"
done
col() { tr ' ' '\n' <<<"$1" | grep .; }
QD=$(col "${READY[direct]}" | median); QP=$(col "${READY[proxied]}" | median)
QDB=$(col "${READY[direct]}" | sort -g | head -1); QPB=$(col "${READY[proxied]}" | sort -g | head -1)
QR=$(ratio "$QD" "$QP"); QRB=$(ratio "$QDB" "$QPB")
echo "   VM start -> back-end ready: median direct $QD s, proxied $QP s -> direct/proxied $QR; best $QDB s / $QPB s -> $QRB (target >= 0.95)"
echo "   load average at end: $(loadavg)"
if [ -n "${RESULTS:-}" ]; then
	{
		echo "qemu_direct_s=$QD"
		echo "qemu_proxied_s=$QP"
		echo "qemu_ratio=$QR"
		echo "qemu_best_direct_s=$QDB"
		echo "qemu_best_proxied_s=$QPB"
		echo "qemu_best_ratio=$QRB"
	} >>"$RESULTS"
fi
