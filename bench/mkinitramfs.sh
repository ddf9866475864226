#!/bin/bash
# mkinitramfs.sh OUT.cpio.gz [KVER] - a tiny busybox initramfs for a Debian
# kernel (linux-image-amd64) that loads the virtio-net modules of kernel KVER
# (default: the newest in /lib/modules), prints "BENCH: modules loaded",
# waits lab.hold seconds (default 60) and powers off.  Loading virtio_net is
# what makes the guest driver set DRIVER_OK, i.e. what brings a vhost-user
# back-end to "ready".  Needs busybox-static, cpio, gzip, modinfo.
set -eu
OUT=${1:?usage: mkinitramfs.sh OUT.cpio.gz [KVER]}
KVER=${2:-$(ls /lib/modules | sort -V | tail -1)}
BB=${BUSYBOX:-/bin/busybox}
[ -x "$BB" ] || { echo "mkinitramfs: no busybox at $BB (install busybox-static)" >&2; exit 1; }
if ldd "$BB" >/dev/null 2>&1; then
	echo "mkinitramfs: $BB is dynamically linked; install busybox-static" >&2
	exit 1
fi
for t in cpio gzip modinfo; do
	command -v $t >/dev/null || { echo "mkinitramfs: $t not found" >&2; exit 1; }
done
[ -d "/lib/modules/$KVER" ] || { echo "mkinitramfs: no modules for $KVER" >&2; exit 1; }
W=$(mktemp -d "${TMPDIR:-/tmp}/vup-bench-initramfs.XXXXXX")
trap 'rm -rf "$W"' EXIT
mkdir -p "$W"/{bin,proc,sys,dev,lib/modules}
cp "$BB" "$W/bin/busybox"
MODS="virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci failover net_failover virtio_net"
for m in $MODS; do
	f=$(modinfo -k "$KVER" -F filename "$m" 2>/dev/null) || f=""
	case "$f" in
	*.ko) cp "$f" "$W/lib/modules/$m.ko" ;;
	*.ko.xz) xz -dc "$f" >"$W/lib/modules/$m.ko" ;;
	*.ko.zst) zstd -qdc "$f" >"$W/lib/modules/$m.ko" ;;
	*) ;; # built in, or absent
	esac
done
echo "$MODS" >"$W/lib/modules/order"
cat >"$W/init" <<'INIT'
#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev
for m in $(cat /lib/modules/order); do
	[ -f /lib/modules/$m.ko ] && insmod /lib/modules/$m.ko
done
echo "BENCH: modules loaded at $(cut -d' ' -f1 /proc/uptime)s"
hold=$(tr ' ' '\n' </proc/cmdline | sed -n 's/^lab.hold=//p')
sleep "${hold:-60}"
reboot -f
INIT
chmod +x "$W/init"
(cd "$W" && find . | cpio -o -H newc --quiet | gzip -1) >"$OUT"
