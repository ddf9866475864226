#!/bin/bash
# dpdk_trace.sh kill|int - the trace of a real session: DPDK testpmd
# net_virtio_user (front-end) -> vuproxy -w (listen/connect, umask 000) ->
# testpmd net_vhost (back-end, --log-level=lib.vhost.config:debug, which
# logs "read message VHOST_USER_<NAME>" for every request it reads).
# Once the device is ready and packets have flowed for a second, vuproxy
# is stopped:
#   kill  SIGKILL, a crash: the gzip stream has no trailer (gzip -t fails,
#         which shows the test really left a cut file), and yet
#         `vuproxy dump --json` recovers every request the back-end read;
#         it exits 2 and says on one stderr line that the file is cut short
#         and how many records it read (the records it printed);
#   int   SIGINT: vuproxy exits 0 and prints "N messages written to FILE";
#         the file passes gzip -t, dump exits 0 with nothing on stderr and
#         prints N records.
# Both: the front-end>back-end requests in the dump (reply false, from
# front-end), in order, are exactly the back-end's "read message" list;
# every record is session 1; SET_MEM_TABLE carries a memfd with its size,
# SET_VRING_KICK/CALL an eventfd; the file is mode 0600 although vuproxy
# ran under umask 000; tshark -r lists as many frames as dump prints.
#
# Environment: VUPROXY (the binary under test), T_TESTPMD (default
# dpdk-testpmd), T_BE_CPU / T_FE_CPU (default 0 / 1), E2E_KEEP=1.
# No testpmd means failure, not a skip.
set -eu
# shellcheck source=../e2e/lib.sh
. "$(dirname "$0")/../e2e/lib.sh"

MODE=${1:-}
case $MODE in kill | int) ;; *)
	echo "usage: VUPROXY=path/to/vuproxy $0 kill|int" >&2
	exit 2
	;;
esac
TESTPMD=${T_TESTPMD:-dpdk-testpmd}
BE_CPU=${T_BE_CPU:-0}
FE_CPU=${T_FE_CPU:-1}
LIMIT=90 # seconds, for every process
READY_MSG="virtio is now ready for processing"

e2e_init "trace_dpdk_$MODE"
e2e_need_cmd "$TESTPMD" gzip jq tshark timeout awk diff sed
e2e_need_exe VUPROXY

BE_SOCK=$E2E_DIR/be.sock
FE_SOCK=$E2E_DIR/fe.sock
TRACE=$E2E_DIR/dpdk.pcapng.gz
e2e_check_sun_path "$BE_SOCK"

# EAL runtime directories must be unique: others run testpmd here too.
PREFIX="vuptrace-${E2E_DIR##*.}-$$"
if [ "$(id -u)" = 0 ]; then
	DPDK_RUNDIR=/var/run/dpdk
else
	DPDK_RUNDIR=${XDG_RUNTIME_DIR:-/tmp}/dpdk
fi
e2e_on_exit rm -rf -- "$DPDK_RUNDIR/$PREFIX-be" "$DPDK_RUNDIR/$PREFIX-fe"
# --no-huge: EAL memory is a memfd that virtio_user passes in
# SET_MEM_TABLE.  Main and forwarding lcore share one CPU.
EAL=(--no-pci --no-huge -m 512)
TP=(--stats-period=1 --nb-cores=1 --total-num-mbufs=16384)

e2e_start be "$LIMIT" "$TESTPMD" --lcores "0@$BE_CPU,1@$BE_CPU" "${EAL[@]}" \
	--file-prefix="$PREFIX-be" --vdev "net_vhost0,iface=$BE_SOCK,queues=1" \
	--log-level=lib.vhost.config:debug -- "${TP[@]}" --forward-mode=rxonly
e2e_wait 30 "the back-end to listen" e2e_unix_listening "$BE_SOCK"
e2e_vuproxy_umask0 vp "$LIMIT" --frontend "listen:$FE_SOCK" \
	--backend "connect:$BE_SOCK" -w "$TRACE"
e2e_wait 10 "vuproxy to listen" e2e_unix_listening "$FE_SOCK"
e2e_start fe "$LIMIT" "$TESTPMD" --lcores "0@$FE_CPU,1@$FE_CPU" "${EAL[@]}" \
	--file-prefix="$PREFIX-fe" \
	--vdev "net_virtio_user0,path=$FE_SOCK,queues=1,mrg_rxbuf=1,in_order=1" \
	-- "${TP[@]}" --forward-mode=txonly
e2e_wait 30 "'$READY_MSG' in the back-end's log" e2e_log_has be "$READY_MSG"
e2e_log "device ready"

# The back-end's received packets, from testpmd's periodic statistics.
be_rx() {
	sed 's/\x1b\[[0-9;]*[A-Za-z]//g' "$E2E_DIR/be.log" |
		awk '$1 == "RX-packets:" { n = $2 } END { print n + 0 }'
}
rx_flowing() { [ "$(be_rx)" -gt 0 ]; }
e2e_wait 10 "packets at the back-end" rx_flowing
rx0=$(be_rx)
sleep 1
rx1=$(be_rx)
[ "$rx1" -gt "$rx0" ] || e2e_fail "traffic stopped: back-end RX-packets $rx0 then $rx1"
e2e_log "traffic flows: back-end RX-packets $rx0 -> $rx1"

if [ "$MODE" = kill ]; then
	e2e_kill9 vp
	e2e_expect_eq "vuproxy wrapper status after SIGKILL" "${E2E_RC[vp]}" 137
