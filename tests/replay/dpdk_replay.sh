#!/bin/bash
# dpdk_replay.sh record RING | captures FILE - `vuproxy replay` against
# real peers: DPDK testpmd net_vhost (back-end) and net_virtio_user
# (front-end), --no-huge, each pinned to one core.
#
#   record RING   (RING: split | packed) records a session of a testpmd
#                 pair through `vuproxy -w` with E2E_TRAFFIC seconds
#                 (default 3) of traffic both ways (both sides io, the
#                 front-end --tx-first: one burst that circulates), so
#                 that the recorded GET_VRING_BASE answers are where the
#                 traffic left the vrings (checked: not the base the
#                 front-end set; a run that by chance stops every vring
#                 at its base is recorded once more); the front-end is
#                 stopped first, so the record holds the whole session,
#                 teardown included.  Then:
#                 1. replay --as front-end against a fresh testpmd
#                    back-end (the same options): exit 0, "identical"
#                    (GET_VRING_BASE is expected at the base the replay
#                    set: no traffic moves a replayed vring), and the
#                    back-end logs "virtio is now ready for processing"
#                    (it took the replayed memory table and vrings);
#                 2. against a back-end with other options (tso=1,
#                    postcopy-support=1, queues=2): exit 1, and exactly
#                    these differences named: +VIRTIO_NET_F_HOST_TSO4
#                    +VIRTIO_NET_F_HOST_TSO6 in GET_FEATURES, +PAGEFAULT in
#                    GET_PROTOCOL_FEATURES;
#                 3. replay --as back-end for a fresh testpmd virtio-user:
#                    its port says "Link status: up", replay exits 0.
#                 With REPLAY_SAVE=PATH the recorded trace is copied there
#                 (how captures/dpdk-{split,packed}.pcapng.gz were made,
#                 when the recording had no traffic).
#   captures FILE replays a committed capture: steps 1 and 3 (the ring
#                 layout is the capture's: the front-end is started with
#                 packed_vq=1 when its SET_FEATURES has RING_PACKED).
#   frames split  data-plane replay: records a testpmd pair (front-end
#                 --tx-first --burst=E2E_BURST (default 64): one burst of
#                 txonly frames, then rxonly; rxonly back-end; split
#                 rings) through `vuproxy --tap net -s 0 -w` (the tap
#                 catches the whole burst: checked against
#                 the back-end's RX-packets), then
#                 replays it with --frames=N (N = E2E_FRAMES, default 48)
#                 --as front-end against a fresh rxonly back-end.  With
#                 M the TX frames in the trace (`vuproxy dump`) and
#                 K = min(N, M): exit 0, "identical" (the TX vring's
#                 GET_VRING_BASE is expected at K, not at the recorded
#                 traffic's index), "K replayed ..., K used by the
#                 back-end", and the back-end's RX-packets is K.  With
#                 REPLAY_SAVE=PATH the recorded trace is copied there
#                 (how captures/dpdk-split-frames.pcapng.gz was made).
#   frames-capture FILE  the same check for a committed capture, all
#                 its frames (--frames).
#   declared FILE the capture rewritten by declared_from (DECLARED_FROM)
#                 as the file a rotation writes once the session is set
#                 up: the set-up as declared state, then the teardown;
#                 vuproxy check judges it fully, then steps 1 and 3 as for
#                 captures (the back-end gets ready on declared state
#                 alone).
#
#   alwayson split  vuproxy left in the path of a testpmd pair with
#                 traffic (both io, --tx-first), run as a service would:
#                 the control socket, a 1 MiB flight recorder (--ring 1),
#                 the tap (whose frames push the set-up out of the ring
#                 within a second), -w rotating every second (-G 1 -W 3):
#                 1. ctl sessions shows session 1 with the features the
#                    front-end acked (its SET_FEATURES in the trace), and
#                    ctl show its vrings started with live avail/used
#                    indices that move between two looks;
#                 2. a recording started mid-session (ctl record start)
#                    and stopped after the front-end left holds the
#                    set-up as declared state and the teardown as events;
#                 3. a snapshot taken seconds after the set-up
#                    (ctl snapshot FILE), when the ring has long dropped
#                    it, holds SET_MEM_TABLE as declared state and names
#                    its trigger; SIGUSR2 writes one into --snapshot-dir;
#                 4. all three files stand alone: the recording, the
#                    snapshot and the last rotated file each replay --as
#                    front-end against a fresh testpmd: exit 0,
#                    identical, the back-end ready.
#   midtap split  vuproxy WITHOUT --tap (nor -w) between a testpmd pair
#                 with traffic: it keeps the session's region fds, so
#                 1. ctl show 1 reads live avail/used indices that move
#                    between two looks, from guest memory mapped on
#                    demand;
#                 2. ctl record start FILE --tap net starts a tap
#                    mid-session: the recording declares the set-up and
#                    holds net frames (vuproxy dump), and the tap's
#                    statistics once record stop ends it;
#                 3. once the front-end has left, vuproxy holds no fd of
#                    guest memory.
#
# Environment: VUPROXY (the binary under test), E2E_TESTPMD (default
# dpdk-testpmd), E2E_BE_CPU / E2E_FE_CPU (default 0 / 1), E2E_KEEP=1.
# A missing testpmd fails; nothing is skipped.
set -eu

