#!/bin/bash
# dpdk_pair.sh FE_ROLE BE_ROLE RING [QUEUES] - DPDK testpmd net_virtio_user (front-end)
# <-> vuproxy <-> testpmd net_vhost (back-end), compared with the same pair
# connected directly.
#
#   FE_ROLE  listen | connect   vuproxy --frontend role (connect: virtio_user
#                               server=1 listens and vuproxy connects to it)
#   BE_ROLE  connect | listen   vuproxy --backend role (listen: net_vhost
#                               client=1 connects to vuproxy)
#   RING     split | packed     virtio_user packed_vq=0|1
#   QUEUES   1 (default) | 2    queue pairs on both sides (multiqueue:
#                               VIRTIO_NET_F_MQ, four rings)
#
# Environment: VUPROXY (required: the binary under test), E2E_TESTPMD
# (default dpdk-testpmd), E2E_TRAFFIC_SECS (default 2) and E2E_READY_TIMEOUT
# (default 30) in whole seconds, E2E_BE_CPU / E2E_FE_CPU (default 0 / 1),
# E2E_KEEP=1 keeps the logs of a passing run.
#
#   VUPROXY=build/vuproxy tests/e2e/dpdk_pair.sh listen connect split
#
# Two runs, one after the other:
#   direct   front-end and back-end on one socket, no proxy.  The front-end
#            keeps its socket role (fe listen = virtio_user client, fe
#            connect = virtio_user server=1) because the front-end decides
#            what is sent; so the back-end is the server iff FE_ROLE=listen.
#   proxied  front-end <-> vuproxy -v <-> back-end in the roles asked for.
# Each run must bring the link up (back-end logs "virtio is now ready for
# processing") and carry traffic (front-end txonly, back-end rxonly; the
# back-end's final RX-packets > 0).  Then:
# - the ordered list of vhost-user requests the back-end read (testpmd's
#   lib.vhost.config debug log, "read message VHOST_USER_...") through the
#   proxy is identical to the direct run's;
# - vuproxy -v logged as many front-end>back-end requests as the back-end
#   read;
# - vuproxy exited 0 on SIGINT and reported 0 failed sessions;
# - `vuproxy check` on its trace: no error-level finding, and the
#   warning DPDK is known for, VU016 (virtio_user sends SET_VRING_CALL
#   before SET_FEATURES).
# Nothing is skipped: a missing testpmd, a link that never comes up or zero
# packets fail the test.
set -eu

# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

usage() {
	echo "usage: VUPROXY=path/to/vuproxy $0 listen|connect connect|listen split|packed [1|2]" >&2
	exit 2
}
[ $# = 3 ] || [ $# = 4 ] || usage
FE_ROLE=$1 BE_ROLE=$2 RING=$3 QUEUES=${4:-1}
case $QUEUES in 1) MQ= ;; 2) MQ=_mq ;; *) usage ;; esac
case $FE_ROLE in listen | connect) ;; *) usage ;; esac
case $BE_ROLE in listen | connect) ;; *) usage ;; esac
case $RING in split) PACKED=0 ;; packed) PACKED=1 ;; *) usage ;; esac

TRAFFIC_SECS=${E2E_TRAFFIC_SECS:-2}
TESTPMD=${E2E_TESTPMD:-dpdk-testpmd}
READY_TIMEOUT=${E2E_READY_TIMEOUT:-30}
BE_CPU=${E2E_BE_CPU:-0}
FE_CPU=${E2E_FE_CPU:-1}
# Hard limit for every process: the slowest start we allow, the traffic,
# and the stop sequence, with room to spare on a loaded machine.
LIMIT=$((READY_TIMEOUT * 2 + TRAFFIC_SECS + 30))
READY_MSG="virtio is now ready for processing"

e2e_init "dpdk_pair_${FE_ROLE}_${BE_ROLE}_${RING}$MQ"
e2e_need_cmd "$TESTPMD" timeout awk diff
[ -n "${VUPROXY:-}" ] || e2e_fail "VUPROXY is not set (path of the vuproxy binary under test)"
[ -x "$VUPROXY" ] || e2e_fail "VUPROXY=$VUPROXY is not an executable file"

# EAL's runtime directory (/var/run/dpdk/PREFIX for root) must be unique per
# process: others run testpmd on this machine at the same time.  The scratch
# directory's random suffix makes the prefixes unique.
PREFIX_BASE="vupe2e-${E2E_DIR##*.}-$$"
if [ "$(id -u)" = 0 ]; then
	DPDK_RUNDIR=/var/run/dpdk
else
	DPDK_RUNDIR=${XDG_RUNTIME_DIR:-/tmp}/dpdk
fi

