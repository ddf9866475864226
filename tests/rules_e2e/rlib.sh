# shellcheck shell=bash
# rlib.sh - helpers for the rules end-to-end tests: DPDK testpmd
# net_virtio_user (front-end) -> vuproxy -r RULES -w TRACE -> testpmd
# net_vhost (back-end).  Built on ../e2e/lib.sh (processes under `timeout`,
# scratch directory, cleanup of our own processes only).  Source it from a
# bash script running with `set -eu`:
#
#     . "$(dirname "$0")/rlib.sh"
#     rx_init rules_something          # scratch dir $E2E_DIR, tools checked
#     rx_be be "$E2E_DIR/be.sock"      # testpmd net_vhost, server, rxonly
#     rx_vuproxy vp rules/x.yaml "$E2E_DIR/t.pcapng.gz"
#     rx_fe fe "$E2E_DIR/fe.sock"      # testpmd net_virtio_user, txonly
#
# Environment: VUPROXY (required: the binary under test), RULES_DIR (the
# rules/ directory of the source tree; default ../../rules from here),
# E2E_TESTPMD (default dpdk-testpmd), E2E_READY_TIMEOUT (default 60 s: the
# machine may be shared with another CI run), E2E_BE_CPU / E2E_FE_CPU
# (default 0 / 1), E2E_KEEP=1 keeps the scratch directory.
# A missing tool is a failure, never a skip.

RX_HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../e2e/lib.sh
. "$RX_HERE/../e2e/lib.sh"

RULES_DIR=${RULES_DIR:-$RX_HERE/../../rules}
TESTPMD=${E2E_TESTPMD:-dpdk-testpmd}
READY_TIMEOUT=${E2E_READY_TIMEOUT:-60}
BE_CPU=${E2E_BE_CPU:-0}
FE_CPU=${E2E_FE_CPU:-1}
LIMIT=${RX_LIMIT:-150} # hard bound on every process we start (s)
READY_MSG="virtio is now ready for processing"

# rx_init NAME [TOOLS...]: scratch directory, tools, the binary under test,
# a unique DPDK --file-prefix base.
rx_init() {
	e2e_init "$1"
	shift
	e2e_need_cmd timeout awk sed grep diff jq "$@"
	[ -n "${VUPROXY:-}" ] || e2e_fail "VUPROXY is not set (path of the vuproxy binary under test)"
	[ -x "$VUPROXY" ] || e2e_fail "VUPROXY=$VUPROXY is not an executable file"
	[ -d "$RULES_DIR" ] || e2e_fail "RULES_DIR=$RULES_DIR is not a directory"
	# EAL's runtime directory must be unique per process: others run
	# testpmd on this machine at the same time.
	RX_PREFIX="vuprx-${E2E_DIR##*.}-$$"
	if [ "$(id -u)" = 0 ]; then
		RX_DPDK_RUNDIR=/var/run/dpdk
	else
		RX_DPDK_RUNDIR=${XDG_RUNTIME_DIR:-/tmp}/dpdk
	fi
}

# The rules file NAME.yaml of the source tree, checked to exist.
rx_rules() {
	local f=$RULES_DIR/$1.yaml
	[ -r "$f" ] || e2e_fail "no rules file $f"
	echo "$f"
}

# testpmd's common arguments.  --no-huge: EAL memory is a memfd that
# virtio_user passes in SET_MEM_TABLE.  Main and forwarding lcores share
# one CPU.  --stats-period keeps testpmd running without a terminal.
RX_EAL=(--no-pci --no-huge -m 512)
RX_TP=(--stats-period=1 --total-num-mbufs=16384)

# rx_be NAME SOCKET [QUEUES [CLIENT]]: testpmd net_vhost (the back-end),
# rxonly, logging every vhost-user message it reads.
rx_be() {
	local name=$1 sock=$2 q=${3:-1} client=${4:-0}
	local vdev="net_vhost0,iface=$sock,queues=$q"
	[ "$client" = 0 ] || vdev="$vdev,client=1"
	e2e_check_sun_path "$sock"
	e2e_on_exit rm -rf -- "$RX_DPDK_RUNDIR/$RX_PREFIX-$name"
	e2e_start "$name" "$LIMIT" "$TESTPMD" --lcores "0@$BE_CPU,1@$BE_CPU" \
		"${RX_EAL[@]}" --file-prefix="$RX_PREFIX-$name" --vdev "$vdev" \
		--log-level=lib.vhost.config:debug \
		-- "${RX_TP[@]}" --nb-cores=1 --rxq="$q" --txq="$q" --forward-mode=rxonly
}