# shellcheck source=../e2e/lib.sh
. "$(dirname "$0")/../e2e/lib.sh"

usage() {
	echo "usage: VUPROXY=path/to/vuproxy $0 record split|packed | captures FILE | frames split | frames-capture FILE | declared FILE | alwayson split | midtap split" >&2
	exit 2
}
[ $# = 2 ] || usage
MODE=$1
case $MODE in
record)
	RING=$2
	case $RING in split | packed) ;; *) usage ;; esac
	;;
captures)
	CAPTURE=$(cd "$(dirname "$2")" && pwd)/$(basename "$2")
	;;
frames | alwayson | midtap)
	[ "$2" = split ] || usage
	;;
frames-capture)
	CAPTURE=$(cd "$(dirname "$2")" && pwd)/$(basename "$2")
	;;
declared)
	CAPTURE=$(cd "$(dirname "$2")" && pwd)/$(basename "$2")
	;;
*) usage ;;
esac

TESTPMD=${E2E_TESTPMD:-dpdk-testpmd}
BE_CPU=${E2E_BE_CPU:-0}
FE_CPU=${E2E_FE_CPU:-1}
LIMIT=120
READY_MSG="virtio is now ready for processing"

e2e_init "replay_dpdk_${MODE}_$(basename "$2" .pcapng.gz)"
e2e_need_cmd "$TESTPMD" timeout awk grep stdbuf mkfifo
[ -n "${VUPROXY:-}" ] || e2e_fail "VUPROXY is not set (path of the vuproxy binary under test)"
[ -x "$VUPROXY" ] || e2e_fail "VUPROXY=$VUPROXY is not an executable file"
e2e_check_sun_path "$E2E_DIR/be-xx.sock"

PREFIX="vupreplay-${E2E_DIR##*.}-$$"
if [ "$(id -u)" = 0 ]; then
	DPDK_RUNDIR=/var/run/dpdk
else
	DPDK_RUNDIR=${XDG_RUNTIME_DIR:-/tmp}/dpdk
fi
EAL=(--no-pci --no-huge -m 512)
TP=(--nb-cores=1 --total-num-mbufs=16384)
# Forward modes of the back-ends (recorded and fresh: the same) and of
# the non-interactive front-end.
BE_FWD=rxonly
FE_FWD=rxonly

# start_be NAME SOCKET [VDEV OPTIONS]
start_be() {
	local name=$1 sock=$2 opts=${3:-queues=1}
	e2e_on_exit rm -rf -- "$DPDK_RUNDIR/$PREFIX-$name"
	e2e_start "$name" "$LIMIT" "$TESTPMD" --lcores "0@$BE_CPU,1@$BE_CPU" \
		"${EAL[@]}" --file-prefix="$PREFIX-$name" \
		--vdev "net_vhost0,iface=$sock,$opts" \
		--log-level=lib.vhost.config:debug -- --stats-period=1 "${TP[@]}" \
		"--forward-mode=$BE_FWD"
	e2e_wait 30 "$name to listen on $sock" e2e_unix_listening "$sock"
}

# start_fe NAME SOCKET PACKED(0|1) [TESTPMD OPTIONS...]: non-interactive
# (stopped by SIGINT)
start_fe() {
	local name=$1 sock=$2 packed=$3
	shift 3
	e2e_on_exit rm -rf -- "$DPDK_RUNDIR/$PREFIX-$name"
	e2e_start "$name" "$LIMIT" "$TESTPMD" --lcores "0@$FE_CPU,1@$FE_CPU" \
		"${EAL[@]}" --file-prefix="$PREFIX-$name" \
		--vdev "net_virtio_user0,path=$sock,queues=1,packed_vq=$packed,mrg_rxbuf=1,in_order=1" \
		-- --stats-period=1 "${TP[@]}" "--forward-mode=$FE_FWD" "$@"
}

