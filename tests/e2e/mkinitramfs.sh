#!/bin/bash
# mkinitramfs.sh OUT.cpio.gz KVER - build a tiny busybox initramfs for a Debian
# kernel (package linux-image-amd64) that loads the virtio modules of kernel
# KVER and then does what the kernel command line asks:
#   lab.net=1          bring eth0 up as lab.ip (default 10.0.0.2/24) and ping
#                      lab.peer (default 10.0.0.1) lab.pings times (default 5),
#                      lab.interval seconds apart (default 1)
#   lab.blk=1          read all of /dev/vda with dd, print its md5, write
#                      lab.pattern at sector lab.sector (default 1), fsync, read
#                      it back
#   lab.watch=N        with lab.net=1, instead of lab.pings: for N s, print
#                      "LAB: tick K at Ts" every 0.5 s and ping lab.peer
#                      every 0.5 s (a reply line per answer), so that the
#                      host sees whether the guest runs and the device works
#   lab.fs=1           mount the virtio-fs tag lab.tag (default lab) on /mnt,
#                      print /mnt/host.txt ("LAB: fs read: ..."), write
#                      lab.pattern to /mnt/guest.txt, sync, unmount
#   lab.hold=N         sleep N s before powering off (default 0)
# Every milestone is a console line starting with "LAB: "; the last one is
# "LAB: DONE", then the guest powers off (run QEMU with -no-reboot).
# Needs: a static busybox (busybox-static; BUSYBOX=path to override), the
# kernel's modules under /lib/modules/KVER, cpio, gzip.  Built at test time;
# nothing large is committed.
set -eu
OUT=${1:?usage: mkinitramfs.sh OUT.cpio.gz KVER}
KVER=${2:?usage: mkinitramfs.sh OUT.cpio.gz KVER}
BB=${BUSYBOX:-/bin/busybox}
[ -x "$BB" ] || { echo "mkinitramfs: no busybox at $BB (install busybox-static)" >&2; exit 1; }
# has_interp ELF: 0 if ELF (64-bit) has a PT_INTERP program header, i.e. is
# dynamically linked; the guest has no libc.
has_interp() {
	local f=$1 off ent num i
	[ "$(od -An -tx1 -N5 "$f" | tr -d ' ')" = 7f454c4602 ] || return 2
	off=$(od -An -tu8 -j32 -N8 "$f" | tr -d ' ')
	ent=$(od -An -tu2 -j54 -N2 "$f" | tr -d ' ')
	num=$(od -An -tu2 -j56 -N2 "$f" | tr -d ' ')
	for ((i = 0; i < num; i++)); do
		[ "$(od -An -tu4 -j$((off + i * ent)) -N4 "$f" | tr -d ' ')" = 3 ] && return 0
	done
	return 1
}
rc=0; has_interp "$BB" || rc=$?
case $rc in
0) echo "mkinitramfs: $BB is dynamically linked; install busybox-static" >&2; exit 1 ;;
2) echo "mkinitramfs: $BB is not a 64-bit ELF executable" >&2; exit 1 ;;
esac
for t in cpio gzip modinfo od; do
	command -v $t >/dev/null || { echo "mkinitramfs: $t not found" >&2; exit 1; }
done
[ -d "/lib/modules/$KVER" ] || { echo "mkinitramfs: no modules for kernel $KVER in /lib/modules" >&2; exit 1; }

W=$(mktemp -d "${TMPDIR:-/tmp}/vup-initramfs.XXXXXX")
trap 'rm -rf "$W"' EXIT
mkdir -p "$W"/{bin,proc,sys,dev,tmp,lib/modules}
cp "$BB" "$W/bin/busybox"
# Load order = dependency order.
MODS="virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci failover net_failover virtio_net virtio_blk"
copy_modules() {
	local m f
	for m in "$@"; do
		f=$(modinfo -k "$KVER" -F filename "$m" 2>/dev/null) || f=""
		case "$f" in
		*.ko) cp "$f" "$W/lib/modules/$m.ko" ;;
		*.ko.xz) xz -dc "$f" >"$W/lib/modules/$m.ko" ;;
		*.ko.zst) zstd -qdc "$f" >"$W/lib/modules/$m.ko" ;;
		"(builtin)"|"") ;; # built into the kernel, or absent: the guest says so
		*) echo "mkinitramfs: module $m: unexpected file $f" >&2; exit 1 ;;
		esac
	done
}
# shellcheck disable=SC2086 # lists of module names
copy_modules $MODS
echo "$MODS" >"$W/lib/modules/order"
# virtio-fs, loaded only by a lab.fs=1 guest (the others boot as before).
FSMODS="fuse virtiofs"
# shellcheck disable=SC2086
copy_modules $FSMODS
echo "$FSMODS" >"$W/lib/modules/fsorder"

