#!/bin/bash
# tshark_dpdk.sh VUPROXY LUA - record a real vhost-user session with
# `vuproxy -w` and read it with tshark and the dissector LUA.
#
#   DPDK testpmd net_virtio_user (front-end) <-> vuproxy -w TRACE
#                                             <-> testpmd net_vhost (back-end)
#
# Both testpmd run with --no-huge (EAL memory is a memfd, passed in
# SET_MEM_TABLE).  Once the back-end reports the device ready the front-end
# is stopped (its shutdown requests are part of the trace), then vuproxy,
# which closes the trace, then the back-end.  Then (tshark_lib.sh) tshark
# must show the same request names, count and reply flags as `vuproxy dump
# --json`, the same Info lines and the same value for every field; and
# here: no expert info at all (vuproxy relayed every message, so each
# passed the same catalogue checks the dissector makes), and two decoded
# values checked by name: the num of SET_VRING_NUM and the feature word of
# the GET_FEATURES reply.
#
# Environment: E2E_TESTPMD (default dpdk-testpmd), E2E_BE_CPU / E2E_FE_CPU
# (default 0 / 1), E2E_READY_TIMEOUT (default 30 s), E2E_KEEP=1 keeps the
# scratch directory of a passing run.  Every process is started under
# `timeout` and stopped by its pid; nothing is skipped: a missing testpmd,
# tshark or jq fails the test.
set -eu
[ $# = 2 ] || { echo "usage: $0 VUPROXY LUA" >&2; exit 2; }
VUPROXY=$1 LUA=$2
. "$(dirname "$0")/tshark_lib.sh"

TESTPMD=${E2E_TESTPMD:-dpdk-testpmd}
BE_CPU=${E2E_BE_CPU:-0}
FE_CPU=${E2E_FE_CPU:-1}
READY_TIMEOUT=${E2E_READY_TIMEOUT:-30}
LIMIT=$((READY_TIMEOUT * 2 + 60))
READY_MSG="virtio is now ready for processing"

ws_need "$TESTPMD" tshark jq timeout diff awk

WS_DIR=$(mktemp -d "${TMPDIR:-/tmp}/vup-wsdpdk.XXXXXX")
# EAL's runtime directory is per --file-prefix: unique per run, since
# others run testpmd on this machine at the same time.
PREFIX="vupws-${WS_DIR##*.}-$$"
if [ "$(id -u)" = 0 ]; then
	DPDK_RUNDIR=/var/run/dpdk
else
	DPDK_RUNDIR=${XDG_RUNTIME_DIR:-/tmp}/dpdk
fi

declare -A PID=() RC=()
NAMES=()

# start NAME CMD...: in the background under `timeout`, output to NAME.log.
start() {
	local name=$1
	shift
	timeout -k 5 -s INT "$LIMIT" "$@" </dev/null >"$WS_DIR/$name.log" 2>&1 &
	PID[$name]=$!
	NAMES+=("$name")
	echo "started $name (pid $!): $*"
}

# True while our child $1 (a `timeout` wrapper) has not exited.
alive() {
	local pid=$1 stat rest
	[ -r "/proc/$pid/stat" ] || return 1
	read -r stat <"/proc/$pid/stat" 2>/dev/null || return 1
	rest=${stat##*) }
	set -- $rest
	[ "$1" != Z ] && [ "$2" = "$$" ]
}

# The pid of the program our `timeout` wrapper $1 runs (empty if none).
program_of() {
	local parent=$1 f stat rest
	for f in /proc/[0-9]*/stat; do
		read -r stat <"$f" 2>/dev/null || continue
		rest=${stat##*) }
		set -- $rest # state ppid ...
		[ "$2" = "$parent" ] || continue
		f=${f#/proc/}
		echo "${f%/stat}"
		return 0
	done
}

# stop NAME [GRACE]: SIGINT to the program, then SIGKILL to it and its
# wrapper after GRACE seconds; the status lands in RC.  The signal goes to
# the program itself: signalled, `timeout` would deliver it twice (to the
# program and to its process group), and a second SIGINT during shutdown
# may hit a program whose handler is gone.
stop() {
	local name=$1 grace=${2:-15} pid=${PID[$1]} end rc=0 prog
	[ -z "${RC[$name]+x}" ] || return 0
	if alive "$pid"; then
		prog=$(program_of "$pid")
		kill -INT "${prog:-$pid}" 2>/dev/null || true
		end=$(($(date +%s) + grace))
		while alive "$pid" && [ "$(date +%s)" -lt "$end" ]; do
			sleep 0.05
		done
		if alive "$pid"; then
			echo "$name did not stop ${grace}s after SIGINT; killing it" >&2
			prog=$(program_of "$pid")
			[ -z "$prog" ] || kill -KILL "$prog" 2>/dev/null || true
			kill -KILL "$pid" 2>/dev/null || true
		fi
	fi
	wait "$pid" 2>/dev/null || rc=$?
	RC[$name]=$rc
	echo "$name exited with status $rc"
}

cleanup() {
	local rc=$? name f
	trap - EXIT INT TERM HUP
	for name in "${NAMES[@]}"; do
		stop "$name" 3 >/dev/null 2>&1 || true
	done
	rm -rf -- "$DPDK_RUNDIR/$PREFIX-be" "$DPDK_RUNDIR/$PREFIX-fe"
	if [ "$rc" != 0 ]; then
		for f in "$WS_DIR"/*.log; do
			[ -e "$f" ] || continue
			printf '\n----- last lines of %s -----\n' "$f" >&2
			tail -n 25 "$f" | sed 's/\x1b\[[0-9;]*[A-Za-z]//g' >&2
		done
		echo "files kept in $WS_DIR" >&2
	elif [ "${E2E_KEEP:-0}" = 1 ]; then
		echo "files kept in $WS_DIR"
	else
		rm -rf -- "$WS_DIR"
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

# listening PATH: some process listens on the unix socket PATH.
listening() {
	awk -v p="$1" '$4 == "00010000" && $NF == p { found = 1 }
	               END { exit !found }' /proc/net/unix
}

# wait_for WHAT CMD...: poll CMD for READY_TIMEOUT seconds; fail early if
# a process we started has exited.
wait_for() {
	local what=$1 end name
	shift
	end=$(($(date +%s) + READY_TIMEOUT))
	while ! "$@"; do
		for name in "${NAMES[@]}"; do
			[ -n "${RC[$name]+x}" ] || alive "${PID[$name]}" ||
				ws_fail "$name exited while waiting for $what"
		done
		[ "$(date +%s)" -lt "$end" ] ||
			ws_fail "timed out after ${READY_TIMEOUT}s waiting for $what"
		sleep 0.05
	done
}

has() { grep -qF -- "$2" "$WS_DIR/$1.log" 2>/dev/null; }

BE_SOCK="$WS_DIR/be.sock" FE_SOCK="$WS_DIR/fe.sock"
TRACE="$WS_DIR/trace.pcapng.gz"
[ "${#FE_SOCK}" -lt 108 ] || ws_fail "socket path too long: $FE_SOCK; set TMPDIR"

EAL=(--no-pci --no-huge -m 512)
TP=(--stats-period=1 --nb-cores=1 --total-num-mbufs=16384)
start be "$TESTPMD" --lcores "0@$BE_CPU,1@$BE_CPU" "${EAL[@]}" \
	--file-prefix="$PREFIX-be" --vdev "net_vhost0,iface=$BE_SOCK,queues=1" \
	-- "${TP[@]}" --forward-mode=rxonly
wait_for "the back-end to listen" listening "$BE_SOCK"
start vuproxy "$VUPROXY" -v -w "$TRACE" \
	--frontend "listen:$FE_SOCK" --backend "connect:$BE_SOCK"
wait_for "vuproxy to listen" listening "$FE_SOCK"
start fe "$TESTPMD" --lcores "0@$FE_CPU,1@$FE_CPU" "${EAL[@]}" \
	--file-prefix="$PREFIX-fe" \
	--vdev "net_virtio_user0,path=$FE_SOCK,queues=1" \
	-- "${TP[@]}" --forward-mode=txonly
wait_for "'$READY_MSG' in the back-end log" has be "$READY_MSG"
sleep 1
# The front-end's shutdown (SET_VRING_ENABLE 0, GET_VRING_BASE) goes
# through vuproxy before it exits.
stop fe 20
[ "${RC[fe]}" = 0 ] || ws_fail "the front-end exited with status ${RC[fe]}"
wait_for "vuproxy to end the session" has vuproxy " closed: "
stop vuproxy 10
[ "${RC[vuproxy]}" = 0 ] || ws_fail "vuproxy exited with status ${RC[vuproxy]}"
has vuproxy "messages written to $TRACE" ||
	ws_fail "vuproxy did not report writing the trace"
stop be 20

ws_check_trace "$TRACE" dpdk
base="$WS_DIR/dpdk"

# A healthy session: the dissector's catalogue checks flag nothing.
ws_tshark "$base.expert" -r "$TRACE" -Y _ws.expert
if [ -s "$base.expert" ]; then
	cat "$base.expert" >&2
	ws_fail "tshark shows expert infos on a session vuproxy relayed (above)"
fi

# Two values by field name.
want=$(jq -r 'select(.request == "SET_VRING_NUM") | .payload.num' \
	"$base.dump.json")
ws_tshark "$base.num" -r "$TRACE" -Y 'vhostuser.request_name == "SET_VRING_NUM"' \
	-T fields -e vhostuser.vring_state.num
[ -n "$want" ] || ws_fail "no SET_VRING_NUM in the trace"
[ "$(cat "$base.num")" = "$want" ] ||
	ws_fail "SET_VRING_NUM num: tshark '$(tr '\n' ' ' <"$base.num")'," \
		"vuproxy dump '$(echo $want)'"
echo "SET_VRING_NUM num: $(echo $want) in both"

want=$(jq -r 'select(.request == "GET_FEATURES" and .reply) | .payload.features' \
	"$base.dump.json" | ws_hex)
ws_tshark "$base.features" -r "$TRACE" \
	-Y 'vhostuser.request_name == "GET_FEATURES" && vhostuser.flags.reply == 1' \
	-T fields -e vhostuser.features
[ -n "$want" ] || ws_fail "no GET_FEATURES reply in the trace"
[ "$(ws_hex <"$base.features")" = "$want" ] ||
	ws_fail "GET_FEATURES reply: tshark $(cat "$base.features"), vuproxy dump 0x$want"
ws_tshark "$base.features.bits" -r "$TRACE" \
	-Y 'vhostuser.request_name == "GET_FEATURES" && vhostuser.flags.reply == 1' \
	-T fields -e vhostuser.features.bit
jq -r 'select(.request == "GET_FEATURES" and .reply) | .payload.features_bits | join(",")' \
	"$base.dump.json" >"$base.features.bits.dump"
cmp -s "$base.features.bits" "$base.features.bits.dump" ||
	ws_fail "GET_FEATURES reply bits: tshark $(cat "$base.features.bits"), dump $(cat "$base.features.bits.dump")"
echo "GET_FEATURES reply: 0x$want, $(tr ',' '\n' <"$base.features.bits" | wc -l) named bits, in both"
echo PASS