# vring_bases TRACE WHAT: "INDEX FIELDS" for each WHAT ("SET_VRING_BASE"
# or "GET_VRING_BASE reply") in the trace, the fields as `vuproxy dump`
# shows them (split: num=N; packed: avail_idx=N avail_wrap=W ...).
vring_bases() {
	"$VUPROXY" dump "$1" | grep -E " $2 index=" |
		sed -E 's/.* index=([0-9]+) (.*) \([0-9]+ B, .*/\1 \2/'
}

# RX-packets of testpmd NAME's "Accumulated forward statistics" (printed
# when it stops).
rx_packets() {
	sed 's/\x1b\[[0-9;]*[A-Za-z]//g' "$E2E_DIR/$1.log" |
		awk '/Accumulated forward statistics/ { a = 1; next }
		     a && $1 == "RX-packets:" { n = $2; a = 0 } END { print n }'
}

# Wait until NAME has exited by itself (bounded), then reap it.
wait_exit() {
	local name=$1 secs=$2 end
	end=$(($(date +%s) + secs))
	while e2e_alive "$name"; do
		[ "$(date +%s)" -lt "$end" ] || e2e_fail "$name did not exit within ${secs}s"
		sleep 0.05
	done
	e2e_stop "$name"
}

# replay_fe TRACE NAME VDEV_OPTS [REPLAY OPTIONS...]: --as front-end
# against a fresh testpmd back-end; sets RP_RC, output in
# $E2E_DIR/NAME.out / NAME.err.
replay_fe() {
	local trace=$1 name=$2 opts=$3 sock="$E2E_DIR/$2.sock"
	shift 3
	start_be "$name-be" "$sock" "$opts"
	RP_RC=0
	timeout -k 5 60 "$VUPROXY" replay "$trace" --as front-end \
		--backend "connect:$sock" "$@" >"$E2E_DIR/$name.out" 2>"$E2E_DIR/$name.err" || RP_RC=$?
	e2e_log "$name: replay --as front-end exited $RP_RC: $(tail -n 1 "$E2E_DIR/$name.out")"
	e2e_stop "$name-be" 20
}

# replay_be TRACE NAME PACKED: --as back-end, a fresh interactive testpmd
# virtio-user front-end asked for its port's link status, then quit.
replay_be() {
	local trace=$1 name=$2 packed=$3 sock="$E2E_DIR/$2.sock" fifo="$E2E_DIR/$2.fifo"
	e2e_start "$name-rp" 60 "$VUPROXY" replay "$trace" --as back-end \
		--frontend "listen:$sock"
	e2e_wait 10 "replay to listen on $sock" e2e_unix_listening "$sock"
	mkfifo "$fifo"
	e2e_on_exit rm -rf -- "$DPDK_RUNDIR/$PREFIX-$name-fe"
	# stdin from a fifo we write commands to; stdout line-buffered, so
	# that the answer is in the log when it is printed.
	e2e_start "$name-fe" "$LIMIT" sh -c 'f=$1; shift; exec "$@" <"$f"' sh "$fifo" \
		stdbuf -oL "$TESTPMD" --lcores "0@$FE_CPU,1@$FE_CPU" "${EAL[@]}" \
		--file-prefix="$PREFIX-$name-fe" \
		--vdev "net_virtio_user0,path=$sock,queues=1,packed_vq=$packed,mrg_rxbuf=1,in_order=1" \
		-- -i "${TP[@]}" --forward-mode=rxonly
	exec 3>"$fifo"
	# The port is started (and its link checked) before the prompt.
	e2e_wait 30 "the front-end's prompt" e2e_log_has "$name-fe" "testpmd>"
	echo "show port info 0" >&3
	e2e_wait 10 "the front-end's port info" e2e_log_has "$name-fe" "Link status:"
	LINK=$(grep -o 'Link status: [a-z]*' "$E2E_DIR/$name-fe.log" | head -n 1)
	echo "quit" >&3
	exec 3>&-
	wait_exit "$name-fe" 30
	wait_exit "$name-rp" 30
	RP_RC=${E2E_RC[$name-rp]}
	e2e_log "$name: front-end says '$LINK'; replay --as back-end exited $RP_RC: $(tail -n 1 "$E2E_DIR/$name-rp.log")"
}

