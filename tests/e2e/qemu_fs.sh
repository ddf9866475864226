#!/bin/bash
# qemu_fs.sh - end-to-end: QEMU (TCG guest, vhost-user-fs-pci, vhost-user
# front-end) <-> vuproxy <-> virtiofsd (QEMU 7.2's C virtiofsd, the
# vhost-user-fs back-end) sharing a host directory.
#
# The host writes a per-run pattern into host.txt of the shared directory;
# the guest mounts the tag, prints host.txt on its console and writes its
# own pattern into guest.txt, syncs and unmounts.  PASS needs: the guest
# read the host's pattern, the host finds the guest's pattern in
# guest.txt, vuproxy relayed the memory regions and the vrings and ends with
# 0 failed sessions, and `vuproxy check` on the trace finds no error and
# QEMU's known warnings: VU015 (negotiation before SET_OWNER) and VU016
# (SET_VRING_CALL before SET_FEATURES).
#
# virtiofsd runs with -o sandbox=chroot: its default sandbox (mount, pid
# and net namespaces) is not available in every container CI runs in;
# chroot needs root, as virtiofsd itself does.
#
# Needs: qemu-system-x86 (qemu-system-x86_64), qemu-system-common
# (/usr/lib/qemu/virtiofsd), busybox-static, linux-image-amd64 (guest
# kernel + the fuse and virtiofs modules), cpio, gzip; root.
# Env: VUPROXY (required) binary under test; VIRTIOFSD (default
# /usr/lib/qemu/virtiofsd); KERNEL, KVER (guest kernel, default newest
# /boot/vmlinuz-*); BOOT_TIMEOUT=120 (s until the guest's /init runs);
# KEEP=1 keeps the scratch directory.
# Run by hand: VUPROXY=build/vuproxy tests/e2e/qemu_fs.sh
set -u
. "$(cd "$(dirname "$0")" && pwd)/qemu_lib.sh"

BOOT_TIMEOUT=${BOOT_TIMEOUT:-120}
# shellcheck disable=SC2034 # LIMIT, MEM: read by qemu_lib.sh
LIMIT=240 MEM=256M # LIMIT: hard bound on every process we start (s)
VIRTIOFSD=${VIRTIOFSD:-/usr/lib/qemu/virtiofsd}

qe_init qemu-fs
qe_need_vuproxy
qe_need_cmd qemu-system-x86_64 timeout awk
[ -x "$VIRTIOFSD" ] || qe_fail "no virtiofsd at $VIRTIOFSD (install qemu-system-common, or set VIRTIOFSD)"
[ "$(id -u)" = 0 ] || qe_fail "virtiofsd needs root (its chroot sandbox and the share's ownership)"
find_kernel
modinfo -k "$KVER" -F filename virtiofs >/dev/null 2>&1 ||
	qe_fail "the guest kernel $KVER has no virtiofs module"
T_START=$(now)
build_initramfs "$W/initramfs.cpio.gz"

FE=$W/fe.sock BE=$W/be.sock SHARE=$W/share
mkdir "$SHARE" || qe_fail "cannot create $SHARE"
HOSTPAT=vuproxy-host-$$-$RANDOM$RANDOM
PATTERN=vuproxy-guest-$$-$RANDOM$RANDOM
echo "$HOSTPAT" >"$SHARE/host.txt"

# 1. back-end: virtiofsd serving $SHARE on one vhost-user connection.
VFS_LOG=$W/virtiofsd.log
qe_log virtiofsd "$VFS_LOG"
spawn VFS_PID "$LIMIT" TERM "$VFS_LOG" "$VIRTIOFSD" --socket-path="$BE" \
	-o source="$SHARE" -o sandbox=chroot -o cache=none
i=0
until [ -S "$BE" ]; do
	kill -0 "$VFS_PID" 2>/dev/null || qe_fail "virtiofsd exited before listening on $BE"
	[ $i -ge 600 ] && qe_fail "virtiofsd did not listen on $BE within 30 s"
	sleep 0.05; i=$((i + 1))
done

