#!/bin/bash
# qemu_fail_get_config.sh - rules/fail-get-config.yaml between QEMU 7.2
# (vhost-user-blk-pci, the front-end) and qemu-storage-daemon (a
# vhost-user-blk back-end exporting a raw image).
#
# Control: the same QEMU command through vuproxy without rules realizes
# the device: the back-end's GET_CONFIG reply (the virtio-blk config)
# reaches QEMU, which then keeps running (paused with -S: no guest code
# runs, realize is all we look at) with nothing on stderr.
# With the rules: vuproxy answers every GET_CONFIG itself with the error
# form, a reply of size 0, and never forwards the request.  QEMU says
# "Received bad msg size.", reconnects three times ("Reconnecting after
# error"), gets the same answer each time and exits with status 1: the
# device is not realized.  The trace of each of the 4 sessions holds the
# GET_CONFIG request (action fail, rule fail-get-config) and the 0-byte
# reply vuproxy made (from the back-end's side, as sent, action fail),
# and no GET_CONFIG reply from the back-end; qemu-storage-daemon keeps
# serving; vuproxy ends with 4 sessions, 0 failed; `vuproxy check` on
# the trace finds exactly what the rules file predicts ("# check:"), and
# on the control trace no error.
#
# Needs qemu-system-x86_64 and qemu-storage-daemon (Debian:
# qemu-system-x86, qemu-system-common); missing ones fail the test.
# Environment: see rlib.sh (VUPROXY, RULES_DIR, E2E_KEEP...).
# shellcheck disable=SC2015 # a && b || e2e_fail: e2e_fail is the else
set -eu
# shellcheck source=rlib.sh
. "$(dirname "$0")/rlib.sh"

rx_init rules_fail_get_config qemu-system-x86_64 qemu-storage-daemon truncate
RULES=$(rx_rules fail-get-config)
rx_check_rules "$RULES"
RX_BE_SOCK=$E2E_DIR/blk.sock
IMG=$E2E_DIR/disk.img
truncate -s 16M "$IMG"

e2e_check_sun_path "$RX_BE_SOCK"
e2e_start qsd "$LIMIT" qemu-storage-daemon \
	--blockdev "driver=file,node-name=file0,filename=$IMG" \
	--blockdev driver=raw,node-name=disk0,file=file0 \
	--export "type=vhost-user-blk,id=exp0,node-name=disk0,addr.type=unix,addr.path=$RX_BE_SOCK,writable=on"
e2e_wait 30 "qemu-storage-daemon to listen" e2e_unix_listening "$RX_BE_SOCK"

# qemu NAME VUPROXY_NAME: QEMU paused (-S) with a vhost-user-blk-pci on
# vuproxy's front-end socket.  Guest memory must be shareable; vectors=0
# avoids QEMU 7.2's TCG + vhost-user crash at DRIVER_OK.
qemu() {
	e2e_start "$1" 60 qemu-system-x86_64 -accel tcg -M q35 -m 256M -S \
		-nodefaults -no-user-config -display none -serial none -no-reboot \
		-object memory-backend-memfd,id=mem,size=256M,share=on -numa node,memdev=mem \
		-chardev "socket,id=c1,path=$E2E_DIR/$2-fe.sock" \
		-device vhost-user-blk-pci,chardev=c1,num-queues=1,vectors=0
}

# --- control: no rules, the device is realized ---
rx_vuproxy vp0 - "$E2E_DIR/control.pcapng.gz"
qemu q0 vp0
e2e_wait 30 "the back-end's GET_CONFIG reply to reach QEMU" \
	e2e_log_has vp0 "back-end>front-end GET_CONFIG reply"