expect_identical_fe() { # TRACE NAME
	replay_fe "$1" "$2" queues=1
	[ "$RP_RC" = 0 ] || e2e_fail "replay --as front-end against a fresh back-end exited $RP_RC, want 0: $(cat "$E2E_DIR/$2.out" "$E2E_DIR/$2.err")"
	grep -q ' 0 differences: identical$' "$E2E_DIR/$2.out" ||
		e2e_fail "no 'identical' summary: $(cat "$E2E_DIR/$2.out")"
	e2e_log_has "$2-be" "$READY_MSG" ||
		e2e_fail "the replayed session did not make the back-end ready ('$READY_MSG' not in its log)"
}

expect_link_up_be() { # TRACE NAME PACKED
	replay_be "$1" "$2" "$3"
	[ "$LINK" = "Link status: up" ] || e2e_fail "the front-end's link is not up: '$LINK'"
	[ "$RP_RC" = 0 ] || e2e_fail "replay --as back-end exited $RP_RC, want 0: $(cat "$E2E_DIR/$2-rp.log")"
	grep -q ' 0 differences: identical$' "$E2E_DIR/$2-rp.log" ||
		e2e_fail "no 'identical' summary: $(cat "$E2E_DIR/$2-rp.log")"
}

# expect_frames TRACE NAME MAX: replay TRACE --frames[=MAX] (0: all)
# against a fresh rxonly back-end: exit 0 and identical, as many frames
# replayed as the trace holds TX frames (at most MAX), all used, and the
# back-end's RX-packets the same number.
expect_frames() {
	local trace=$1 name=$2 max=$3 out="$E2E_DIR/$2.out" line captured want replayed used rx
	captured=$("$VUPROXY" dump "$trace" | grep -c ' net q[0-9]* tx len=') ||
		e2e_fail "no TX frames in $trace (vuproxy dump)"
	want=$captured
	[ "$max" = 0 ] || [ "$captured" -le "$max" ] || want=$max
	if [ "$max" = 0 ]; then
		replay_fe "$trace" "$name" queues=1 --frames
	else
		replay_fe "$trace" "$name" queues=1 "--frames=$max"
	fi
	[ "$RP_RC" = 0 ] || e2e_fail "replay --frames exited $RP_RC, want 0: $(cat "$out" "$E2E_DIR/$name.err")"
	grep -q ' 0 differences: identical$' "$out" || e2e_fail "no 'identical' summary: $(cat "$out")"
	line=$(grep '^replay: frames: ' "$out") || e2e_fail "no frames line: $(cat "$out")"
	replayed=$(sed -E 's/^replay: frames: ([0-9]+) replayed of .*/\1/' <<<"$line")
	used=$(sed -E 's/.* captured, ([0-9]+) used by .*/\1/' <<<"$line")
	rx=$(rx_packets "$name-be")
	e2e_log "$line"
	e2e_log "$name: TX frames in the trace: $captured; replayed: $replayed (want $want); used by the back-end: $used; back-end RX-packets: ${rx:-?}"
	[ "$replayed" = "$want" ] || e2e_fail "$replayed frames replayed, want $want"
	[ "$used" = "$want" ] || e2e_fail "the back-end used $used of $want frames"
	[ "$rx" = "$want" ] || e2e_fail "the back-end's RX-packets is '$rx', want $want"
}

# record_traffic N: record a session of a testpmd pair (the N-th try)
# through vuproxy -w into $TRACE, with E2E_TRAFFIC seconds of traffic.
record_traffic() {
	local n=$1
	TRACE=$E2E_DIR/rec$n.pcapng.gz
	start_be "be$n" "$E2E_DIR/be$n.sock"
	e2e_start "vp$n" "$LIMIT" "$VUPROXY" --frontend "listen:$E2E_DIR/fe$n.sock" \
		--backend "connect:$E2E_DIR/be$n.sock" -w "$TRACE"
	e2e_wait 10 "vuproxy to listen" e2e_unix_listening "$E2E_DIR/fe$n.sock"
	start_fe "fe$n" "$E2E_DIR/fe$n.sock" "$PACKED" --tx-first
	e2e_wait 30 "'$READY_MSG' in the back-end's log" e2e_log_has "be$n" "$READY_MSG"
	sleep "${E2E_TRAFFIC:-3}"
	# Front-end first: its teardown (GET_VRING_BASE...) is recorded.
	e2e_stop "fe$n" 20
	e2e_stop "be$n" 20
	e2e_stop "vp$n" 10
	[ "${E2E_RC[vp$n]}" = 0 ] || e2e_fail "vuproxy exited ${E2E_RC[vp$n]}"
	nreq=$("$VUPROXY" dump "$TRACE" | grep -c 'front-end>back-end') ||
		e2e_fail "vuproxy dump failed on the recorded trace"
	e2e_log "recorded $nreq front-end requests ($(stat -c %s "$TRACE") bytes); the back-end received $(rx_packets "be$n") packets"
	[ "$nreq" -ge 20 ] || e2e_fail "only $nreq requests recorded"
}