else
	e2e_stop vp 10
	e2e_expect_eq "vuproxy exit status after SIGINT" "${E2E_RC[vp]}" 0
fi
# The peers print their logs on a clean exit (testpmd's stdout is a
# file, hence buffered): stop them before reading the back-end's log.
e2e_stop fe 20
e2e_stop be 20
e2e_expect_eq "back-end exit status" "${E2E_RC[be]}" 0

grep -o 'read message VHOST_USER_[A-Z0-9_]*' "$E2E_DIR/be.log" |
	sed 's/^read message //' >"$E2E_DIR/be-requests.txt" || true
nbe=$(wc -l <"$E2E_DIR/be-requests.txt")
[ "$nbe" -ge 10 ] || e2e_fail "the back-end logged only $nbe 'read message' lines"
grep -qx VHOST_USER_SET_MEM_TABLE "$E2E_DIR/be-requests.txt" ||
	e2e_fail "the back-end never read SET_MEM_TABLE"

e2e_expect_eq "trace mode (vuproxy ran under umask 000)" "$(e2e_mode "$TRACE")" 600
e2e_dump "$E2E_DIR/dump.json" --json "$TRACE"
nrec=$(wc -l <"$E2E_DIR/dump.json")
e2e_log "dump: exit $E2E_DUMP_RC, $nrec records; stderr: $(cat "$E2E_DIR/dump.json.err")"
if [ "$MODE" = kill ]; then
	if gzip -t "$TRACE" 2>/dev/null; then
		e2e_fail "the trace of a SIGKILLed vuproxy passes gzip -t: it was not cut, the test proves nothing"
	fi
	e2e_expect_eq "dump exit status on a SIGKILLed trace" "$E2E_DUMP_RC" 2
	e2e_expect_eq "stderr lines of dump" "$(wc -l <"$E2E_DIR/dump.json.err")" 1
	grep -q "cut short" "$E2E_DIR/dump.json.err" ||
		e2e_fail "dump's stderr does not say the file is cut short: $(cat "$E2E_DIR/dump.json.err")"
	grep -qE "[^0-9]$nrec records read" "$E2E_DIR/dump.json.err" ||
		e2e_fail "dump printed $nrec records but its stderr says otherwise: $(cat "$E2E_DIR/dump.json.err")"
else
	gzip -t "$TRACE" 2>"$E2E_DIR/gzip.err" ||
		e2e_fail "the trace of a SIGINTed vuproxy fails gzip -t: $(cat "$E2E_DIR/gzip.err")"
	e2e_expect_eq "dump exit status (stderr: $(cat "$E2E_DIR/dump.json.err"))" "$E2E_DUMP_RC" 0
	[ ! -s "$E2E_DIR/dump.json.err" ] || e2e_fail "dump wrote to stderr: $(cat "$E2E_DIR/dump.json.err")"
	grep -q "^vuproxy: [0-9]* messages written to $TRACE\$" "$E2E_DIR/vp.log" ||
		e2e_fail "vuproxy did not print 'N messages written to $TRACE' on SIGINT"
	e2e_expect_eq "vuproxy's 'messages written' vs dump's records" "$(e2e_messages_written vp)" "$nrec"
fi

# Every request the back-end read is in the trace, in the same order.
jq -r 'select(.reply == false and .from == "front-end") | "VHOST_USER_" + .request' \
	"$E2E_DIR/dump.json" >"$E2E_DIR/trace-requests.txt"
if ! diff -u --label back-end-read "$E2E_DIR/be-requests.txt" \
	--label trace "$E2E_DIR/trace-requests.txt" >"$E2E_DIR/requests.diff"; then
	cat "$E2E_DIR/requests.diff" >&2
	e2e_fail "the trace's front-end>back-end requests differ from what the back-end read (diff above)"
fi
e2e_log "the trace holds the $nbe requests the back-end read, in order: $(sed 's/^VHOST_USER_//' "$E2E_DIR/be-requests.txt" | tr '\n' ' ')"

others=$(jq -c 'select(.session != 1) | .session' "$E2E_DIR/dump.json" | sort -u | tr '\n' ' ')
[ -z "$others" ] || e2e_fail "records of sessions other than 1: $others"
bad=$(jq -c 'select(.request == "SET_MEM_TABLE" and .reply == false)
             | select((.fds | length) < 1 or any(.fds[]; .kind != "memfd" or .size <= 0))' "$E2E_DIR/dump.json")
[ -z "$bad" ] || e2e_fail "SET_MEM_TABLE without memfd descriptions: $bad"
bad=$(jq -c 'select((.request == "SET_VRING_KICK" or .request == "SET_VRING_CALL") and .reply == false
                    and .payload.nofd == false)
             | select((.fds | length) != 1 or .fds[0].kind != "eventfd")' "$E2E_DIR/dump.json")
[ -z "$bad" ] || e2e_fail "SET_VRING_KICK/CALL without an eventfd description: $bad"
nmem=$(jq -c 'select(.request == "SET_MEM_TABLE" and .reply == false)' "$E2E_DIR/dump.json" | wc -l)
[ "$nmem" -ge 1 ] || e2e_fail "no SET_MEM_TABLE request in the trace"

nframes=$(timeout 60 tshark -r "$TRACE" 2>"$E2E_DIR/tshark.err" | wc -l)
e2e_expect_eq "tshark frames vs dump records" "$nframes" "$nrec"
e2e_log PASS