cat >"$W/init" <<'EOF'
#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev
up() { cut -d' ' -f1 /proc/uptime; }
arg() { v=$(tr ' ' '\n' </proc/cmdline | grep "^$1=" | tail -1 | cut -d= -f2-); echo "${v:-$2}"; }
echo "LAB: init started at guest uptime $(up)s"
for m in $(cat /lib/modules/order); do
	[ -f /lib/modules/$m.ko ] && { insmod /lib/modules/$m.ko || echo "LAB: insmod $m failed"; }
done
echo "LAB: modules loaded at $(up)s"
if [ "$(arg lab.net 0)" = 1 ]; then
	i=0; while [ ! -e /sys/class/net/eth0 ] && [ $i -lt 200 ]; do sleep 0.1; i=$((i+1)); done
	if [ -e /sys/class/net/eth0 ]; then
		ip link set lo up; ip link set eth0 up; ip addr add "$(arg lab.ip 10.0.0.2/24)" dev eth0
		echo "LAB: NET-READY eth0 $(cat /sys/class/net/eth0/address) at $(up)s"
		watch=$(arg lab.watch 0)
		if [ "$watch" -gt 0 ]; then
			ping -i 0.5 "$(arg lab.peer 10.0.0.1)" &
			p=$!
			k=0
			while [ $k -lt $((watch * 2)) ]; do
				echo "LAB: tick $k at $(up)s"; k=$((k+1)); sleep 0.5
			done
			kill $p
			echo "LAB: watch done at $(up)s"
		else
			ping -c "$(arg lab.pings 5)" -i "$(arg lab.interval 1)" -W 2 "$(arg lab.peer 10.0.0.1)"
			echo "LAB: ping rc=$? at $(up)s"
		fi
		S=/sys/class/net/eth0/statistics
		echo "LAB: eth0 counters rx_packets=$(cat $S/rx_packets) tx_packets=$(cat $S/tx_packets) rx_dropped=$(cat $S/rx_dropped) tx_dropped=$(cat $S/tx_dropped)"
	else
		echo "LAB: NET-FAIL no eth0"; ls /sys/bus/virtio/devices/ /sys/bus/pci/devices/; dmesg | grep -i virtio
	fi
fi
if [ "$(arg lab.blk 0)" = 1 ]; then
	i=0; while [ ! -b /dev/vda ] && [ $i -lt 200 ]; do sleep 0.1; i=$((i+1)); done
	if [ -b /dev/vda ]; then
		echo "LAB: BLK-READY /dev/vda $(cat /sys/block/vda/size) sectors at $(up)s"
		t0=$(up); n=$(dd if=/dev/vda bs=1M 2>/tmp/dd.err | wc -c)
		echo "LAB: dd read: $n bytes [dd: $(tr '\n' ' ' </tmp/dd.err)] ($t0 -> $(up) s)"
		echo 3 >/proc/sys/vm/drop_caches
		echo "LAB: md5 $(md5sum </dev/vda | cut -d' ' -f1)"
		sec=$(arg lab.sector 1)
		arg lab.pattern nopattern >/tmp/p
		dd if=/tmp/p of=/dev/vda bs=512 seek="$sec" conv=fsync 2>/dev/null
		echo "LAB: write rc=$? at $(up)s"
		echo 3 >/proc/sys/vm/drop_caches
		echo "LAB: readback: $(dd if=/dev/vda bs=512 skip="$sec" count=1 2>/dev/null | head -1)"
	else
		echo "LAB: BLK-FAIL no /dev/vda"; ls /sys/bus/virtio/devices/ 2>&1; dmesg | grep -i virtio
	fi
fi
if [ "$(arg lab.fs 0)" = 1 ]; then
	for m in $(cat /lib/modules/fsorder); do
		[ -f /lib/modules/$m.ko ] && { insmod /lib/modules/$m.ko || echo "LAB: insmod $m failed"; }
	done
	mkdir -p /mnt
	if mount -t virtiofs "$(arg lab.tag lab)" /mnt; then
		echo "LAB: FS-READY at $(up)s"
		echo "LAB: fs read: $(cat /mnt/host.txt)"
		arg lab.pattern nopattern >/mnt/guest.txt
		echo "LAB: fs write rc=$? at $(up)s"
		sync
		umount /mnt
		echo "LAB: fs umount rc=$? at $(up)s"
	else
		echo "LAB: FS-FAIL mount"; ls /sys/bus/virtio/devices/ 2>&1; dmesg | grep -iE 'virtio|fuse' | tail
	fi
fi
sleep "$(arg lab.hold 0)"
echo "LAB: DONE at $(up)s"
sync; reboot -f
EOF
chmod +x "$W/init"
(cd "$W" && find . | cpio -o -H newc --quiet | gzip -1) >"$OUT"
echo "built $OUT ($(du -h "$OUT" | cut -f1)) for kernel $KVER"
