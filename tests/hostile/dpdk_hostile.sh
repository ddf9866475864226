#!/bin/bash
# dpdk_hostile.sh - the hostile suite against a vuproxy that carries a real
# DPDK session meanwhile, then the DPDK peers SIGKILLed in turn.
#
#   testpmd net_virtio_user (front-end, txonly)
#       -> vuproxy --frontend listen --backend listen -w TRACE
#       -> testpmd net_vhost client=1 (back-end, rxonly)
#
# Why listen/listen: vuproxy has one front-end listener, and with
# --backend connect every front-end connection would make vuproxy dial
# testpmd, which serves one device per socket: the hostile back-end cases
# could not be scripted at all, and hostile front-end cases would reach
# testpmd.  With --backend listen, testpmd (client=1) connects to vuproxy
# once and its session (s1) stays up; each scripted session connects its
# own back-end to vuproxy's back-end listener and its front-end to the
# front-end listener, and vuproxy pairs them.  So the same vuproxy
# process, the same listeners, the same trace serve the DPDK session and
# every hostile session, and no hostile byte ever reaches testpmd.
#
# 1. hostile_cases and hostile_timing run in external mode (HOSTILE_*
#    variables name this vuproxy).  Meanwhile the DPDK session must stay
#    up (vuproxy never closes s1, testpmd never logs "vhost peer closed")
#    and the back-end's RX-packets, printed every second, must rise at
#    every print.
# 2. SIGKILL the front-end testpmd: vuproxy closes s1's back-end side
#    (testpmd logs "vhost peer closed"), testpmd reconnects to vuproxy, a
#    new front-end brings the link up again and packets flow.
# 3. SIGKILL the back-end testpmd: vuproxy closes that session's front-end
#    side; a new back-end and front-end bring the link up again.
# 4. vuproxy stops on SIGINT with status 0; the trace of the first DPDK
#    session holds every request the back-end read before the kill.
#
# Environment: VUPROXY, HOSTILE_CASES_BIN, HOSTILE_TIMING_BIN (the
# programs), E2E_TESTPMD (default dpdk-testpmd), E2E_BE_CPU / E2E_FE_CPU
# (default 0 / 1), E2E_KEEP=1.  No testpmd means failure, not a skip.
set -eu

# shellcheck source=../e2e/lib.sh
. "$(dirname "$0")/../e2e/lib.sh"

TESTPMD=${E2E_TESTPMD:-dpdk-testpmd}
BE_CPU=${E2E_BE_CPU:-0}
FE_CPU=${E2E_FE_CPU:-1}
LIMIT=240
READY_MSG="virtio is now ready for processing"

e2e_init hostile_dpdk
e2e_need_cmd "$TESTPMD" timeout awk sed jq
for v in VUPROXY HOSTILE_CASES_BIN HOSTILE_TIMING_BIN; do
	[ -n "${!v:-}" ] || e2e_fail "$v is not set"
	[ -x "${!v}" ] || e2e_fail "$v=${!v} is not an executable file"
done

FE_SOCK=$E2E_DIR/fe.sock
BE_SOCK=$E2E_DIR/be.sock
TRACE=$E2E_DIR/trace.pcapng.gz
e2e_check_sun_path "$BE_SOCK"
PREFIX="vuphostile-${E2E_DIR##*.}-$$"
if [ "$(id -u)" = 0 ]; then
	DPDK_RUNDIR=/var/run/dpdk
else
	DPDK_RUNDIR=${XDG_RUNTIME_DIR:-/tmp}/dpdk
fi
EAL=(--no-pci --no-huge -m 512)
TP=(--stats-period=1 --nb-cores=1 --total-num-mbufs=16384)

start_be() { # NAME
	e2e_on_exit rm -rf -- "$DPDK_RUNDIR/$PREFIX-$1"
	e2e_start "$1" "$LIMIT" "$TESTPMD" --lcores "0@$BE_CPU,1@$BE_CPU" \
		"${EAL[@]}" --file-prefix="$PREFIX-$1" \
		--vdev "net_vhost0,iface=$BE_SOCK,queues=1,client=1" \
		--log-level=lib.vhost.config:debug \
		-- "${TP[@]}" --forward-mode=rxonly
}

start_fe() { # NAME
	e2e_on_exit rm -rf -- "$DPDK_RUNDIR/$PREFIX-$1"
	e2e_start "$1" "$LIMIT" "$TESTPMD" --lcores "0@$FE_CPU,1@$FE_CPU" \
		"${EAL[@]}" --file-prefix="$PREFIX-$1" \
		--vdev "net_virtio_user0,path=$FE_SOCK,queues=1,mrg_rxbuf=1,in_order=1" \
		-- "${TP[@]}" --forward-mode=txonly
}