# testpmd common arguments.  --no-huge: EAL memory is a memfd that
# virtio_user can pass in SET_MEM_TABLE, no hugepages needed.  The main and
# forwarding lcore share one CPU (the main lcore only sleeps), so each
# testpmd busy-polls exactly one of the machine's cores.  --stats-period
# keeps testpmd running without a terminal until SIGINT; the default mbuf
# pool does not fit in -m 512.
EAL_COMMON=(--no-pci --no-huge -m 512)
TP_COMMON=(--stats-period=1 --nb-cores=1 --total-num-mbufs=16384)
[ "$QUEUES" = 1 ] || TP_COMMON+=(--rxq="$QUEUES" --txq="$QUEUES")

# start_be NAME SOCKET CLIENT(0|1)
start_be() {
	local vdev="net_vhost0,iface=$2,queues=$QUEUES"
	[ "$3" = 0 ] || vdev="$vdev,client=1"
	e2e_on_exit rm -rf -- "$DPDK_RUNDIR/$PREFIX_BASE-$1"
	e2e_start "$1" "$LIMIT" "$TESTPMD" --lcores "0@$BE_CPU,1@$BE_CPU" \
		"${EAL_COMMON[@]}" --file-prefix="$PREFIX_BASE-$1" \
		--vdev "$vdev" --log-level=lib.vhost.config:debug \
		-- "${TP_COMMON[@]}" --forward-mode=rxonly
}

# start_fe NAME SOCKET SERVER(0|1)
start_fe() {
	local vdev="net_virtio_user0,path=$2,queues=$QUEUES,packed_vq=$PACKED,mrg_rxbuf=1,in_order=1"
	[ "$3" = 0 ] || vdev="$vdev,server=1"
	e2e_on_exit rm -rf -- "$DPDK_RUNDIR/$PREFIX_BASE-$1"
	e2e_start "$1" "$LIMIT" "$TESTPMD" --lcores "0@$FE_CPU,1@$FE_CPU" \
		"${EAL_COMMON[@]}" --file-prefix="$PREFIX_BASE-$1" \
		--vdev "$vdev" --log-level='pmd.net.virtio.*:info' \
		-- "${TP_COMMON[@]}" --forward-mode=txonly
}

# Seconds elapsed since T0 (an e2e_elapsed value).
since() { awk -v a="$(e2e_elapsed)" -v b="$1" 'BEGIN { printf "%.2f", a - b }'; }

# On failure, show testpmd logs without the statistics block it prints
# every second: it would push the interesting lines (vhost-user messages,
# errors) out of the tail.  The block runs from "Port statistics" to a line
# of only '#'.
e2e_log_filter() {
	awk '/Port statistics =/ { skip = 1; next }
	     skip && /^ *#+ *$/ { skip = 0; next }
	     !skip && NF'
}

# The link is up when the back-end of RUN logs READY_MSG.  A testpmd whose
# vdev probe failed (e.g. virtio_user found no socket) keeps running with
# no port at all: fail at once rather than wait out the timeout.
link_up() { # RUN
	local n
	for n in "$1-be" "$1-fe"; do
		! e2e_log_has "$n" "vdev_probe(): failed" ||
			e2e_fail "$n: testpmd could not create its port (vdev probe failed, see $n.log)"
	done
	e2e_log_has "$1-be" "$READY_MSG"
}

wait_listening() { # WHO PATH
	e2e_wait "$READY_TIMEOUT" "$1 to listen on $2" e2e_unix_listening "$2"
}

# The vhost-user requests the back-end NAME read, in order, one per line.
be_requests() {
	grep -o 'read message VHOST_USER_[A-Z0-9_]*' "$E2E_DIR/$1.log" |
		sed 's/^read message //' || true
}

# RX-packets from testpmd's final "Accumulated forward statistics" block
# (empty if testpmd never printed it, e.g. because it was killed).
final_rx_packets() {
	sed 's/\x1b\[[0-9;]*[A-Za-z]//g' "$E2E_DIR/$1.log" |
		awk '/Accumulated forward statistics/ { acc = 1; next }
		     acc && $1 == "RX-packets:" { n = $2; acc = 0 }
		     END { if (n != "") print n }'
}
final_tx_packets() {
	sed 's/\x1b\[[0-9;]*[A-Za-z]//g' "$E2E_DIR/$1.log" |
		awk '/Accumulated forward statistics/ { acc = 1; next }
		     acc && $1 == "TX-packets:" { n = $2; acc = 0 }
		     END { if (n != "") print n }'
}

expect_rc0() { # NAME
	[ "${E2E_RC[$1]}" = 0 ] || e2e_fail "$1 exited with status ${E2E_RC[$1]}, expected 0"
}

