#!/bin/bash
# extcap_dpdk.sh VUPROXY LUA LAUNCHER - tshark captures a live session
# between two real DPDK testpmd through the extcap:
#
#   testpmd net_virtio_user (front-end) <-> vuproxy --control CTL/dpdk.ctl
#                                       <-> testpmd net_vhost (back-end)
#
# Once the back-end reports the device ready, with the launcher in a
# temporary $HOME's extcap folder (extcap_lib.sh): tshark -D lists
# vuproxy-dpdk-s1; `tshark -i vuproxy-dpdk-s1` with the dissector starts,
# and the front-end is stopped a second later.  The capture then holds the
# set-up virtio_user made before it began as declared frames (features,
# SET_MEM_TABLE with its memfd, each vring's kick and call), and the
# teardown live (GET_VRING_BASE, not declared); the session's end ends
# the capture (exit 0); the file tshark wrote reads in tshark as `vuproxy
# dump` reads it (tshark_lib.sh).
#
# Environment: E2E_TESTPMD (default dpdk-testpmd), E2E_BE_CPU / E2E_FE_CPU
# (default 0 / 1), E2E_READY_TIMEOUT (default 30 s).  A missing testpmd,
# tshark or jq fails the test: it never skips.
set -eu
[ $# = 3 ] || {
	echo "usage: $0 VUPROXY LUA LAUNCHER" >&2
	exit 2
}
VUPROXY=$1 LUA=$2 LAUNCHER=$3
. "$(dirname "$0")/../e2e/lib.sh"
. "$(dirname "$0")/tshark_lib.sh"
. "$(dirname "$0")/extcap_lib.sh"

TESTPMD=${E2E_TESTPMD:-dpdk-testpmd}
READY_TIMEOUT=${E2E_READY_TIMEOUT:-30}
LIMIT=$((READY_TIMEOUT * 2 + 60))
READY_MSG="virtio is now ready for processing"

e2e_init wireshark_extcap_dpdk
e2e_need_cmd "$TESTPMD" tshark jq timeout awk
WS_DIR=$E2E_DIR
xc_install "$VUPROXY" "$LAUNCHER"

# EAL's runtime directory must be unique per run (others run testpmd on
# this machine at the same time).
PREFIX="vupxc-${E2E_DIR##*.}-$$"
DPDK_RUNDIR=/var/run/dpdk
[ "$(id -u)" = 0 ] || DPDK_RUNDIR=${XDG_RUNTIME_DIR:-/tmp}/dpdk
EAL=(--no-pci --no-huge -m 512)
TP=(--stats-period=1 --nb-cores=1 --total-num-mbufs=16384)
BE_SOCK=$E2E_DIR/be.sock FE_SOCK=$E2E_DIR/fe.sock
e2e_check_sun_path "$FE_SOCK"

e2e_on_exit rm -rf -- "$DPDK_RUNDIR/$PREFIX-be" "$DPDK_RUNDIR/$PREFIX-fe"
e2e_start be "$LIMIT" "$TESTPMD" --lcores "0@${E2E_BE_CPU:-0},1@${E2E_BE_CPU:-0}" \
	"${EAL[@]}" --file-prefix="$PREFIX-be" \
	--vdev "net_vhost0,iface=$BE_SOCK,queues=1" -- "${TP[@]}" --forward-mode=rxonly
e2e_wait "$READY_TIMEOUT" "the back-end to listen" e2e_unix_listening "$BE_SOCK"
e2e_start dpdk "$LIMIT" "$VUPROXY" --frontend "listen:$FE_SOCK" \
	--backend "connect:$BE_SOCK" --control "$XC_CTL/dpdk.ctl"
e2e_wait 10 "vuproxy's control socket" e2e_unix_listening "$XC_CTL/dpdk.ctl"
e2e_start fe "$LIMIT" "$TESTPMD" --lcores "0@${E2E_FE_CPU:-1},1@${E2E_FE_CPU:-1}" \
	"${EAL[@]}" --file-prefix="$PREFIX-fe" \
	--vdev "net_virtio_user0,path=$FE_SOCK,queues=1" -- "${TP[@]}" --forward-mode=txonly
e2e_wait "$READY_TIMEOUT" "'$READY_MSG' in the back-end log" e2e_log_has be "$READY_MSG"

timeout 30 tshark -D >"$E2E_DIR/D.txt" 2>"$E2E_DIR/D.err" ||
	e2e_fail "tshark -D: $(cat "$E2E_DIR/D.err")"
want="vuproxy-dpdk-s1 (vuproxy dpdk session 1 (front-end $FE_SOCK, back-end $BE_SOCK))"
grep -qF ". $want" "$E2E_DIR/D.txt" ||
	e2e_fail "tshark -D does not list '$want': $(grep vuproxy "$E2E_DIR/D.txt")"

e2e_start cap 60 tshark -X "lua_script:$LUA" -i vuproxy-dpdk-s1 -a duration:40 \
	-w "$E2E_DIR/cap.pcapng" -P "${XC_FIELDS[@]}"
e2e_wait 20 "the recording" e2e_log_has dpdk "recording started: session 1"
sleep 1
e2e_stop fe 20
e2e_expect_eq "the front-end's exit status" "${E2E_RC[fe]}" 0
e2e_wait_exit cap 15
e2e_expect_eq "tshark's exit status" "${E2E_RC[cap]}" 0
grep -i 'lua' "$E2E_DIR/cap.log" && e2e_fail "tshark printed the Lua messages above"

# Frames: number|session|declared|request|reply.
grep '^[0-9]*|' "$E2E_DIR/cap.log" >"$E2E_DIR/cap.txt" || true
awk -F'|' '$3 == "1" || $3 == "True" { d[$4]++ } $3 == "" || $3 == "0" { l[$4]++ }
	END { for (r in d) print "declared", r; for (r in l) print "live", r }' \
	"$E2E_DIR/cap.txt" | sort >"$E2E_DIR/cap.kinds"
for want in "declared SET_FEATURES" "declared SET_MEM_TABLE" \
	"declared SET_VRING_KICK" "declared SET_VRING_CALL" \
	"live GET_VRING_BASE"; do
	grep -qx "$want" "$E2E_DIR/cap.kinds" ||
		e2e_fail "the capture has no $want frame: $(tr '\n' ',' <"$E2E_DIR/cap.kinds")"
done
awk -F'|' '$2 != "1" { exit 1 }' "$E2E_DIR/cap.txt" ||
	e2e_fail "a frame of another session than 1"
# Declared frames all come first.
awk -F'|' '($3 == "1" || $3 == "True") && seen_live { exit 1 }
	$3 == "" || $3 == "0" { seen_live = 1 }' "$E2E_DIR/cap.txt" ||
	e2e_fail "a declared frame after a live one"
ws_check_trace "$E2E_DIR/cap.pcapng" dpdk
n=$(awk -F'|' '$3 == "1" || $3 == "True"' "$E2E_DIR/cap.txt" | wc -l)
e2e_log "tshark -i vuproxy-dpdk-s1: $n declared frames, then the teardown live ($(wc -l <"$E2E_DIR/cap.txt") frames)"
e2e_stop dpdk 10
e2e_expect_eq "vuproxy's exit status" "${E2E_RC[dpdk]}" 0
e2e_stop be 20
e2e_log "PASS"
