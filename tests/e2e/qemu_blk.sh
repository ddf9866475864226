#!/bin/bash
# qemu_blk.sh - end-to-end: QEMU (TCG guest, vhost-user-blk-pci, vhost-user
# front-end) <-> vuproxy <-> qemu-storage-daemon (vhost-user-blk back-end)
# exporting a raw image of random bytes.
#
# The guest reads all of /dev/vda (dd byte count and md5 must match the
# image), writes a per-run pattern at one sector with fsync; the host then
# finds the pattern in the image file.  This pair negotiates
# CONFIGURE_MEM_SLOTS, CONFIG and BACKEND_REQ, so vuproxy's -v log must show
# ADD_MEM_REG, a GET_CONFIG reply and SET_BACKEND_REQ_FD relayed,
# vuproxy must end with 0 failed sessions, and `vuproxy check` must find
# no error in the trace (lib.sh, e2e_check_trace).
#
# Needs: qemu-system-x86 (qemu-system-x86_64), qemu-system-common
# (qemu-storage-daemon), busybox-static, linux-image-amd64 (guest kernel +
# modules), cpio, gzip, md5sum.
# Env: VUPROXY (required) binary under test; KERNEL, KVER (guest kernel,
# default newest /boot/vmlinuz-*); BOOT_TIMEOUT=120 (s until the guest's
# /init runs); KEEP=1 keeps the scratch directory.  For a small trace:
# DISK_MB=32 (the image's size), SECTOR=12345 (inside the disk; a multiple
# of 8 puts the pattern at the start of its 4 KiB write, so a small snap
# length still holds it), SNAPLEN=4096 (-s of --tap blk); BLK_SAVE=PATH
# copies the trace there once every check has passed (how
# captures/qemu-blk.pcapng.gz was made).
# Run by hand: VUPROXY=build/vuproxy tests/e2e/qemu_blk.sh
set -u
. "$(cd "$(dirname "$0")" && pwd)/qemu_lib.sh"

BOOT_TIMEOUT=${BOOT_TIMEOUT:-120}
LIMIT=240 # hard bound on every process we start (s)
MEM=256M
DISK_MB=${DISK_MB:-32}
SECTOR=${SECTOR:-12345} # where the guest writes the pattern (inside the disk)
SNAPLEN=${SNAPLEN:-4096}

qe_init qemu-blk
[ "$SECTOR" -lt $((DISK_MB << 11)) ] || qe_fail "SECTOR=$SECTOR is outside the $DISK_MB MiB disk"
qe_need_vuproxy
qe_need_cmd qemu-system-x86_64 qemu-storage-daemon timeout awk md5sum head dd jq tshark
find_kernel
T_START=$(now)
build_initramfs "$W/initramfs.cpio.gz"

FE=$W/fe.sock BE=$W/be.sock IMG=$W/disk.img
head -c $((DISK_MB << 20)) /dev/urandom >"$IMG" || qe_fail "cannot create the disk image $IMG"
IMG_MD5=$(md5sum <"$IMG" | cut -d' ' -f1)
PATTERN=vuproxy-e2e-$$-$RANDOM$RANDOM-$(date +%s)
grep -qF "$PATTERN" "$IMG" && qe_fail "the random image already holds the pattern (cannot happen)"

# 1. back-end: qemu-storage-daemon exporting the image.
QSD_LOG=$W/qsd.log
qe_log qemu-storage-daemon "$QSD_LOG"
spawn QSD_PID "$LIMIT" TERM "$QSD_LOG" qemu-storage-daemon \
	--blockdev "driver=file,node-name=file0,filename=$IMG" \
	--blockdev driver=raw,node-name=disk0,file=file0 \
	--export "type=vhost-user-blk,id=exp0,node-name=disk0,addr.type=unix,addr.path=$BE,writable=on"
i=0
until [ -S "$BE" ]; do
	kill -0 "$QSD_PID" 2>/dev/null || qe_fail "qemu-storage-daemon exited before listening on $BE"
	[ $i -ge 600 ] && qe_fail "qemu-storage-daemon did not listen on $BE within 30 s"
	sleep 0.05; i=$((i + 1))
done

# 2. vuproxy between them.
TRACE=$W/trace.pcapng.gz
VUP_EXTRA=(-w "$TRACE" --tap blk -s "$SNAPLEN" --tap-interval 100)
start_vuproxy "listen:$FE" "connect:$BE"

# 3. front-end: QEMU connects to vuproxy.
start_guest guest "lab.blk=1 lab.sector=$SECTOR lab.pattern=$PATTERN" \
	-chardev "socket,id=c1,path=$FE" -device vhost-user-blk-pci,chardev=c1,num-queues=1,vectors=0