# testpmd's statistics block, printed every second, is noise in a tail.
e2e_log_filter() {
	awk '/Port statistics =/ { skip = 1; next }
	     skip && /^ *#+ *$/ { skip = 0; next }
	     !skip && NF'
}

count() { # NAME STRING: occurrences in NAME's log
	grep -cF -- "$2" "$E2E_DIR/$1.log" 2>/dev/null || true
}

# The RX-packets values of NAME's statistics from byte FROM on.
rx_values() { # NAME FROM
	tail -c +"$(($2 + 1))" "$E2E_DIR/$1.log" | sed 's/\x1b\[[0-9;]*[A-Za-z]//g' |
		awk '$1 == "RX-packets:" { print $2 }'
}
log_size() { stat -c %s "$E2E_DIR/$1.log"; }

# The program behind NAME's timeout wrapper.
prog_pid() {
	local c
	c=$(e2e_children_of "${E2E_PID[$1]}")
	[ -n "$c" ] || e2e_fail "$1 has no running program"
	echo "$c"
}

# SIGKILL the program NAME itself (a crash), then reap its wrapper.
crash() { # NAME
	local pid rc=0
	pid=$(prog_pid "$1")
	e2e_log "SIGKILL $1 (pid $pid)"
	kill -KILL "$pid"
	wait "${E2E_PID[$1]}" 2>/dev/null || rc=$?
	E2E_RC[$1]=$rc
}

# vuproxy accepted more than N back-end connections.
accepted_more() { [ "$(count vuproxy "back-end accepted on $BE_SOCK")" -gt "$1" ]; }

link_up_n() { # N: the back-end logs of all runs hold READY_MSG N times
	local n=0 name
	for name in be1 be2; do
		[ -e "$E2E_DIR/$name.log" ] || continue
		n=$((n + $(count "$name" "$READY_MSG")))
	done
	[ "$n" -ge "$1" ]
}

# RX of back-end NAME rises from byte FROM of its log on: at least MIN
# prints, each above the one before.
check_rx_rising() { # NAME FROM MIN WHAT
	local vals prev='' v n=0
	vals=$(rx_values "$1" "$2")
	for v in $vals; do
		if [ -n "$prev" ] && [ "$v" -le "$prev" ]; then
			e2e_fail "$4: $1's RX-packets did not rise: $prev then $v ($(echo "$vals" | tr '\n' ' '))"
		fi
		prev=$v
		n=$((n + 1))
	done
	[ "$n" -ge "$3" ] || e2e_fail "$4: $n RX-packets prints from $1, want >= $3"
	e2e_log "$4: $1 RX-packets rose at each of $n prints, to $prev"
}

# Wait until NAME's RX-packets rose twice after byte FROM (traffic flows).
wait_rx() { # NAME FROM
	local t=$(($(date +%s) + 30)) vals
	while :; do
		vals=$(rx_values "$1" "$2" | awk 'NR > 1 && $1 > p { up++ } { p = $1 } END { print up + 0 }')
		[ "$vals" -ge 2 ] && return 0
		[ "$(date +%s)" -lt "$t" ] || e2e_fail "no traffic at $1 after 30 s"
		sleep 0.2
	done
}

# vuproxy, then the back-end (it connects), then the front-end.
e2e_start vuproxy "$LIMIT" "$VUPROXY" --frontend "listen:$FE_SOCK" \
	--backend "listen:$BE_SOCK" -w "$TRACE"
e2e_wait 10 "vuproxy to listen" e2e_unix_listening "$BE_SOCK"
e2e_wait 10 "vuproxy to listen" e2e_unix_listening "$FE_SOCK"
VP_PID=$(prog_pid vuproxy)
start_be be1
e2e_wait 30 "testpmd to connect to vuproxy" \
	e2e_log_has vuproxy "back-end accepted on $BE_SOCK"
start_fe fe1
e2e_wait 30 "'$READY_MSG' in be1.log" link_up_n 1
e2e_log_has vuproxy "s1 front-end accepted on $FE_SOCK" ||
	e2e_fail "the DPDK session is not s1"
wait_rx be1 0
e2e_log "DPDK session s1 is up and carries traffic"

