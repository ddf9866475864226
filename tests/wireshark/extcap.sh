#!/bin/bash
# extcap.sh VUPROXY LUA LAUNCHER PEER - live vuproxy sessions in tshark
# through the extcap (`vuproxy extcap`, launched by LAUNCHER,
# tools/wireshark/vuproxy-extcap).
#
# The launcher goes, with the path of VUPROXY written into it as the
# install rule does, into the personal extcap folder of a temporary $HOME
# (the one `tshark -G folders` names; extcap_lib.sh).  Two vuproxys, alpha and beta, run
# with their control sockets in one directory ($VUPROXY_CTL_DIR), each
# with a session of PEER (extcap_peer.c: QEMU's set-up, then GET_FEATURES
# every 100 ms); a third vuproxy killed with SIGKILL leaves a stale socket
# there, and a file that is no socket lies next to them.  Then:
# 1. tshark -D lists vuproxy-alpha, vuproxy-alpha-s1 and vuproxy-beta-s1
#    with their peers' socket paths, and nothing of the stale socket;
# 2. tshark -i vuproxy-alpha-s1 -a duration:5 with the dissector: the
#    set-up comes first as declared frames (SET_OWNER ... SET_VRING_BASE,
#    SET_MEM_TABLE with its memfd), then the live GET_FEATURES round trips
#    of those 5 s, all of session 1; the file tshark wrote reads in
#    tshark as `vuproxy dump` reads it (tshark_lib.sh); vuproxy logs the
#    recording's end (the extcap's record-stop on tshark's SIGTERM, or
#    the fifo closed by tshark, whichever comes first);
# 3. while a capture of beta runs, a second one is refused with vuproxy's
#    reason; beta's session ending ends that capture (exit 0, frames);
# 4. a capture of all alpha's sessions outlives session 1 and ends when
#    alpha exits (exit 0);
# 5. an interface of no running vuproxy (the stale socket's, one of no
#    socket, the file that is none): exit 1 and why.
# A missing tshark or jq fails the test: it never skips.
set -eu
[ $# = 4 ] || {
	echo "usage: $0 VUPROXY LUA LAUNCHER PEER" >&2
	exit 2
}
VUPROXY=$1 LUA=$2 LAUNCHER=$3 PEER=$4
. "$(dirname "$0")/../e2e/lib.sh"
. "$(dirname "$0")/tshark_lib.sh"
. "$(dirname "$0")/extcap_lib.sh"

e2e_init wireshark_extcap
e2e_need_cmd tshark jq timeout awk
WS_DIR=$E2E_DIR
xc_install "$VUPROXY" "$LAUNCHER"
CTL=$XC_CTL

# vp NAME: vuproxy NAME between PEER's sockets, control socket in $CTL.
vp() {
	e2e_check_sun_path "$E2E_DIR/$1-fe.sock"
	e2e_start "$1" 90 "$VUPROXY" --frontend "listen:$E2E_DIR/$1-fe.sock" \
		--backend "connect:$E2E_DIR/$1-be.sock" --control "$CTL/$1.ctl"
	e2e_wait 10 "$1 to listen" e2e_unix_listening "$E2E_DIR/$1-fe.sock"
	e2e_wait 10 "$1's control socket" e2e_unix_listening "$CTL/$1.ctl"
}

vp gone
e2e_kill9 gone
[ -S "$CTL/gone.ctl" ] || e2e_fail "the killed vuproxy left no stale socket"
echo "not a socket" >"$CTL/junk.ctl"
vp alpha
vp beta
e2e_start alpha-peer 80 "$PEER" "$E2E_DIR/alpha-fe.sock" "$E2E_DIR/alpha-be.sock" 60
e2e_start beta-peer 80 "$PEER" "$E2E_DIR/beta-fe.sock" "$E2E_DIR/beta-be.sock" 60
e2e_wait 10 "alpha's peer set up" e2e_log_has alpha-peer ready
e2e_wait 10 "beta's peer set up" e2e_log_has beta-peer ready

# 1. The interfaces.
timeout 30 tshark -D >"$E2E_DIR/D.txt" 2>"$E2E_DIR/D.err" ||
	e2e_fail "tshark -D: $(cat "$E2E_DIR/D.err")"
for want in \
	"vuproxy-alpha (vuproxy alpha: all sessions)" \
	"vuproxy-alpha-s1 (vuproxy alpha session 1 (front-end $E2E_DIR/alpha-fe.sock, back-end $E2E_DIR/alpha-be.sock))" \
	"vuproxy-beta (vuproxy beta: all sessions)" \
	"vuproxy-beta-s1 (vuproxy beta session 1 (front-end $E2E_DIR/beta-fe.sock, back-end $E2E_DIR/beta-be.sock))"; do
	grep -qF ". $want" "$E2E_DIR/D.txt" ||
		e2e_fail "tshark -D does not list '$want': $(grep vuproxy "$E2E_DIR/D.txt")"
done
n=$(grep -c ' vuproxy-' "$E2E_DIR/D.txt" || true)
e2e_expect_eq "vuproxy interfaces in tshark -D ($(grep vuproxy "$E2E_DIR/D.txt"))" "$n" 4
! grep -v '^Running as user "root"' "$E2E_DIR/D.err" ||
	e2e_fail "tshark -D said the above"