qe_milestone init 'LAB: init started' "$BOOT_TIMEOUT" "the guest never came up"
qe_milestone blk 'LAB: BLK-READY|LAB: BLK-FAIL' 60 "the guest's /dev/vda never showed up"
grep -q 'LAB: BLK-FAIL' "$GUEST" && qe_fail "the guest has no /dev/vda (vhost-user-blk did not probe)"
qe_milestone read 'LAB: dd read:' 90 "the guest's read of the whole disk never finished"
qe_milestone readback 'LAB: readback:' 90 "the guest's md5/write/readback never finished"
qe_milestone off 'LAB: DONE' 30 "the guest did not finish"
wait_exit "$Q_PID" 30 || qe_fail "QEMU did not exit within 30 s of the guest powering off"
Q_RC=$WAIT_RC

stop_vuproxy
stop "$QSD_PID" TERM 15 || echo "note: qemu-storage-daemon needed SIGKILL"

# --- verdict: the guest's view ---
[ "$Q_RC" = 0 ] || qe_fail "QEMU exited with status $Q_RC"
line() { grep -E "$1" "$GUEST" | tr -d '\r' | tail -1; }
SECTORS=$(line 'LAB: BLK-READY' | sed -E 's/.* ([0-9]+) sectors.*/\1/')
[ "$SECTORS" = $((DISK_MB << 11)) ] || qe_fail "the guest sees $SECTORS sectors, expected $((DISK_MB << 11)) (GET_CONFIG capacity)"
READ=$(line 'LAB: dd read:')
echo "$READ" | grep -qE '\[dd: [0-9]+\+[0-9]+ records in [0-9]+\+[0-9]+ records out \]' || qe_fail "the guest's dd read failed: $READ"
BYTES=$(echo "$READ" | sed -E 's/.*LAB: dd read: ([0-9]+) bytes.*/\1/')
[ "$BYTES" = $((DISK_MB << 20)) ] || qe_fail "the guest read ${BYTES:-no} bytes, expected $((DISK_MB << 20)): $READ"
G_MD5=$(line 'LAB: md5 ' | awk '{print $3}')
[ "$G_MD5" = "$IMG_MD5" ] || qe_fail "the guest's md5 of /dev/vda is '$G_MD5', the image's is $IMG_MD5"
line 'LAB: write rc=' | grep -q 'rc=0' || qe_fail "the guest's pattern write failed: $(line 'LAB: write rc=')"
[ "$(line 'LAB: readback:' | sed 's/^.*LAB: readback: //')" = "$PATTERN" ] ||
	qe_fail "the guest read back '$(line 'LAB: readback:')', expected $PATTERN"

