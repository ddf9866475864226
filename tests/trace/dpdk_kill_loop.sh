#!/bin/bash
# dpdk_kill_loop.sh - issue 7, crash safety: vuproxy SIGKILLed 20 times at
# random points of a real session, across the set-up sequence and traffic;
# after every kill, every request the back-end read is in the trace.
#
# One testpmd net_vhost back-end (--log-level=lib.vhost.config:debug: it
# logs "read message VHOST_USER_<NAME>" for each request it reads) serves
# every round: it is a vhost-user server and accepts a new connection once
# the previous one is closed.  Each round starts a fresh vuproxy -w (listen/
# connect, umask 000) and a fresh testpmd net_virtio_user front-end, kills
# vuproxy with SIGKILL, kills the front-end, waits until the back-end has
# logged "vhost peer closed" for every connection of the round, and checks:
#   - the trace is cut (gzip -t fails: it really was a crash), is mode 0600,
#     and `vuproxy dump --json` exits 2 saying "cut short";
#   - the back-end's "read message" list of this round (its log is line
#     buffered with stdbuf, and sliced per round by byte offset) is a
#     prefix, in order, of the trace's front-end>back-end requests.  The
#     trace may hold more: a message is written to the trace before it is
#     forwarded, so a kill between the two leaves it in the trace only.
# Where vuproxy is killed:
#   odd rounds   traffic: 0-1500 ms after the back-end logged "virtio is
#                now ready" (testpmd txonly sends at once);
#   even rounds  set-up: kill_after (kill_after.c, woken by inotify)
#                SIGKILLs vuproxy as soon as its -v log shows message K
#                (logged before it is recorded and forwarded), K drawn from
#                1..M-1, M the messages of round 1's whole session (its
#                set-up: no control message flows once the device runs).
#                The set-up is a few milliseconds of bursts around a
#                SET_MEM_TABLE that the back-end takes ~0.2 s to answer:
#                a shell's sleep would nearly always land in that one gap.
# The random draws come from T_SEED (printed; set it to replay a run).  At
# the end a fifth of the rounds must have been killed during the set-up
# (the trace holds some but not all of round 1's messages) and a quarter
# during traffic, and the back-end's RX-packets must have grown.
#
# Environment: VUPROXY, KILL_AFTER (kill_after), T_TESTPMD (default
# dpdk-testpmd), T_ROUNDS (default 20), T_SEED, T_BE_CPU / T_FE_CPU
# (default 0 / 1), E2E_KEEP=1.  No testpmd means failure, not a skip.
set -eu
# shellcheck source=../e2e/lib.sh
. "$(dirname "$0")/../e2e/lib.sh"

TESTPMD=${T_TESTPMD:-dpdk-testpmd}
ROUNDS=${T_ROUNDS:-20}
SEED=${T_SEED:-$(($(date +%s) % 32768))}
BE_CPU=${T_BE_CPU:-0}
FE_CPU=${T_FE_CPU:-1}
READY_MSG="virtio is now ready for processing"

e2e_init trace_dpdk_kill_loop
e2e_need_cmd "$TESTPMD" stdbuf gzip jq timeout awk sed tail
e2e_need_exe VUPROXY KILL_AFTER
[ "$ROUNDS" -ge 4 ] || e2e_fail "T_ROUNDS=$ROUNDS: at least 4"
RANDOM=$SEED
e2e_log "$ROUNDS rounds, seed $SEED (T_SEED=$SEED reproduces the draws)"

BE_SOCK=$E2E_DIR/be.sock
FE_SOCK=$E2E_DIR/fe.sock
e2e_check_sun_path "$BE_SOCK"
PREFIX="vupkl-${E2E_DIR##*.}-$$"
if [ "$(id -u)" = 0 ]; then
	DPDK_RUNDIR=/var/run/dpdk
else
	DPDK_RUNDIR=${XDG_RUNTIME_DIR:-/tmp}/dpdk
fi
e2e_on_exit rm -rf -- "$DPDK_RUNDIR/$PREFIX-be"
EAL=(--no-pci --no-huge)
TP=(--stats-period=1 --nb-cores=1 --total-num-mbufs=16384)

# stdbuf: the back-end runs through every round, its log must be current.
e2e_start be 280 stdbuf -oL -eL "$TESTPMD" --lcores "0@$BE_CPU,1@$BE_CPU" \
	"${EAL[@]}" -m 512 --file-prefix="$PREFIX-be" \
	--vdev "net_vhost0,iface=$BE_SOCK,queues=1" \
	--log-level=lib.vhost.config:debug -- "${TP[@]}" --forward-mode=rxonly