e2e_log "tshark -D: alpha and beta, all sessions and session 1 each; the stale socket skipped"

# 2. Five seconds of alpha's session 1, decoded as it comes.
ws_tshark "$E2E_DIR/alpha.txt" -i vuproxy-alpha-s1 -a duration:5 \
	-w "$E2E_DIR/alpha.pcapng" -P "${XC_FIELDS[@]}"
declared=$(awk -F'|' '$3 == "1" || $3 == "True" { printf "%s ", $4 }' "$E2E_DIR/alpha.txt")
want="SET_OWNER SET_FEATURES SET_MEM_TABLE SET_VRING_NUM SET_VRING_ADDR SET_VRING_BASE SET_VRING_NUM SET_VRING_ADDR SET_VRING_BASE GET_FEATURES GET_FEATURES "
e2e_expect_eq "declared frames" "$declared" "$want"
# Declared first, then live ones only; every frame of session 1.
awk -F'|' -v n=11 '
	$2 != "1" { print "frame " $1 " of session " $2; bad = 1 }
	($1 <= n) != ($3 == "1" || $3 == "True") { print "frame " $1 " declared: " $3; bad = 1 }
	$1 > n && $4 != "GET_FEATURES" { print "frame " $1 ": " $4; bad = 1 }
	$1 > n { live++ }
	END { if (live < 40) { print "only " live + 0 " live frames"; bad = 1 } exit bad }' \
	"$E2E_DIR/alpha.txt" >"$E2E_DIR/alpha.bad" ||
	e2e_fail "alpha's capture: $(head -5 "$E2E_DIR/alpha.bad")"
live=$(($(wc -l <"$E2E_DIR/alpha.txt") - 11))
# tshark signals the extcap (which sends record-stop) and closes the
# fifo at once: whichever vuproxy sees first ends the recording.
ended() { e2e_log_has "$1" "recording stopped" || e2e_log_has "$1" "recording stops after"; }
e2e_wait 10 "alpha to log the recording's end" ended alpha
ws_check_trace "$E2E_DIR/alpha.pcapng" alpha
e2e_log "tshark -i vuproxy-alpha-s1: 11 declared frames, then $live live ones decoded; $(grep -o 'recording stop.*' "$E2E_DIR/alpha.log")"

# 3. A capture of beta's session, a second refused, the session's end.
e2e_start beta-cap 60 tshark -X "lua_script:$LUA" -i vuproxy-beta-s1 \
	-a duration:50 "${XC_FIELDS[@]}"
e2e_wait 20 "beta's recording" e2e_log_has beta "recording started: session 1"
rc=0
timeout 30 tshark -i vuproxy-beta -a duration:3 >"$E2E_DIR/beta2.txt" 2>"$E2E_DIR/beta2.err" || rc=$?
[ "$rc" != 0 ] || e2e_fail "a second capture of beta while one runs exited 0"
grep -q 'vuproxy beta .*a recording runs already' "$E2E_DIR/beta2.err" ||
	e2e_fail "the second capture's error: $(cat "$E2E_DIR/beta2.err")"
e2e_stop beta-peer
e2e_wait_exit beta-cap 15
e2e_expect_eq "tshark -i vuproxy-beta-s1 exit status" "${E2E_RC[beta-cap]}" 0
n=$(grep -c '^[0-9]*|1||GET_FEATURES|' "$E2E_DIR/beta-cap.log" || true)
[ "$n" -gt 2 ] || e2e_fail "beta's capture holds $n live GET_FEATURES"
e2e_log "beta: a second capture refused; the session's end ended the capture ($n live GET_FEATURES)"

# 4. All of alpha's sessions: on past the end of its session, until
# alpha exits.
e2e_start all-cap 60 tshark -i vuproxy-alpha -a duration:50
e2e_wait 20 "alpha's recording of every session" e2e_log_has alpha "recording started: every session"
e2e_stop alpha-peer
e2e_wait 10 "alpha's session to close" e2e_log_has alpha "s1 closed"
sleep 1
e2e_alive all-cap || e2e_fail "the capture of all alpha's sessions ended with session 1"
e2e_stop alpha
e2e_expect_eq "alpha's exit status" "${E2E_RC[alpha]}" 0
e2e_wait_exit all-cap 15
e2e_expect_eq "tshark -i vuproxy-alpha exit status" "${E2E_RC[all-cap]}" 0
e2e_log "the capture of all alpha's sessions outlived session 1 and ended with alpha"

# 5. Interfaces of no running vuproxy: exit 1 and why.
# no_capture IFACE WHY: the extcap refuses IFACE, saying WHY (a regex).
no_capture() {
	local rc=0
	"$VUPROXY" extcap --capture --extcap-interface "$1" \
		--fifo "$E2E_DIR/nofifo" 2>"$E2E_DIR/$1.err" || rc=$?
	e2e_expect_eq "capture from $1: exit status" "$rc" 1
	grep -q "$2" "$E2E_DIR/$1.err" ||
		e2e_fail "capture from $1: $(cat "$E2E_DIR/$1.err")"
}
no_capture vuproxy-gone-s1 'cannot connect to .*gone.ctl'
no_capture vuproxy-nope-s1 'vuproxy-nope-s1: no such vuproxy'
no_capture vuproxy-junk 'vuproxy-junk: no such vuproxy'
e2e_log "PASS"