sleep 1
e2e_alive q0 || e2e_fail "without rules QEMU exited: $(cat "$E2E_DIR/q0.log")"
[ ! -s "$E2E_DIR/q0.log" ] || e2e_fail "without rules QEMU complained: $(cat "$E2E_DIR/q0.log")"
grep -q "back-end>front-end GET_CONFIG reply .*(69 B, 0 fds)" "$E2E_DIR/vp0.log" ||
	e2e_fail "the back-end's GET_CONFIG reply is not 12 + 57 bytes of virtio-blk config"
e2e_stop q0 10
rx_stop_vuproxy vp0
e2e_log "control: QEMU realized vhost-user-blk-pci (GET_CONFIG answered by the back-end)"

# --- with rules/fail-get-config.yaml ---
rx_vuproxy vp "$RULES" "$E2E_DIR/trace.pcapng.gz"
qemu q vp
RX_WATCH="vp qsd"
rx_wait 30 "QEMU to give up realizing the device" eval '! e2e_alive q'
RX_WATCH=
e2e_stop q 5
e2e_log "QEMU exited with status ${E2E_RC[q]}: $(tr '\n' '|' <"$E2E_DIR/q.log")"
[ "${E2E_RC[q]}" = 1 ] || e2e_fail "QEMU exited with status ${E2E_RC[q]}, expected 1 (device not realized)"
n=$(grep -c "vhost-user-blk-pci.*Reconnecting after error: Received bad msg size\." "$E2E_DIR/q.log" || true)
[ "$n" = 3 ] || e2e_fail "QEMU reported 'Reconnecting after error: Received bad msg size.' $n times, expected 3"
tail -n 1 "$E2E_DIR/q.log" | grep -q "vhost-user-blk-pci.*: Received bad msg size\.$" ||
	e2e_fail "QEMU's last word is not the final 'Received bad msg size.': $(tail -n 1 "$E2E_DIR/q.log")"
e2e_wait 10 "vuproxy to close session 4" e2e_log_has vp "s4 closed: "
e2e_alive qsd || e2e_fail "qemu-storage-daemon exited"
rx_stop_vuproxy vp
rx_summary_ok vp
grep -q '^vuproxy: 4 sessions (0 failed)' "$E2E_DIR/vp.log" ||
	e2e_fail "expected 4 sessions (QEMU's 3 reconnections): $(grep '^vuproxy: .* sessions' "$E2E_DIR/vp.log")"
n=$(grep -c "front-end>back-end GET_CONFIG .*\[fail: rule fail-get-config\]" "$E2E_DIR/vp.log" || true)
m=$(grep -c "back-end>front-end GET_CONFIG reply (0 B, 0 fds) \[made by vuproxy\]" "$E2E_DIR/vp.log" || true)
[ "$n" = 4 ] && [ "$m" = 4 ] ||
	e2e_fail "vuproxy -v: $n GET_CONFIG failed by the rule and $m empty replies made by vuproxy, expected 4 and 4"

rx_dump "$E2E_DIR/trace.json" "$E2E_DIR/trace.pcapng.gz"
jq -r 'select(.request == "GET_CONFIG") | "\(.session) \(.from) \(.reply) \(.size) \(.action) \(.rule) \(.as_sent)"' \
	"$E2E_DIR/trace.json" >"$E2E_DIR/get-config.txt"
for s in 1 2 3 4; do
	echo "$s front-end false 69 fail fail-get-config false"
	echo "$s back-end true 0 fail fail-get-config true"
done >"$E2E_DIR/expected.txt"
diff -u --label expected "$E2E_DIR/expected.txt" --label trace "$E2E_DIR/get-config.txt" >&2 ||
	e2e_fail "the GET_CONFIG records of the trace (session from reply size action rule as_sent) are not the expected ones (diff above)"
# `vuproxy check`: exactly the findings the rules file predicts; without
# the rule, no error and QEMU's known negotiation before SET_OWNER.
e2e_check_predicted "$E2E_DIR/trace.pcapng.gz" "$RULES"
e2e_check_trace "$E2E_DIR/control.pcapng.gz" VU015
e2e_stop qsd 10
e2e_log "PASS"