e2e_wait 30 "the back-end to listen" e2e_unix_listening "$BE_SOCK"

BE_LOG=$E2E_DIR/be.log
be_off=0 # where the current round's part of the back-end's log starts
be_slice() { tail -c "+$((be_off + 1))" "$BE_LOG"; }
be_count() { be_slice | grep -cE -- "$1" || true; }
be_ready() { be_slice | grep -qF -- "$READY_MSG"; }
# Every connection of this round closed (and at least $1 of them seen).
be_all_closed() {
	local n c
	n=$(be_count "new vhost user connection")
	c=$(be_count "vhost peer closed|vhost read message failed|vhost read incorrect message")
	[ "$n" -ge "$1" ] && [ "$n" = "$c" ]
}
be_rx() {
	sed 's/\x1b\[[0-9;]*[A-Za-z]//g' "$BE_LOG" |
		awk '$1 == "RX-packets:" { n = $2 } END { print n + 0 }'
}
# $1 ms of sleep.
sleep_ms() { sleep "$(printf '%d.%03d' $(($1 / 1000)) $(($1 % 1000)))"; }
now_ms() { echo $(($(date +%s%N) / 1000000)); }

setup_msgs=0 # messages of round 1's session: its set-up
n_setup=0
n_traffic=0
n_extra=0
summary=()
declare -A points=() # set-up kill points: records in the trace
T_START=$(now_ms)
for r in $(seq 1 "$ROUNDS"); do
	be_off=$(stat -c %s "$BE_LOG")
	trace=$E2E_DIR/r$r.pcapng.gz
	e2e_vuproxy_umask0 "vp$r" 60 --frontend "listen:$FE_SOCK" \
		--backend "connect:$BE_SOCK" -w "$trace" -v
	e2e_wait 10 "vuproxy round $r to listen" e2e_unix_listening "$FE_SOCK"
	e2e_on_exit rm -rf -- "$DPDK_RUNDIR/$PREFIX-fe$r"
	e2e_start "fe$r" 60 "$TESTPMD" --lcores "0@$FE_CPU,1@$FE_CPU" \
		"${EAL[@]}" -m 256 --file-prefix="$PREFIX-fe$r" \
		--vdev "net_virtio_user0,path=$FE_SOCK,queues=1,mrg_rxbuf=1,in_order=1" \
		-- "${TP[@]}" --forward-mode=txonly
	t0=$(now_ms)
	if [ $((r % 2)) = 1 ]; then
		extra=$((RANDOM % 1501))
		e2e_wait 30 "'$READY_MSG' (round $r)" be_ready
		sleep_ms "$extra"
		plan="ready +${extra}ms"
		e2e_kill9 "vp$r"
	else
		k=$((RANDOM % (setup_msgs - 1) + 1))
		pid=$(e2e_prog_pid "vp$r") || e2e_fail "round $r: vuproxy is not running"
		"$KILL_AFTER" "$pid" "$E2E_DIR/vp$r.log" "$k" 30 >"$E2E_DIR/kill$r.out" 2>&1 ||
			e2e_fail "round $r: kill_after: $(cat "$E2E_DIR/kill$r.out")"
		e2e_reap "vp$r"
		plan="after message $k ($(cat "$E2E_DIR/kill$r.out"))"
	fi
	kill_ms=$(($(now_ms) - t0))
	e2e_expect_eq "vuproxy wrapper status after SIGKILL (round $r)" "${E2E_RC[vp$r]}" 137
	# The front-end may already be gone (virtio_user dies of SIGPIPE
	# writing to a closed socket).
	if e2e_alive "fe$r"; then
		c=$(e2e_prog_pid "fe$r") && kill -KILL "$c" 2>/dev/null || true
	fi
	e2e_reap "fe$r"
	want=0
	grep -q "back-end connected to" "$E2E_DIR/vp$r.log" && want=1
	e2e_wait 15 "the back-end to close round $r's connections" be_all_closed "$want"
	sleep 0.2
	be_all_closed "$want" || e2e_fail "round $r: the back-end took a connection after the sync point"

	be_slice >"$E2E_DIR/be$r.log"
	grep -o 'read message VHOST_USER_[A-Z0-9_]*' "$E2E_DIR/be$r.log" |
		sed 's/^read message //' >"$E2E_DIR/be$r-requests.txt" || true
	nbe=$(wc -l <"$E2E_DIR/be$r-requests.txt")
	ready=no
	grep -qF -- "$READY_MSG" "$E2E_DIR/be$r.log" && ready=yes
	if [ "$r" = 1 ]; then
		[ "$ready" = yes ] || e2e_fail "round 1 (traffic) ended without '$READY_MSG'"
	fi
	e2e_expect_eq "trace mode (round $r, vuproxy under umask 000)" "$(e2e_mode "$trace")" 600
	if gzip -t "$trace" 2>/dev/null; then
		e2e_fail "round $r: the trace passes gzip -t: it was not cut, the round proves nothing"
	fi
	e2e_dump "$E2E_DIR/dump$r.json" --json "$trace"
	e2e_expect_eq "dump exit status, round $r (stderr: $(cat "$E2E_DIR/dump$r.json.err"))" "$E2E_DUMP_RC" 2
	grep -q "cut short" "$E2E_DIR/dump$r.json.err" ||
		e2e_fail "round $r: dump does not say the file is cut short: $(cat "$E2E_DIR/dump$r.json.err")"
	jq -r 'select(.reply == false and .from == "front-end") | "VHOST_USER_" + .request' \
		"$E2E_DIR/dump$r.json" >"$E2E_DIR/trace$r-requests.txt"
	ntr=$(wc -l <"$E2E_DIR/trace$r-requests.txt")
	head -n "$nbe" "$E2E_DIR/trace$r-requests.txt" >"$E2E_DIR/trace$r-prefix.txt"
	if ! diff -u --label "back-end read (round $r)" "$E2E_DIR/be$r-requests.txt" \
		--label "trace (round $r), first $nbe requests" "$E2E_DIR/trace$r-prefix.txt" \
		>"$E2E_DIR/requests$r.diff"; then
		cat "$E2E_DIR/requests$r.diff" >&2
		e2e_fail "round $r: the back-end read requests the trace does not hold in that order (diff above)"
	fi
	n_extra=$((n_extra + ntr - nbe))
	# Where the kill landed: how much of the session vuproxy had taken in.
	nrec=$(wc -l <"$E2E_DIR/dump$r.json")
	if [ "$r" = 1 ]; then
		setup_msgs=$nrec
		[ "$setup_msgs" -ge 10 ] || e2e_fail "round 1: only $setup_msgs messages in a whole session"
		e2e_log "the set-up sequence: $setup_msgs messages, $nbe requests read by the back-end"
	fi
	if [ "$nrec" = 0 ]; then
		phase="before any message"
	elif [ "$r" = 1 ] || [ "$nrec" -ge "$setup_msgs" ]; then
		phase=traffic
		n_traffic=$((n_traffic + 1))
	else
		phase="set-up ($nrec of $setup_msgs messages)"
		n_setup=$((n_setup + 1))
		points[$nrec]=1
	fi
	line="round $r: $plan (${kill_ms} ms after the front-end started): $phase, device ready: $ready; back-end read $nbe requests, the trace holds $ntr ($nrec records)"
	summary+=("$line")
	e2e_log "$line"
	rm -f "$trace" # keep the scratch directory small; logs stay
done
elapsed=$(($(now_ms) - T_START))
rx=$(be_rx)

e2e_stop be 20
e2e_expect_eq "back-end exit status" "${E2E_RC[be]}" 0
for line in "${summary[@]}"; do echo "  $line"; done
e2e_log "$ROUNDS kills in ${elapsed} ms: $n_traffic during traffic, $n_setup during set-up" \
	"at ${#points[@]} different points (after $(printf '%s\n' "${!points[@]}" | sort -n | tr '\n' ' ')messages);" \
	"$n_extra requests in traces beyond what the back-end read; back-end RX-packets $rx"
[ "$n_setup" -ge $((ROUNDS / 5)) ] ||
	e2e_fail "only $n_setup of $ROUNDS kills landed during set-up (seed $SEED)"
[ "$n_traffic" -ge $((ROUNDS / 4)) ] ||
	e2e_fail "only $n_traffic of $ROUNDS kills landed during traffic (seed $SEED)"
[ "$rx" -gt 0 ] || e2e_fail "the back-end received no packets in any round"
e2e_log PASS
