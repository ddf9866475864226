#!/bin/bash
# qsd_replay.sh CAPTURE - `vuproxy replay --as front-end` of a recorded
# QEMU vhost-user-blk session (captures/qemu-blk.pcapng.gz) against a
# fresh qemu-storage-daemon: a capture from a live VM as a test of a
# storage back-end, without the VM.
#
#   1. a disk of the recorded size (the capture's GET_CONFIG says 2048
#      sectors): exit 0, "identical", and every request was sent (the
#      memory region by ADD_MEM_REG, the back-end channel, the vrings).
#      The recorded GET_VRING_BASE answers (num=1, num=20: the guest's
#      I/O moved the ring) are not what is expected: a replay moves
#      nothing, and the answer must be the base the replay set (0);
#   2. a disk twice as large: exit 1, and only the GET_CONFIG reply
#      differs, from byte 1 on (virtio-blk's capacity, a u64 at offset 0
#      of the device config: 2048 = 0x800 -> 4096 = 0x1000 sectors), as
#      a back-end that changed would show.
#
# Environment: VUPROXY (the binary under test).  A missing
# qemu-storage-daemon fails; nothing is skipped.
set -eu

# shellcheck source=../e2e/lib.sh
. "$(dirname "$0")/../e2e/lib.sh"

[ $# = 1 ] || { echo "usage: VUPROXY=path/to/vuproxy $0 CAPTURE" >&2; exit 2; }
CAPTURE=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
: "${VUPROXY:?set VUPROXY to the vuproxy binary}"
e2e_init qsd_replay
e2e_need_cmd qemu-storage-daemon timeout grep
[ -r "$CAPTURE" ] || e2e_fail "cannot read $CAPTURE"

# qsd NAME SECTORS: a qemu-storage-daemon exporting a disk of SECTORS
# 512-byte sectors on $E2E_DIR/NAME.sock, listening.
qsd() {
	local img=$E2E_DIR/$1.img sock=$E2E_DIR/$1.sock
	head -c $(($2 * 512)) /dev/zero >"$img"
	e2e_start "$1" 60 qemu-storage-daemon \
		--blockdev "driver=file,node-name=file0,filename=$img" \
		--blockdev driver=raw,node-name=disk0,file=file0 \
		--export "type=vhost-user-blk,id=exp0,node-name=disk0,addr.type=unix,addr.path=$sock,writable=on"
	e2e_wait 30 "$1 to listen" e2e_unix_listening "$sock"
}

# replay NAME LOG [ARGS...]: replay the capture against NAME's socket;
# its output in $E2E_DIR/LOG.log, its exit status in RC.
replay() {
	local sock=$E2E_DIR/$1.sock log=$E2E_DIR/$2.log
	shift 2
	RC=0
	timeout -k 5 60 "$VUPROXY" replay "$CAPTURE" --as front-end \
		--backend "connect:$sock" "$@" >"$log" 2>&1 || RC=$?
	e2e_log "replay $*: exit $RC, $(tail -n 1 "$log")"
}

# differences LOG: the lines naming a difference, "#N REQUEST reply: ..."
differences() { grep -E '^#[0-9]+ ' "$E2E_DIR/$1.log" || true; }

qsd same 2048
replay same plain
[ "$RC" = 0 ] || e2e_fail "replay against a disk of the recorded size: exit $RC, expected 0: $(differences plain | tr '\n' ';')"
grep -q ' 0 differences: identical$' "$E2E_DIR/plain.log" || e2e_fail "replay exit 0 without saying identical"
sent=$(sed -n 's/.*: \([0-9]*\) messages sent.*/\1/p' "$E2E_DIR/plain.log")
want=$("$VUPROXY" dump --json "$CAPTURE" | grep -c '"from":"front-end".*"reply":false' || true)
[ -n "$sent" ] && [ "$sent" = "$want" ] ||
	e2e_fail "replay sent ${sent:-?} messages, the capture's front-end sent $want requests"
# The recorded answers are not the bases set: this run tells them apart.
recorded=$("$VUPROXY" dump "$CAPTURE" | grep -oE 'GET_VRING_BASE reply index=[0-9]+ num=[0-9]+' | sed 's/.* //' | tr '\n' ' ')
[ -n "$recorded" ] || e2e_fail "no GET_VRING_BASE answer in $CAPTURE"
case " $recorded" in
*" num=0 "*) e2e_fail "a recorded GET_VRING_BASE answer is num=0 ($recorded): the capture cannot tell the base set from the recorded one" ;;
esac
e2e_log "recorded GET_VRING_BASE answers: $recorded; expected and answered: the bases set"
e2e_stop same

qsd larger 4096
replay larger larger
[ "$RC" = 1 ] || e2e_fail "replay against a larger disk: exit $RC, expected 1"
differences larger | grep -q ' GET_CONFIG reply: data differs from byte 1$' ||
	e2e_fail "the larger disk's GET_CONFIG capacity is not named: $(differences larger | tr '\n' ';')"
[ "$(differences larger | wc -l)" = 1 ] ||
	e2e_fail "differences other than GET_CONFIG: $(differences larger | tr '\n' ';')"
e2e_log "$(differences larger | grep GET_CONFIG)"
e2e_stop larger
e2e_log "PASS"