# rx_fe NAME SOCKET [QUEUES [PACKED [SERVER]]]: testpmd net_virtio_user
# (the front-end), txonly; a vhost-user client, or with SERVER=1 a server
# (server=1: it listens on SOCKET, waits for a connection before its port
# exists, and accepts the next one after a disconnect).
rx_fe() {
	local name=$1 sock=$2 q=${3:-1} packed=${4:-0} server=${5:-0}
	local vdev="net_virtio_user0,path=$sock,queues=$q,packed_vq=$packed,mrg_rxbuf=1,in_order=1"
	[ "$server" = 0 ] || {
		e2e_check_sun_path "$sock"
		vdev="$vdev,server=1"
	}
	e2e_on_exit rm -rf -- "$RX_DPDK_RUNDIR/$RX_PREFIX-$name"
	e2e_start "$name" "$LIMIT" "$TESTPMD" --lcores "0@$FE_CPU,1@$FE_CPU" \
		"${RX_EAL[@]}" --file-prefix="$RX_PREFIX-$name" --vdev "$vdev" \
		--log-level='pmd.net.virtio.*:info' \
		-- "${RX_TP[@]}" --nb-cores=1 --rxq="$q" --txq="$q" --forward-mode=txonly
}

# rx_vuproxy NAME RULES TRACE [ARGS...]: vuproxy -v -r RULES -w TRACE,
# --frontend $RX_VP_FRONTEND (default listen:$E2E_DIR/NAME-fe.sock),
# --backend $RX_VP_BACKEND (default connect:$RX_BE_SOCK, itself by default
# $E2E_DIR/be.sock); waits until it listens on each listen: side.  RULES
# may be "-": no rules.
rx_vuproxy() {
	local name=$1 rules=$2 trace=$3 r=() ep
	local fe=${RX_VP_FRONTEND:-listen:$E2E_DIR/$name-fe.sock}
	local be=${RX_VP_BACKEND:-connect:${RX_BE_SOCK:-$E2E_DIR/be.sock}}
	shift 3
	[ "$rules" = - ] || r=(-r "$rules")
	for ep in "$fe" "$be"; do
		e2e_check_sun_path "${ep#*:}"
	done
	e2e_start "$name" "$LIMIT" "$VUPROXY" -v "${r[@]}" -w "$trace" \
		--frontend "$fe" --backend "$be" "$@"
	for ep in "$fe" "$be"; do
		case $ep in
		listen:*) e2e_wait 20 "$name to listen on ${ep#listen:}" e2e_unix_listening "${ep#listen:}" ;;
		esac
	done
}