# vrings_moved TRACE: the trace has a GET_VRING_BASE answer for both
# vrings, each after a SET_VRING_BASE, and at least one is not the base
# set: the traffic moved it, so the recorded answer is not what a replay
# expects.
vrings_moved() {
	local sets gets idx fields setf rc=1
	sets=$(vring_bases "$1" SET_VRING_BASE)
	gets=$(vring_bases "$1" "GET_VRING_BASE reply")
	e2e_log "recorded SET_VRING_BASE: $(tr '\n' ';' <<<"$sets") GET_VRING_BASE answers: $(tr '\n' ';' <<<"$gets")"
	[ "$(grep -c . <<<"$gets")" = 2 ] || e2e_fail "want 2 recorded GET_VRING_BASE answers"
	while read -r idx fields; do
		setf=$(awk -v i="$idx" '$1 == i { sub(/^[0-9]+ /, ""); print }' <<<"$sets")
		[ -n "$setf" ] || e2e_fail "no SET_VRING_BASE recorded for vring $idx"
		[ "$fields" = "$setf" ] || rc=0
	done <<<"$gets"
	return $rc
}

# ctl ARGS...: vuproxy ctl on the always-on run's socket.
ctl() { "$VUPROXY" ctl "$E2E_DIR/vp.ctl" "$@"; }

# live_indices: "vring:avail:used ..." from ctl show 1 --json.
live_indices() {
	ctl show 1 --json | jq -r '.result.vrings[] | select(.live) |
		"\(.index):\(.live.avail_idx):\(.live.used_idx)"' | tr '\n' ' '
}

# declared_requests FILE: the requests its declared state restates.
declared_requests() {
	"$VUPROXY" dump --json "$1" | jq -r 'select(.declared and (.reply | not)) | .request' |
		sort -u | tr '\n' ' '
}