# Traffic, then stop the front-end first: its shutdown requests
# (SET_VRING_ENABLE 0, GET_VRING_BASE) are part of the compared sequence
# and it only exits once the back-end has answered them.
traffic_and_stop_fe() { # RUN
	sleep "$TRAFFIC_SECS"
	e2e_alive "$1-fe" || e2e_fail "$1-fe exited during the traffic phase"
	e2e_alive "$1-be" || e2e_fail "$1-be exited during the traffic phase"
	e2e_stop "$1-fe" 20
	expect_rc0 "$1-fe"
}

# Stop the back-end and check the link came up and packets arrived.
stop_be_and_check() { # RUN
	local rx tx
	e2e_stop "$1-be" 20
	expect_rc0 "$1-be"
	rx=$(final_rx_packets "$1-be")
	tx=$(final_tx_packets "$1-fe")
	[ -n "$rx" ] || e2e_fail "$1: no final statistics in the back-end log"
	[ "$rx" -gt 0 ] || e2e_fail "$1: back-end received no packets (RX-packets: $rx)"
	be_requests "$1-be" >"$E2E_DIR/$1-requests.txt"
	[ -s "$E2E_DIR/$1-requests.txt" ] ||
		e2e_fail "$1: the back-end logged no 'read message VHOST_USER_' lines"
	e2e_log "$1: back-end read $(wc -l <"$E2E_DIR/$1-requests.txt") requests;" \
		"front-end TX-packets ${tx:-?}, back-end RX-packets $rx"
}

run_direct() {
	local sock="$E2E_DIR/direct.sock" t0
	e2e_check_sun_path "$sock"
	e2e_log "direct run: virtio_user $([ "$FE_ROLE" = listen ] && echo client || echo server=1)," \
		"net_vhost $([ "$FE_ROLE" = listen ] && echo server || echo client=1), $RING ring"
	if [ "$FE_ROLE" = listen ]; then
		start_be direct-be "$sock" 0
		wait_listening direct-be "$sock"
		t0=$(e2e_elapsed)
		start_fe direct-fe "$sock" 0
	else
		start_fe direct-fe "$sock" 1
		wait_listening direct-fe "$sock"
		t0=$(e2e_elapsed)
		start_be direct-be "$sock" 1
	fi
	e2e_wait "$READY_TIMEOUT" "'$READY_MSG' in direct-be.log" link_up direct
	e2e_log "direct: link up $(since "$t0")s after the second peer started"
	traffic_and_stop_fe direct
	stop_be_and_check direct
}

# The control socket while the pair runs: the session is up with the
# features the front-end acked (its SET_FEATURES in vuproxy's -v log),
# and show lists the vrings the front-end started.
check_ctl() {
	local ctl="$E2E_DIR/vuproxy.ctl" acked
	"$VUPROXY" ctl "$ctl" sessions >"$E2E_DIR/ctl-sessions.txt" ||
		e2e_fail "vuproxy ctl sessions failed: $(cat "$E2E_DIR/ctl-sessions.txt")"
	"$VUPROXY" ctl "$ctl" show 1 >"$E2E_DIR/ctl-show.txt" ||
		e2e_fail "vuproxy ctl show 1 failed: $(cat "$E2E_DIR/ctl-show.txt")"
	acked=$(sed -n 's/.*front-end>back-end SET_FEATURES .*\(0x[0-9a-f]*\).*/\1/p' \
		"$E2E_DIR/vuproxy.log" | tail -n 1)
	[ -n "$acked" ] || e2e_fail "no SET_FEATURES in vuproxy's -v log"
	grep -Eq "^1 +up +[0-9]+ +$acked " "$E2E_DIR/ctl-sessions.txt" ||
		e2e_fail "ctl sessions does not show session 1 up with features $acked: $(cat "$E2E_DIR/ctl-sessions.txt")"
	grep -Eq "^  1 +[0-9]+ +started " "$E2E_DIR/ctl-show.txt" ||
		e2e_fail "ctl show 1 lists no started vring 1: $(cat "$E2E_DIR/ctl-show.txt")"
	e2e_log "ctl: session 1 up, features $acked, vrings started"
}