# rx_pid NAME: the program's own pid (the child of its `timeout`).
rx_pid() {
	local parent=${E2E_PID[$1]} f stat ppid
	for f in /proc/[0-9]*/stat; do
		{ read -r stat <"$f"; } 2>/dev/null || continue
		read -r _ ppid _ <<<"${stat##*) }"
		[ "$ppid" = "$parent" ] || continue
		f=${f#/proc/}
		echo "${f%/stat}"
		return 0
	done
	return 1
}

# rx_signal NAME SIG: signal the program itself, once (not its `timeout`
# wrapper, which would pass it on to the program and then to its group).
rx_signal() {
	local p
	p=$(rx_pid "$1") || e2e_fail "rx_signal: $1 has no running program"
	kill "-$2" "$p"
}

# rx_stop_vuproxy NAME: SIGINT to vuproxy itself, expect exit status 0.
rx_stop_vuproxy() {
	local name=$1 end
	rx_signal "$name" INT
	end=$(($(date +%s) + 15))
	while e2e_alive "$name" && [ "$(date +%s)" -lt "$end" ]; do sleep 0.05; done
	e2e_stop "$name" 5
	[ "${E2E_RC[$name]}" = 0 ] || e2e_fail "$name exited with status ${E2E_RC[$name]} after SIGINT, expected 0"
}

# rx_link_up NAME: back-end NAME logged READY_MSG (fails at once on a
# testpmd that could not create its port).
rx_link_up() {
	local n
	for n in "$@"; do
		! e2e_log_has "$n" "vdev_probe(): failed" ||
			e2e_fail "$n: testpmd could not create its port (vdev probe failed, see $n.log)"
	done
	e2e_log_has "$1" "$READY_MSG"
}

rx_wait_link() { # BE [FE]
	e2e_wait "$READY_TIMEOUT" "'$READY_MSG' in $1.log" rx_link_up "$@"
}

# The vhost-user requests back-end NAME read, in order, one per line,
# without VHOST_USER_.
rx_be_requests() {
	grep -o 'read message VHOST_USER_[A-Z0-9_]*' "$E2E_DIR/$1.log" |
		sed 's/^read message VHOST_USER_//' || true
}

# The feature word back-end NAME negotiated (testpmd's "negotiated Virtio
# features: 0x..."), the last one logged, as hex without 0x.
rx_negotiated() {
	sed -n 's/.*negotiated Virtio features: 0x\([0-9a-fA-F]*\).*/\1/p' \
		"$E2E_DIR/$1.log" | tail -n 1
}

# rx_bit HEX N: bit N of the hex word HEX (0 or 1).
rx_bit() { echo $(((16#$1 >> $2) & 1)); }

# RX-packets / TX-packets from testpmd's final "Accumulated forward
# statistics" block (empty if none was printed).
rx_final() { # NAME RX-packets:|TX-packets:
	sed 's/\x1b\[[0-9;]*[A-Za-z]//g' "$E2E_DIR/$1.log" |
		awk -v k="$2" '/Accumulated forward statistics/ { acc = 1; next }
		     acc && $1 == k { n = $2; acc = 0 }
		     END { if (n != "") print n }'
}

# rx_stop_testpmd NAME: SIGINT, exit status 0 expected.
rx_stop_testpmd() {
	e2e_stop "$1" 20
	[ "${E2E_RC[$1]}" = 0 ] || e2e_fail "$1 exited with status ${E2E_RC[$1]}, expected 0"
}

# rx_dump OUT TRACE [ARGS...]: vuproxy dump --json TRACE into OUT.
rx_dump() {
	local out=$1 trace=$2 rc=0
	shift 2
	timeout 60 "$VUPROXY" dump --json "$trace" "$@" >"$out" 2>"$out.err" || rc=$?
	[ "$rc" = 0 ] || e2e_fail "vuproxy dump --json $trace exited $rc: $(cat "$out.err")"
}

# Drop testpmd's periodic statistics from log tails shown on failure.
e2e_log_filter() {
	awk '/Port statistics =/ { skip = 1; next }
	     skip && /^ *#+ *$/ { skip = 0; next }
	     !skip && NF'
}

# rx_check_rules FILE: `vuproxy rules check FILE` says valid (exit 0).
rx_check_rules() {
	local out rc=0
	out=$(timeout 10 "$VUPROXY" rules check "$1" 2>&1) || rc=$?
	[ "$rc" = 0 ] || e2e_fail "vuproxy rules check $1 exited $rc: $out"
	e2e_log "rules check: $out"
}

# The number of open fds of process PID.
rx_nfds() { find "/proc/$1/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l; }
# The number of eventfds process PID holds.
rx_neventfds() {
	local n=0 f
	for f in /proc/"$1"/fd/*; do
		[ "$(readlink "$f" 2>/dev/null)" = "anon_inode:[eventfd]" ] && n=$((n + 1))
	done
	echo "$n"
}

# rx_wait TIMEOUT WHAT CMD [ARGS...]: like e2e_wait, but only the
# processes named in RX_WATCH (default: every one started) exiting ends
# the wait early: for a phase where a peer is expected to give up.
rx_wait() {
	local timeout=$1 what=$2 end name
	shift 2
	end=$(($(date +%s%N) + timeout * 1000000000))
	while ! "$@"; do
		for name in ${RX_WATCH:-${E2E_NAMES[*]}}; do
			[ -n "${E2E_RC[$name]+x}" ] || e2e_alive "$name" ||
				e2e_fail "$name exited while waiting for $what"
		done
		[ "$(date +%s%N)" -lt "$end" ] ||
			e2e_fail "timed out after ${timeout}s waiting for $what"
		sleep 0.05
	done
}

# rx_summary_ok NAME: vuproxy NAME's summary line says 0 failed sessions.
rx_summary_ok() {
	local s
	s=$(grep '^vuproxy: [0-9]* sessions (' "$E2E_DIR/$1.log" | tail -n 1 || true)
	[ -n "$s" ] || e2e_fail "$1 printed no summary line"
	case $s in
	*" sessions (0 failed), "*) e2e_log "$1: $s" ;;
	*) e2e_fail "$1 reported failed sessions: $s" ;;
	esac
}