always_on() {
	local ctlsock="$E2E_DIR/vp.ctl" snapdir="$E2E_DIR/snaps" acked first second
	BE_FWD=io
	FE_FWD=io
	mkdir -p "$snapdir"
	start_be be "$E2E_DIR/be.sock"
	e2e_start vp "$LIMIT" "$VUPROXY" --frontend "listen:$E2E_DIR/fe.sock" \
		--backend "connect:$E2E_DIR/be.sock" --control "$ctlsock" \
		--ring 1 --snapshot-dir "$snapdir" --tap net -s 0 \
		-w "$E2E_DIR/rot.pcapng.gz" -G 1 -W 3
	e2e_wait 10 "vuproxy to listen" e2e_unix_listening "$E2E_DIR/fe.sock"
	# Large frames: what the tap catches of them turns the ring soon.
	start_fe fe "$E2E_DIR/fe.sock" 0 --tx-first --txpkts=1400
	e2e_wait 30 "'$READY_MSG' in the back-end's log" e2e_log_has be "$READY_MSG"

	# 1. sessions and show.
	acked=$("$VUPROXY" dump --json "$E2E_DIR/rot.pcapng.gz" 2>/dev/null |
		jq -r 'select(.request == "SET_FEATURES" and (.reply | not)) | .payload.features' | tail -n 1)
	[ -n "$acked" ] || e2e_fail "no SET_FEATURES in the first trace file"
	ctl sessions --json >"$E2E_DIR/sessions.json" || e2e_fail "ctl sessions: $(cat "$E2E_DIR/sessions.json")"
	e2e_expect_eq "ctl sessions: session 1's acked features" \
		"$(jq -r '.result[] | select(.session == 1) | .features' "$E2E_DIR/sessions.json")" "$acked"
	first=$(live_indices)
	sleep 1
	second=$(live_indices)
	e2e_log "ctl show 1: live vring indices $first, a second later $second"
	[ -n "$first" ] || e2e_fail "ctl show 1 reads no live indices: $(ctl show 1)"
	[ "$first" != "$second" ] || e2e_fail "the live indices did not move in a second of traffic: $first"

	# 2. a recording from now on; 3. a snapshot once the ring has turned.
	ctl record start "$E2E_DIR/mid.pcapng.gz" || e2e_fail "ctl record start failed"
	e2e_wait 30 "the ring to drop its oldest records" \
		sh -c '"$1" ctl "$2" stats --json | jq -e ".result.ring.evicted_total > 0" >/dev/null' \
		sh "$VUPROXY" "$ctlsock"
	ctl stats --json >"$E2E_DIR/stats.json"
	e2e_log "ring: $(jq -c .result.ring "$E2E_DIR/stats.json")"
	ctl snapshot "$E2E_DIR/snap.pcapng.gz" >"$E2E_DIR/snap.out" ||
		e2e_fail "ctl snapshot: $(cat "$E2E_DIR/snap.out")"
	e2e_signal vp USR2
	e2e_wait 10 "the SIGUSR2 snapshot" sh -c 'ls "$1"/*-sigusr2.pcapng.gz' sh "$snapdir"

	# The front-end leaves: its teardown goes on recording.
	e2e_stop fe 20
	e2e_wait 10 "session 1 to end" sh -c '! "$1" ctl "$2" sessions --json | grep -q "\"session\":1"' sh "$VUPROXY" "$ctlsock"
	ctl record stop >"$E2E_DIR/recstop.out" || e2e_fail "ctl record stop: $(cat "$E2E_DIR/recstop.out")"
	e2e_stop be 20
	e2e_stop vp 10
	[ "${E2E_RC[vp]}" = 0 ] || e2e_fail "vuproxy exited ${E2E_RC[vp]}"

	local mid="$E2E_DIR/mid.pcapng.gz" snap="$E2E_DIR/snap.pcapng.gz" last
	# What virtio-user set up: features, memory, both vrings.
	local need req have
	have=$(declared_requests "$mid")
	e2e_log "the recording declares: $have"
	for req in GET_FEATURES SET_FEATURES SET_PROTOCOL_FEATURES SET_OWNER SET_MEM_TABLE \
		SET_VRING_NUM SET_VRING_ADDR SET_VRING_BASE SET_VRING_KICK SET_VRING_CALL; do
		grep -qw "$req" <<<"$have" || e2e_fail "the mid-session recording does not declare $req"
	done
	"$VUPROXY" dump --json "$mid" | jq -e -s '[.[] | select((.declared | not) and .request == "GET_VRING_BASE" and .reply)] | length >= 2' >/dev/null ||
		e2e_fail "the recording lacks the teardown's GET_VRING_BASE answers"
	e2e_expect_eq "declared state of the snapshot" "$(declared_requests "$snap")" \
		"$(declared_requests "$mid")"
	zcat "$snap" | grep -aq 'trigger: ctl' || e2e_fail "the snapshot does not name its trigger"
	e2e_log "recording: $(vup_count "$mid"); snapshot: $(vup_count "$snap")"
	last=$(ls "$E2E_DIR"/rot.*.pcapng.gz | sort -t. -k2 -n | tail -n 1)
	[ -n "$last" ] || e2e_fail "no rotated file (-G 1)"
	e2e_log "last rotated file: ${last##*/}; declared: $(declared_requests "$last")"
	expect_identical_fe "$mid" midrep
	expect_identical_fe "$snap" snaprep
	expect_identical_fe "$last" rotrep
}