# --- verdict: the host's view ---
[ "$(stat -c %s "$IMG")" = $((DISK_MB << 20)) ] || qe_fail "the image changed size"
ONDISK=$(dd if="$IMG" bs=512 skip="$SECTOR" count=1 status=none | head -c ${#PATTERN})
[ "$ONDISK" = "$PATTERN" ] || qe_fail "the image holds '$ONDISK' at sector $SECTOR, not the guest's pattern $PATTERN"

# --- verdict: vuproxy relayed what this pair needs ---
MSG='^[0-9:.]+ s[0-9]+'
vup_saw "$MSG front-end>back-end ADD_MEM_REG " || qe_fail "vuproxy's -v log shows no relayed ADD_MEM_REG"
vup_saw "$MSG back-end>front-end GET_CONFIG reply " || qe_fail "vuproxy's -v log shows no relayed GET_CONFIG reply"
vup_saw "$MSG front-end>back-end SET_BACKEND_REQ_FD .*\(0 B, 1 fds\)" ||
	qe_fail "vuproxy's -v log shows no relayed SET_BACKEND_REQ_FD with its fd"
for m in SET_VRING_ADDR SET_VRING_KICK; do
	vup_saw "$MSG front-end>back-end $m " || qe_fail "vuproxy's -v log shows no relayed $m"
done
[ "$VUP_SESSIONS" -ge 1 ] || qe_fail "vuproxy counted no session ($VUP_SUMMARY)"
[ "$VUP_FAILED" = 0 ] || qe_fail "vuproxy ended with $VUP_FAILED failed session(s) ($VUP_SUMMARY)"

# --- verdict: the tap (--tap blk) ---
# Every request the device completed is captured or counted; the captured
# ones are the guest's reads of its disk, with sectors inside it, and the
# pattern write where it went.  (A passive tap cannot promise every one:
# the guest reuses a request's memory quickly; see README, "The tap".)
"$VUPROXY" dump --json "$TRACE" >"$W/dump.json" 2>"$W/dump.err" ||
	qe_fail "vuproxy dump could not read the trace: $(cat "$W/dump.err")"
TAPLINE=$(grep ' s1 tap q0: consumed ' "$VUP_LOG" | tail -1)
echo "tap: ${TAPLINE#* s1 }"
read -r C K M T B < <(echo "$TAPLINE" | sed -E \
	's/.*consumed ([0-9]+), captured ([0-9]+)( \([0-9]+ unverified\))?, missed ([0-9]+), torn ([0-9]+), malformed ([0-9]+).*/\1 \2 \4 \5 \6/')
[ -n "${B:-}" ] || qe_fail "vuproxy printed no tap counts for queue 0"
[ $((K + M + T + B)) = "$C" ] || qe_fail "captured + missed + torn + malformed != consumed ($TAPLINE)"
[ "$B" = 0 ] || qe_fail "$B requests of a real guest counted malformed"
NBLK=$(jq -s '[.[] | select(.type == "blk")] | length' "$W/dump.json")
NIN=$(jq -s '[.[] | select(.type == "blk" and .op == "IN" and .status == "OK")] | length' "$W/dump.json")
OUTSIDE=$(jq -s --argjson n "$SECTORS" '[.[] | select(.type == "blk" and (.op == "IN" or .op == "OUT")
	and (.sector + (.len / 512)) > $n)] | length' "$W/dump.json")
# The page cache writes the page holding $SECTOR: an OUT request covering it.
COVER='select(.type == "blk" and .op == "OUT" and .sector <= $s and $s < .sector + .len / 512)'
NOUT=$(jq -s --argjson s "$SECTOR" "[.[] | $COVER] | length" "$W/dump.json")
echo "tap: $NBLK blk records in the trace, $NIN successful reads, $NOUT writes covering sector $SECTOR"
[ "$NBLK" = "$K" ] || qe_fail "the trace holds $NBLK blk records, the tap says it captured $K"
[ "$NIN" -ge $((C / 2)) ] || qe_fail "only $NIN of $C requests are successful reads in the trace"
[ "$OUTSIDE" = 0 ] || qe_fail "$OUTSIDE captured requests lie outside the $SECTORS-sector disk"
if [ "$NOUT" -ge 1 ]; then
	# The write's data as the guest offered it holds the pattern at
	# $SECTOR's offset in the request (the Lua dissector gives the data).
	WSEC=$(jq -s --argjson s "$SECTOR" "[.[] | $COVER][0].sector" "$W/dump.json")
	tshark -X "lua_script:$(dirname "$0")/../../tools/wireshark/vuproxy.lua" -r "$TRACE" \
		-Y "vuproxy.blk.type == 1 && vuproxy.blk.sector == $WSEC" -T fields -e vuproxy.blk.data \
		>"$W/wdata.txt" 2>"$W/tshark.err" || qe_fail "tshark: $(cat "$W/tshark.err")"
	WHEX=$(head -1 "$W/wdata.txt" | tr -d ':' | cut -c $(((SECTOR - WSEC) * 1024 + 1))- |
		head -c $((${#PATTERN} * 2)))
	# shellcheck disable=SC2059 # the format is the decoded bytes
	WDATA=$(printf "$(sed 's/../\\x&/g' <<<"$WHEX")")
	[ "$WDATA" = "$PATTERN" ] ||
		qe_fail "the captured write of sector $WSEC holds '$WDATA' at sector $SECTOR, not $PATTERN"
else
	[ $((M + T)) -ge 1 ] || qe_fail "the pattern write is neither in the trace nor counted missed or torn"
	echo "note: the pattern write was not captured (counted missed or torn)"
fi

# --- verdict: no false alarm (vuproxy check), QEMU's known warnings:
# VU015 (GET_FEATURES before SET_OWNER), VU016 (SET_VRING_CALL before
# SET_FEATURES).
e2e_check_trace "$TRACE" VU015 VU016

NADD=$(grep -cE "$MSG front-end>back-end ADD_MEM_REG " "$VUP_LOG")
echo "timeline (host wall clock from QEMU start):"
# shellcheck disable=SC2154 # T_* are set by qe_milestone
printf '  %-26s +%s s\n' "guest /init running" "$T_init" "guest sees /dev/vda" "$T_blk" \
	"whole-disk dd done" "$T_read" "md5+write+readback done" "$T_readback" "guest powered off" "$T_off"
echo "guest: $READ"
echo "relayed: ADD_MEM_REG x$NADD, GET_CONFIG reply, SET_BACKEND_REQ_FD; $VUP_SUMMARY"
if [ -n "${BLK_SAVE:-}" ]; then
	cp -- "$TRACE" "$BLK_SAVE" || qe_fail "cannot copy the trace to $BLK_SAVE"
	echo "saved the recorded trace as $BLK_SAVE ($(stat -c %s "$BLK_SAVE") bytes)"
fi
echo "PASS: qemu_blk (${DISK_MB} MiB read with matching md5, pattern found at sector $SECTOR of the image, whole test $(since "$T_START") s)"