run_proxied() {
	local fesock="$E2E_DIR/fe.sock" besock="$E2E_DIR/be.sock" t0
	e2e_check_sun_path "$fesock"
	e2e_check_sun_path "$besock"
	e2e_log "proxied run: vuproxy --frontend $FE_ROLE --backend $BE_ROLE, $RING ring"
	# Listening peers first, then vuproxy, then the connecting peers: a
	# virtio_user client whose connect fails gives up, it does not retry.
	[ "$BE_ROLE" = listen ] || start_be proxy-be "$besock" 0
	[ "$FE_ROLE" = listen ] || start_fe proxy-fe "$fesock" 1
	[ "$BE_ROLE" = listen ] || wait_listening proxy-be "$besock"
	[ "$FE_ROLE" = listen ] || wait_listening proxy-fe "$fesock"
	e2e_start vuproxy "$LIMIT" "$VUPROXY" -v -w "$E2E_DIR/trace.pcapng.gz" \
		--frontend "$FE_ROLE:$fesock" --backend "$BE_ROLE:$besock" \
		--control "$E2E_DIR/vuproxy.ctl"
	[ "$FE_ROLE" = connect ] || wait_listening vuproxy "$fesock"
	[ "$BE_ROLE" = connect ] || wait_listening vuproxy "$besock"
	t0=$(e2e_elapsed)
	# listen/listen: the back-end connects first and waits in vuproxy for
	# a front-end, the order in which a VM would normally come up.
	if [ "$BE_ROLE" = listen ]; then
		start_be proxy-be "$besock" 1
		[ "$FE_ROLE" = connect ] ||
			e2e_wait "$READY_TIMEOUT" "vuproxy to accept the back-end" \
				e2e_log_has vuproxy "back-end accepted on $besock"
	fi
	[ "$FE_ROLE" = connect ] || start_fe proxy-fe "$fesock" 0
	e2e_wait "$READY_TIMEOUT" "'$READY_MSG' in proxy-be.log" link_up proxy
	e2e_log "proxied: link up $(since "$t0")s after vuproxy's listeners were ready"
	check_ctl
	traffic_and_stop_fe proxy
	# vuproxy must notice the front-end's hang-up and end the session.
	e2e_wait 10 "vuproxy to close the session after the front-end exited" \
		e2e_log_has vuproxy " closed: "
	e2e_stop vuproxy 10
	expect_rc0 vuproxy
	stop_be_and_check proxy
}

# On any failure after the direct run, show how far the proxied back-end
# got compared with the direct one: where the sequences part is usually
# the first clue.
explain_failure() {
	[ -s "$E2E_DIR/direct-requests.txt" ] && [ -e "$E2E_DIR/proxy-be.log" ] || return 0
	be_requests proxy-be >"$E2E_DIR/proxy-requests-partial.txt"
	echo "vhost-user requests read by the back-end, direct run vs proxied run:"
	diff -u --label direct "$E2E_DIR/direct-requests.txt" --label proxied \
		"$E2E_DIR/proxy-requests-partial.txt" && echo "(identical)"
}
e2e_on_fail explain_failure

run_direct
run_proxied

# 1. The back-end saw exactly the same requests, in the same order.
if ! diff -u --label direct "$E2E_DIR/direct-requests.txt" \
	--label proxied "$E2E_DIR/proxy-requests.txt" >"$E2E_DIR/requests.diff"; then
	cat "$E2E_DIR/requests.diff" >&2
	e2e_fail "the back-end read a different request sequence through vuproxy than directly (diff above: - direct, + proxied)"
fi
nreq=$(wc -l <"$E2E_DIR/proxy-requests.txt")
e2e_log "request sequences identical ($nreq requests): $(tr '\n' ' ' <"$E2E_DIR/proxy-requests.txt")"

# 2. vuproxy's -v log: one "front-end>back-end NAME" line per request on the
# main channel (not replies, not [backend-channel] traffic).
awk '$3 == "front-end>back-end" && $4 !~ /^\[/ && $5 != "reply" { print $4 }' \
	"$E2E_DIR/vuproxy.log" >"$E2E_DIR/vuproxy-requests.txt"
nproxy=$(wc -l <"$E2E_DIR/vuproxy-requests.txt")
if [ "$nproxy" != "$nreq" ]; then
	sed 's/^VHOST_USER_//' "$E2E_DIR/proxy-requests.txt" |
		diff -u --label back-end-read - --label vuproxy-logged \
			"$E2E_DIR/vuproxy-requests.txt" >&2 || true
	e2e_fail "vuproxy -v logged $nproxy front-end>back-end requests, the back-end read $nreq"
fi

# 3. vuproxy's summary line: no failed session, no refused connection.
summary=$(grep '^vuproxy: .* sessions (' "$E2E_DIR/vuproxy.log" | tail -n 1 || true)
[ -n "$summary" ] || e2e_fail "vuproxy printed no summary line on SIGINT"
e2e_log "$summary"
case $summary in
*" sessions (0 failed), "*) ;;
*) e2e_fail "vuproxy reported failed sessions: $summary" ;;
esac
case $summary in
"vuproxy: 0 sessions"*) e2e_fail "vuproxy reported no session at all: $summary" ;;
esac
case $summary in
*", 0 connections refused") ;;
*) e2e_fail "vuproxy refused connections: $summary" ;;
esac

# 4. No false alarm: vuproxy check on the trace, DPDK's known warning.
e2e_check_trace "$E2E_DIR/trace.pcapng.gz" VU016

e2e_log "PASS"