# guest_fds: vuproxy's fds on DPDK's guest memory files (memfds);
# vuproxy is the child of the `timeout` that e2e_start ran.
guest_fds() {
	local n=0 f w=${E2E_PID[vp]} pid
	pid=$(cat "/proc/$w/task/$w/children")
	pid=${pid%% *}
	[ -n "$pid" ] || e2e_fail "no vuproxy process under pid $w"
	for f in /proc/"$pid"/fd/*; do
		case $(readlink "$f" 2>/dev/null) in /memfd:*) n=$((n + 1)) ;; esac
	done
	echo "$n"
}

mid_tap() {
	local ctlsock="$E2E_DIR/vp.ctl" mid="$E2E_DIR/mid.pcapng.gz" first second frames kept
	BE_FWD=io
	FE_FWD=io
	start_be be "$E2E_DIR/be.sock"
	e2e_start vp "$LIMIT" "$VUPROXY" --frontend "listen:$E2E_DIR/fe.sock" \
		--backend "connect:$E2E_DIR/be.sock" --control "$ctlsock" -s 0 -v
	e2e_wait 10 "vuproxy to listen" e2e_unix_listening "$E2E_DIR/fe.sock"
	# Large frames: fewer per second, so that a passive tap polling every
	# millisecond catches some (at 5 Mpps of 64-byte frames it catches
	# none; issue 15's active mode is for that).
	start_fe fe "$E2E_DIR/fe.sock" 0 --tx-first --txpkts=1400
	e2e_wait 30 "'$READY_MSG' in the back-end's log" e2e_log_has be "$READY_MSG"

	# 1. live indices from the kept fds.
	kept=$(guest_fds)
	first=$(live_indices)
	sleep 1
	second=$(live_indices)
	e2e_log "no --tap: vuproxy keeps $kept guest memory fds; ctl show 1: live vring indices $first, a second later $second"
	[ "$kept" -ge 1 ] || e2e_fail "vuproxy keeps no fd of guest memory"
	[ -n "$first" ] || e2e_fail "ctl show 1 reads no live indices without --tap: $(ctl show 1)"
	[ "$first" != "$second" ] || e2e_fail "the live indices did not move in a second of traffic: $first"

	# 2. a tap started with the recording.
	ctl record start "$mid" --tap net || e2e_fail "ctl record start --tap net failed"
	# The file is readable while written (each poll's frames flushed).
	e2e_wait 20 "the mid-session tap's first net frame" \
		sh -c '"$1" dump "$2" 2>/dev/null | grep -qE " net q[0-9]+ (tx|rx) len="' sh "$VUPROXY" "$mid"
	ctl record stop >"$E2E_DIR/recstop.out" || e2e_fail "ctl record stop: $(cat "$E2E_DIR/recstop.out")"
	e2e_log_has vp "s1 tap: started at run time" || e2e_fail "vuproxy does not say it started a tap"
	frames=$("$VUPROXY" dump "$mid" | grep -cE ' net q[0-9]+ (tx|rx) len=') || true
	e2e_log "the recording: $(vup_count "$mid"), $frames net frames; declares: $(declared_requests "$mid")"
	[ "$frames" -ge 1 ] || e2e_fail "the mid-session tap captured no net frame: $("$VUPROXY" dump "$mid" | tail -n 5)"
	grep -qw SET_MEM_TABLE <<<"$(declared_requests "$mid")" ||
		e2e_fail "the recording does not declare SET_MEM_TABLE"
	"$VUPROXY" dump "$mid" | grep -q 'consumed=' ||
		e2e_fail "the recording lacks the tap's statistics"

	# 3. the front-end leaves: the session's fds go with it.
	e2e_stop fe 20
	e2e_wait 10 "session 1 to end" sh -c '! "$1" ctl "$2" sessions --json | grep -q "\"session\":1"' sh "$VUPROXY" "$ctlsock"
	kept=$(guest_fds)
	e2e_log "after the session: vuproxy holds $kept guest memory fds"
	[ "$kept" = 0 ] || e2e_fail "vuproxy still holds $kept fds of guest memory after the session"
	e2e_stop be 20
	e2e_stop vp 10
	[ "${E2E_RC[vp]}" = 0 ] || e2e_fail "vuproxy exited ${E2E_RC[vp]}"
}

# vup_count FILE: "N records, M declared".
vup_count() {
	"$VUPROXY" dump --json "$1" | jq -s -r '"\(length) records, \([.[] | select(.declared)] | length) declared"'
}

if [ "$MODE" = record ]; then
	PACKED=0
	[ "$RING" = split ] || PACKED=1
	BE_FWD=io
	FE_FWD=io
	# A traffic run may by chance stop every vring at its base (packed:
	# 1 run in 512, split: 1 in 65536); then it cannot tell the base set
	# from the recorded one, and the recording is made once more.
	for try in 1 2; do
		record_traffic "$try"
		vrings_moved "$TRACE" && break
		[ "$try" = 1 ] || e2e_fail "twice the recorded GET_VRING_BASE answers are the bases set: the traffic did not move the vrings"
		e2e_log "the traffic left every vring at its base; recording again"
	done
	if [ -n "${REPLAY_SAVE:-}" ]; then
		cp -- "$TRACE" "$REPLAY_SAVE"
		e2e_log "saved the recorded trace as $REPLAY_SAVE"
	fi

	expect_identical_fe "$TRACE" same

	replay_fe "$TRACE" other "queues=2,tso=1,postcopy-support=1"
	[ "$RP_RC" = 1 ] || e2e_fail "replay against a back-end with other options exited $RP_RC, want 1: $(cat "$E2E_DIR/other.out" "$E2E_DIR/other.err")"
	grep -q '^#[0-9]* GET_FEATURES reply: +VIRTIO_NET_F_HOST_TSO4 +VIRTIO_NET_F_HOST_TSO6$' "$E2E_DIR/other.out" ||
		e2e_fail "the GET_FEATURES difference is not named: $(cat "$E2E_DIR/other.out")"
	grep -q '^#[0-9]* GET_PROTOCOL_FEATURES reply: +PAGEFAULT$' "$E2E_DIR/other.out" ||
		e2e_fail "the GET_PROTOCOL_FEATURES difference is not named: $(cat "$E2E_DIR/other.out")"
	[ "$(grep -c '^#' "$E2E_DIR/other.out")" = 2 ] ||
		e2e_fail "differences other than the features: $(grep '^#' "$E2E_DIR/other.out")"
	e2e_log "differences named: $(grep '^#' "$E2E_DIR/other.out" | tr '\n' ';')"

	expect_link_up_be "$TRACE" asbe "$PACKED"
elif [ "$MODE" = frames ]; then
	N=${E2E_FRAMES:-48}
	BURST=${E2E_BURST:-64}
	TRACE=$E2E_DIR/rec.pcapng.gz
	start_be be "$E2E_DIR/be.sock"
	e2e_start vp "$LIMIT" "$VUPROXY" --frontend "listen:$E2E_DIR/fe.sock" \
		--backend "connect:$E2E_DIR/be.sock" -w "$TRACE" \
		--tap net -s 0
	e2e_wait 10 "vuproxy to listen" e2e_unix_listening "$E2E_DIR/fe.sock"
	start_fe fe "$E2E_DIR/fe.sock" 0 --tx-first "--burst=$BURST"
	e2e_wait 30 "'$READY_MSG' in the back-end's log" e2e_log_has be "$READY_MSG"
	sleep 1
	e2e_stop fe 20
	e2e_stop be 20
	e2e_stop vp 10
	[ "${E2E_RC[vp]}" = 0 ] || e2e_fail "vuproxy exited ${E2E_RC[vp]}"
	rec_rx=$(rx_packets be)
	rec_tx=$("$VUPROXY" dump "$TRACE" | grep -c ' net q1 tx len=') || true
	e2e_log "recorded: the back-end received ${rec_rx:-?} frames, the tap captured $rec_tx ($(stat -c %s "$TRACE") bytes of trace)"
	# One burst (--tx-first), slow enough for the tap to see every frame.
	if [ "$rec_tx" != "$rec_rx" ] || [ "$rec_tx" -le "$N" ]; then
		e2e_fail "the capture holds $rec_tx TX frames, the back-end received '$rec_rx' (want the same, more than $N)"
	fi
	if [ -n "${REPLAY_SAVE:-}" ]; then
		cp -- "$TRACE" "$REPLAY_SAVE"
		e2e_log "saved the recorded trace as $REPLAY_SAVE"
	fi

	expect_frames "$TRACE" frames "$N"
elif [ "$MODE" = declared ]; then
	[ -r "$CAPTURE" ] || e2e_fail "no capture $CAPTURE"
	e2e_need_exe DECLARED_FROM
	DECL=$E2E_DIR/declared.pcapng
	split=$("$DECLARED_FROM" "$CAPTURE" "$DECL") || e2e_fail "declared_from failed"
	e2e_log "declared_from: $split"
	"$VUPROXY" check "$DECL" >"$E2E_DIR/check.out" 2>&1 || e2e_fail "check exit $?: $(cat "$E2E_DIR/check.out")"
	grep -q 'judged against the set-up it declared' "$E2E_DIR/check.out" ||
		e2e_fail "check did not judge the file against its declared set-up: $(cat "$E2E_DIR/check.out")"
	expect_identical_fe "$DECL" decl
	expect_link_up_be "$DECL" declbe 0
	e2e_log "the declared file replayed identically both ways against testpmd"
elif [ "$MODE" = alwayson ]; then
	always_on
elif [ "$MODE" = midtap ]; then
	mid_tap
elif [ "$MODE" = frames-capture ]; then
	[ -r "$CAPTURE" ] || e2e_fail "no capture $CAPTURE"
	expect_frames "$CAPTURE" capframes 0
else
	[ -r "$CAPTURE" ] || e2e_fail "no capture $CAPTURE"
	PACKED=0
	"$VUPROXY" dump "$CAPTURE" | grep -q 'SET_FEATURES features=.*VIRTIO_F_RING_PACKED' && PACKED=1
	expect_identical_fe "$CAPTURE" cap
	expect_link_up_be "$CAPTURE" capbe "$PACKED"
fi
e2e_log PASS