# 1. The suite, against this vuproxy.
run_suite() { # NAME BIN
	local rc=0
	e2e_log "running $1 against vuproxy pid $VP_PID"
	HOSTILE_FE_SOCK=$FE_SOCK HOSTILE_BE_SOCK=$BE_SOCK \
		HOSTILE_LOG=$E2E_DIR/vuproxy.log HOSTILE_TRACE=$TRACE \
		HOSTILE_PID=$VP_PID timeout -k 5 150 "$2" \
		>"$E2E_DIR/$1.out" 2>&1 || rc=$?
	grep -E '^\[ *(OK|FAILED|PASSED) *\]|: witness|relayed in|the trace holds' \
		"$E2E_DIR/$1.out" | sed "s/^/    /"
	[ "$rc" = 0 ] || e2e_fail "$1 failed (status $rc) against the DPDK-carrying vuproxy; see $1.out"
}
from=$(log_size be1)
t0=$(date +%s)
run_suite hostile_cases "$HOSTILE_CASES_BIN"
run_suite hostile_timing "$HOSTILE_TIMING_BIN"
secs=$(($(date +%s) - t0))
e2e_log "the suite ran for ${secs}s beside the DPDK session"
! e2e_log_has vuproxy " s1 closed" || e2e_fail "vuproxy closed the DPDK session during the suite"
[ "$(count be1 "vhost peer closed")" = 0 ] || e2e_fail "testpmd's vhost connection closed during the suite"
e2e_alive fe1 || e2e_fail "the front-end testpmd exited during the suite"
e2e_alive be1 || e2e_fail "the back-end testpmd exited during the suite"
check_rx_rising be1 "$from" $((secs > 3 ? secs / 2 : 1)) "during the suite"

# 2. The front-end dies: vuproxy closes s1's back-end side, testpmd
# (client=1) reconnects to vuproxy, a new front-end gets traffic through.
nacc=$(count vuproxy "back-end accepted on $BE_SOCK")
crash fe1
e2e_wait 10 "vuproxy to close s1" e2e_log_has vuproxy " s1 closed: front-end hung up"
e2e_wait 10 "testpmd to see its vhost peer close" e2e_log_has be1 "vhost peer closed"
e2e_wait 10 "testpmd to reconnect to vuproxy" accepted_more "$nacc"
from=$(log_size be1)
start_fe fe2
e2e_wait 30 "the link to come up again" link_up_n 2
wait_rx be1 "$from"
e2e_log "front-end SIGKILLed: vuproxy closed the back-end side; a new front-end carries traffic"

# 3. The back-end dies: vuproxy closes that session's front-end side.
sess=$(awk -v p="$FE_SOCK" '$3 == "front-end" && $4 == "accepted" && $6 == p { s = $2 } END { print s }' \
	"$E2E_DIR/vuproxy.log")
[ -n "$sess" ] || e2e_fail "no session for fe2 in vuproxy's log"
crash be1
e2e_wait 10 "vuproxy to close $sess" e2e_log_has vuproxy " $sess closed: back-end "
# virtio_user (client) does not reconnect: stop it, start anew.
e2e_stop fe2 20
start_be be2
e2e_wait 30 "the new back-end to connect to vuproxy" accepted_more $((nacc + 1))
start_fe fe3
e2e_wait 30 "the link to come up with the new back-end" link_up_n 3
wait_rx be2 0
e2e_log "back-end SIGKILLed: vuproxy closed the front-end side; new peers carry traffic"

# 4. A clean stop.
e2e_stop fe3 20
e2e_stop be2 20
e2e_stop vuproxy 10
[ "${E2E_RC[vuproxy]}" = 0 ] || e2e_fail "vuproxy exited with ${E2E_RC[vuproxy]}"
! grep -qE 'Sanitizer|runtime error:' "$E2E_DIR/vuproxy.log" ||
	e2e_fail "vuproxy reported a sanitizer error (see vuproxy.log)"
e2e_log "$(grep '^vuproxy: .* sessions (' "$E2E_DIR/vuproxy.log" | tail -n 1)"
# The DPDK session's trace: every request be1 read before fe1 died.
grep -o 'read message VHOST_USER_[A-Z0-9_]*' "$E2E_DIR/be1.log" |
	sed 's/^read message VHOST_USER_//' >"$E2E_DIR/be1-requests.txt"
"$VUPROXY" dump --json --session 1 "$TRACE" 2>"$E2E_DIR/dump.err" |
	jq -r 'select(.from == "front-end" and .reply == false and .channel == "main") | .request' \
		>"$E2E_DIR/s1-requests.txt" || e2e_fail "vuproxy dump failed: $(cat "$E2E_DIR/dump.err")"
n=$(wc -l <"$E2E_DIR/s1-requests.txt")
# be1 read s1's requests and then those of the session with fe2.
head -n "$n" "$E2E_DIR/be1-requests.txt" | diff -u - "$E2E_DIR/s1-requests.txt" >&2 ||
	e2e_fail "the trace of s1 differs from what the back-end read"
[ "$n" -gt 10 ] || e2e_fail "only $n requests of s1 in the trace"
e2e_log "the trace holds the $n requests the back-end read in s1"
e2e_log PASS