# 2. vuproxy between them.
TRACE=$W/trace.pcapng.gz
# shellcheck disable=SC2034 # read by start_vuproxy
VUP_EXTRA=(-w "$TRACE")
start_vuproxy "listen:$FE" "connect:$BE"

# 3. front-end: QEMU connects to vuproxy (vectors=0: see net_args).
start_guest guest "lab.fs=1 lab.tag=lab lab.pattern=$PATTERN" \
	-chardev "socket,id=c1,path=$FE" -device vhost-user-fs-pci,chardev=c1,tag=lab,vectors=0

qe_milestone init 'LAB: init started' "$BOOT_TIMEOUT" "the guest never came up"
qe_milestone fs 'LAB: FS-READY|LAB: FS-FAIL' 60 "the guest never mounted the virtio-fs tag"
grep -q 'LAB: FS-FAIL' "$GUEST" && qe_fail "the guest could not mount the virtio-fs tag 'lab'"
qe_milestone umount 'LAB: fs umount rc=' 60 "the guest's file read, write and unmount never finished"
qe_milestone off 'LAB: DONE' 30 "the guest did not finish"
wait_exit "$Q_PID" 30 || qe_fail "QEMU did not exit within 30 s of the guest powering off"
Q_RC=$WAIT_RC

stop_vuproxy
# virtiofsd ends with its connection; stop it if it has not.
wait_exit "$VFS_PID" 10 || stop "$VFS_PID" TERM 15 || echo "note: virtiofsd needed SIGKILL"

# --- verdict: the guest's and the host's view ---
[ "$Q_RC" = 0 ] || qe_fail "QEMU exited with status $Q_RC"
line() { grep -E "$1" "$GUEST" | tr -d '\r' | tail -1; }
[ "$(line 'LAB: fs read:' | sed 's/^.*LAB: fs read: //')" = "$HOSTPAT" ] ||
	qe_fail "the guest read '$(line 'LAB: fs read:')' from host.txt, expected $HOSTPAT"
line 'LAB: fs write rc=' | grep -q 'rc=0 ' || qe_fail "the guest's write failed: $(line 'LAB: fs write rc=')"
line 'LAB: fs umount rc=' | grep -q 'rc=0 ' || qe_fail "the guest's unmount failed: $(line 'LAB: fs umount rc=')"
[ -f "$SHARE/guest.txt" ] || qe_fail "the guest's guest.txt is not in the shared directory"
[ "$(cat "$SHARE/guest.txt")" = "$PATTERN" ] ||
	qe_fail "guest.txt holds '$(cat "$SHARE/guest.txt")', expected the guest's $PATTERN"

# --- verdict: vuproxy relayed what this pair needs ---
MSG='^[0-9:.]+ s[0-9]+'
# virtiofsd (libvhost-user) negotiates CONFIGURE_MEM_SLOTS: QEMU sends
# ADD_MEM_REG, never SET_MEM_TABLE.
for m in GET_MAX_MEM_SLOTS ADD_MEM_REG SET_VRING_ADDR SET_VRING_KICK SET_VRING_CALL; do
	vup_saw "$MSG front-end>back-end $m " || qe_fail "vuproxy's -v log shows no relayed $m"
done
[ "$VUP_SESSIONS" -ge 1 ] || qe_fail "vuproxy counted no session ($VUP_SUMMARY)"
[ "$VUP_FAILED" = 0 ] || qe_fail "vuproxy ended with $VUP_FAILED failed session(s) ($VUP_SUMMARY)"

# --- verdict: no false alarm, QEMU's known warnings ---
e2e_check_trace "$TRACE" VU015 VU016

echo "timeline (host wall clock from QEMU start):"
# shellcheck disable=SC2154 # T_* are set by qe_milestone
printf '  %-26s +%s s\n' "guest /init running" "$T_init" "virtio-fs mounted" "$T_fs" \
	"read, write, unmount done" "$T_umount" "guest powered off" "$T_off"
echo "$VUP_SUMMARY"
echo "PASS: qemu_fs (guest read the host's file and wrote one the host read, through vuproxy, whole test $(since "$T_START") s)"
