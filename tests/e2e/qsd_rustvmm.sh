#!/bin/bash
# qsd_rustvmm.sh - a rust-vmm front-end (Cloud Hypervisor, Firecracker)
# and qemu-storage-daemon work together through vuproxy, as they do
# directly.
#
# rust-vmm's Frontend sets NEED_REPLY on every request once REPLY_ACK is
# negotiated; qemu-storage-daemon's libvhost-user copies the request's
# flags into its replies, so GET_FEATURES, GET_CONFIG and GET_VRING_BASE
# are answered with flags 0xd, which rust-vmm accepts.  rustvmm_fe.c
# plays that front-end against a real qemu-storage-daemon:
#   1. directly: every reply comes, the three with flags 0xd (the pair
#      works, and the daemon does echo);
#   2. through vuproxy (-w): the same, exit 0; vuproxy logs one warning
#      line for the kind, ending in "relayed", counts the rest and tells
#      the count when the session ends, no error; the trace marks every
#      reply that carries NEED_REPLY, and no other message;
#   3. through vuproxy --strict: the first such reply is refused, the
#      front-end sees the connection close, one error line.
# Env: VUPROXY, RUSTVMM_FE.  A missing qemu-storage-daemon fails.
set -eu
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
: "${VUPROXY:?set VUPROXY}" "${RUSTVMM_FE:?set RUSTVMM_FE}"
e2e_init qsd_rustvmm
e2e_need_cmd qemu-storage-daemon timeout grep jq

IMG=$E2E_DIR/disk.img
QSD_SOCK=$E2E_DIR/qsd.sock
head -c $((1 << 20)) /dev/zero >"$IMG"
e2e_start qsd 120 qemu-storage-daemon \
	--blockdev "driver=file,node-name=file0,filename=$IMG" \
	--blockdev driver=raw,node-name=disk0,file=file0 \
	--export "type=vhost-user-blk,id=exp0,node-name=disk0,addr.type=unix,addr.path=$QSD_SOCK,writable=on"
e2e_wait 30 "qemu-storage-daemon to listen" e2e_unix_listening "$QSD_SOCK"

# fe NAME SOCKET: run the front-end; its output in NAME.log, status in RC.
fe() {
	RC=0
	timeout -k 2 30 "$RUSTVMM_FE" "$2" >"$E2E_DIR/$1.log" 2>&1 || RC=$?
	e2e_log "$1: exit $RC: $(tr '\n' ';' <"$E2E_DIR/$1.log")"
}
echoed() {
	local r
	for r in GET_FEATURES GET_CONFIG GET_VRING_BASE; do
		grep -q "^$r reply flags 0xd " "$E2E_DIR/$1.log" ||
			e2e_fail "$1: no $r reply with flags 0xd: $(cat "$E2E_DIR/$1.log")"
	done
}

fe direct "$QSD_SOCK"
[ "$RC" = 0 ] || e2e_fail "rust-vmm front-end and qemu-storage-daemon directly: exit $RC"
echoed direct

TRACE=$E2E_DIR/trace.pcapng.gz
e2e_start vuproxy 60 "$VUPROXY" --frontend "listen:$E2E_DIR/fe.sock" \
	--backend "connect:$QSD_SOCK" -w "$TRACE"
e2e_wait 10 "vuproxy to listen" e2e_unix_listening "$E2E_DIR/fe.sock"
fe proxied "$E2E_DIR/fe.sock"
[ "$RC" = 0 ] || e2e_fail "through vuproxy: exit $RC (directly: 0)"
echoed proxied
e2e_wait 10 "the session to end" e2e_log_has vuproxy "s1 closed"
e2e_stop vuproxy
log=$E2E_DIR/vuproxy.log
! grep -q 'error:' "$log" || e2e_fail "vuproxy logged an error: $(grep error: "$log")"
n=$(grep -c 'warning: s1 back-end>front-end .* reply: NEED_REPLY set on a reply (flags 0xd); relayed$' "$log" || true)
[ "$n" = 1 ] || e2e_fail "$n warning lines for NEED_REPLY on a reply, want 1 (rate-limited): $(grep warning: "$log")"
grep -q 'warning: s1 [0-9]* more need-reply-on-reply since the last such line; relayed' "$log" ||
	e2e_fail "no line counting the warnings held back: $(grep warning: "$log")"
"$VUPROXY" dump --json "$TRACE" >"$E2E_DIR/dump.json" || e2e_fail "dump exit $?"
bad=$(jq -r 'select(.type == "control") |
	select((((.flags / 8) | floor) % 2 == 1 and .reply) != ((.mark // "") | startswith("need-reply-on-reply"))) |
	"\(.request) reply=\(.reply) flags=\(.flags) mark=\(.mark)"' "$E2E_DIR/dump.json")
[ -z "$bad" ] || e2e_fail "marks on the wrong messages: $bad"
marked=$(jq -r 'select(.mark) | .request' "$E2E_DIR/dump.json" | sort | uniq -c | tr -s ' \n' ' ')
for r in GET_FEATURES GET_CONFIG GET_VRING_BASE; do
	[ "$(jq -s --arg r "$r" 'map(select(.request == $r and .reply and .mark)) | length' "$E2E_DIR/dump.json")" = 1 ] ||
		e2e_fail "the $r reply is not marked in the trace"
done
e2e_log "proxied: exit 0, one warning line, trace marks:$marked"
# `vuproxy check` warns of the echoed flags (VU004: this rust-vmm
# front-end accepts them; QEMU would not, but never sets NEED_REPLY where
# libvhost-user echoes it): exactly the three replies; the NEED_REPLY
# rust-vmm sets on the three requests answered anyway (VU038); and the
# negotiation before SET_OWNER (VU015) that rust-vmm sends like QEMU;
# nothing else, and no error: the two work together.
e2e_check_run "$TRACE"
want="VU004 x3, VU015 x1, VU038 x3"
[ "$E2E_CHECK_RC" = 0 ] && [ "$E2E_CHECK_FOUND" = "$want" ] ||
	e2e_fail "vuproxy check: exit $E2E_CHECK_RC, findings '$E2E_CHECK_FOUND'; want 0, '$want'"

e2e_start strict 60 "$VUPROXY" --frontend "listen:$E2E_DIR/fe2.sock" \
	--backend "connect:$QSD_SOCK" --strict
e2e_wait 10 "vuproxy --strict to listen" e2e_unix_listening "$E2E_DIR/fe2.sock"
fe strict_fe "$E2E_DIR/fe2.sock"
[ "$RC" = 1 ] || e2e_fail "through vuproxy --strict: exit $RC, want 1"
grep -q 'no reply to GET_FEATURES (the connection closed)' "$E2E_DIR/strict_fe.log" ||
	e2e_fail "--strict: the front-end did not see the close at the first echoed reply"
e2e_wait 10 "the refusal" e2e_log_has strict "error: s1 back-end>front-end GET_FEATURES (--strict): NEED_REPLY set on a reply (flags 0xd); closing session"
e2e_stop strict
e2e_log "PASS: directly and through vuproxy the pair works; --strict refuses the first echoed reply"
