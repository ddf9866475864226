# qemu_lib.sh - helpers for the QEMU end-to-end tests (sourced, not run).
# Every process is started under `timeout`, remembered, and only those are
# stopped on exit.  Scratch files and sockets live in one mktemp -d directory.
# A missing tool is a failure, never a skip.

# lib.sh's helpers that need no process of its own (e2e_check_trace);
# their failures end the test the QEMU way (qe_fail: logs, scratch kept).
# shellcheck source=lib.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"
e2e_fail() { qe_fail "$@"; }

# qe_init NAME: scratch directory in $W, cleanup trap.
qe_init() {
	QE_NAME=$1
	QE_FAILED=0
	PIDS=()
	LOGS=()
	CLEANUP_EXTRA=()
	W=$(mktemp -d "${TMPDIR:-/tmp}/vup-$1.XXXXXX") || { echo "FAIL: $1: mktemp -d failed"; exit 1; }
	trap qe_cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
}

# ours PID: PID is alive and still a child of this shell (not a reused pid).
ours() { [ "$(ps -o ppid= -p "$1" 2>/dev/null | tr -d ' ')" = "$$" ]; }

qe_cleanup() {
	local p alive=()
	for p in "${PIDS[@]}"; do
		ours "$p" && { kill -TERM "$p" 2>/dev/null; alive+=("$p"); }
	done
	# timeout(1) forwards the signal to its process group and escalates to
	# SIGKILL itself after -k seconds; wait for that.
	for p in "${alive[@]}"; do
		local i=0
		while ours "$p" && [ $i -lt 80 ]; do sleep 0.1; i=$((i + 1)); done
		ours "$p" && kill -KILL "$p" 2>/dev/null
	done
	for p in "${CLEANUP_EXTRA[@]}"; do rm -rf -- "$p"; done
	rmdir "$W" 2>/dev/null # nothing in it: nothing to keep
	if [ ! -d "$W" ]; then
		:
	elif [ "${KEEP:-0}" = 1 ] || [ "$QE_FAILED" = 1 ]; then
		echo "kept scratch directory $W"
	else
		rm -rf -- "$W"
	fi
}

# forget PID: a reaped child leaves the cleanup list (its pid may be reused).
forget() {
	local p keep=()
	for p in "${PIDS[@]}"; do [ "$p" = "$1" ] || keep+=("$p"); done
	PIDS=("${keep[@]}")
}

# qe_log LABEL FILE: a log whose tail is printed on failure.
qe_log() { LOGS+=("$1|$2"); }

qe_tails() {
	local e
	for e in "${LOGS[@]}"; do
		local label=${e%%|*} file=${e#*|}
		echo "----- $label: last 40 lines of $file -----"
		if [ -s "$file" ]; then tail -n 40 "$file" | tr -d '\r\033'; else echo "(empty or missing)"; fi
	done
	echo "----- end of logs -----"
}

# qe_fail MESSAGE: say why, show the logs, keep the scratch directory, exit 1.
qe_fail() {
	QE_FAILED=1
	echo "FAIL: $QE_NAME: $*"
	qe_tails
	exit 1
}

# qe_need_cmd CMD...: every CMD must be on PATH.
qe_need_cmd() {
	local c
	for c in "$@"; do
		command -v "$c" >/dev/null 2>&1 || qe_fail "required program '$c' not found (see the header of $0)"
	done
}

qe_need_vuproxy() {
	[ -n "${VUPROXY:-}" ] || qe_fail "VUPROXY is not set (VUPROXY=path/to/build/vuproxy $0)"
	[ -x "$VUPROXY" ] || qe_fail "VUPROXY=$VUPROXY is not an executable file"
}

# find_kernel: KERNEL (env or newest /boot/vmlinuz-*) and its KVER.
find_kernel() {
	if [ -z "${KERNEL:-}" ]; then
		KERNEL=$(printf '%s\n' /boot/vmlinuz-* | grep -v '\*$' | sort -V | tail -1)
		[ -n "$KERNEL" ] || qe_fail "no guest kernel: /boot/vmlinuz-* missing (install linux-image-amd64, or set KERNEL)"
	fi
	[ -r "$KERNEL" ] || qe_fail "guest kernel $KERNEL is not readable"
	KVER=${KVER:-$(basename "$KERNEL" | sed 's/^vmlinuz-//')}
	[ -d "/lib/modules/$KVER" ] || qe_fail "no modules for guest kernel $KVER in /lib/modules (set KVER)"
}

# build_initramfs OUT: the guest's busybox initramfs, built now.
build_initramfs() {
	local here
	here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
	"$here/mkinitramfs.sh" "$1" "$KVER" >"$W/mkinitramfs.log" 2>&1 ||
		{ qe_log mkinitramfs "$W/mkinitramfs.log"; qe_fail "building the guest initramfs failed"; }
}

now() { echo "$EPOCHREALTIME"; }
# since T0: seconds since T0, two decimals.
since() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.2f", b - a }'; }

# spawn VAR LIMIT SIGNAL LOG CMD...: run CMD under timeout (killed with
# SIGNAL after LIMIT s, SIGKILL 5 s later), stdout+stderr to LOG, pid in VAR.
spawn() {
	local var=$1 limit=$2 sig=$3 log=$4
	shift 4
	timeout -k 5 -s "$sig" "$limit" "$@" </dev/null >"$log" 2>&1 &
	PIDS+=($!)
	printf -v "$var" '%s' "$!"
}

# wait_log FILE REGEX SECS PID...: 0 when REGEX (grep -E) shows up in FILE,
# 1 after SECS, 2 when one of PIDs has exited first.
wait_log() {
	local file=$1 re=$2 secs=$3
	shift 3
	local end
	end=$(awk -v a="$EPOCHREALTIME" -v s="$secs" 'BEGIN { printf "%.0f", (a + s) * 1000 }')
	while :; do
		grep -qE -- "$re" "$file" 2>/dev/null && return 0
		local p
		for p in "$@"; do
			if ! kill -0 "$p" 2>/dev/null; then
				grep -qE -- "$re" "$file" 2>/dev/null && return 0
				return 2
			fi
		done
		local t=${EPOCHREALTIME/./}
		[ $((t / 1000)) -ge "$end" ] && return 1
		sleep 0.05
	done
}

# wait_exit PID SECS: 0 and $WAIT_RC when PID exits within SECS, else 1.
wait_exit() {
	local pid=$1 i=0 n
	n=$(($2 * 10))
	while kill -0 "$pid" 2>/dev/null && [ $i -lt $n ]; do sleep 0.1; i=$((i + 1)); done
	kill -0 "$pid" 2>/dev/null && return 1
	wait "$pid"
	WAIT_RC=$?
	forget "$pid"
	return 0
}

# stop PID SIGNAL SECS: signal one of our processes, wait for it; $WAIT_RC.
# The signal goes to the program under the timeout wrapper PID, not to
# timeout: it would also send it, and a SIGCONT, to the whole group (see
# e2e_stop in lib.sh for why that hangs an ASan build at exit).
stop() {
	local prog
	# Not awk over /proc/*/stat: mawk gives up on the first process that
	# exits meanwhile, and the signal would then hit the wrapper alone
	# (SIGKILL: the program lives on, orphaned).
	prog=$(pgrep -P "$1" | head -n 1)
	ours "$1" && kill -"$2" "${prog:-$1}" 2>/dev/null
	wait_exit "$1" "$3" && return 0
	ours "$1" && kill -KILL "$1" 2>/dev/null
	wait "$1" 2>/dev/null
	forget "$1"
	WAIT_RC=137
	return 1
}

# qe_milestone NAME REGEX SECS WHAT: wait for REGEX on the guest console
# ($GUEST) while QEMU ($Q_PID) runs; T_NAME = seconds since $T0.
qe_milestone() {
	wait_log "$GUEST" "$2" "$3" "$Q_PID"
	case $? in
	0) printf -v "T_$1" '%s' "$(since "$T0")" ;;
	1) qe_fail "$4 (waited $3 s for '$2' on the guest console)" ;;
	2) wait_exit "$Q_PID" 5
	   qe_fail "$4: QEMU exited (status $WAIT_RC) before '$2' showed on the guest console" ;;
	esac
}

# start_testpmd NAME SOCK [SOCK...]: dpdk-testpmd as a vhost-user server on
# each SOCK (a net_vhost port each; icmpecho: answers ARP and pings, each
# port on itself), logging every vhost-user message it reads, in
# $W/NAME.log; DPDK's files under $PREFIX-NAME; its lcores on CPU $TP_CPU
# (default 0).  Waits until it has bound every SOCK; its pid in TP_PID.
start_testpmd() {
	local name=$1 log=$W/$1.log cpu=${TP_CPU:-0} vdevs=() s i=0
	shift
	for s in "$@"; do
		vdevs+=(--vdev "net_vhost$i,iface=$s,queues=1")
		i=$((i + 1))
	done
	qe_log "$name" "$log"
	CLEANUP_EXTRA+=("/var/run/dpdk/$PREFIX-$name" "${XDG_RUNTIME_DIR:-/nonexistent}/dpdk/$PREFIX-$name")
	spawn TP_PID "$LIMIT" INT "$log" dpdk-testpmd --lcores "0@$cpu,1@$cpu" --no-pci --no-huge -m 256 \
		--file-prefix="$PREFIX-$name" "${vdevs[@]}" \
		--log-level=lib.vhost.config:debug \
		-- --stats-period=1 --nb-cores=1 --total-num-mbufs=8192 --port-topology=loop \
		--forward-mode=icmpecho
	for s in "$@"; do
		wait_log "$log" "\\($s\\) binding succeeded" 60 "$TP_PID"
		case $? in
		1) qe_fail "dpdk-testpmd $name did not bind $s within 60 s" ;;
		2) qe_fail "dpdk-testpmd $name exited before binding $s" ;;
		esac
		[ -S "$s" ] || qe_fail "dpdk-testpmd $name says it bound $s but there is no socket"
	done
}

# start_guest NAME APPEND DEVICE-ARGS...: QEMU, a TCG guest with shareable
# memory ($MEM, memfd) and the vhost-user device of DEVICE-ARGS (-chardev
# ... -device ..., and any other QEMU options), booting the initramfs with
# APPEND on its kernel command line (see mkinitramfs.sh); on CPU $QE_CPU if
# set (taskset).  Console and QEMU's stderr in $W/NAME.log ($GUEST), pid in
# Q_PID, T0 its start (for qe_milestone).
start_guest() {
	local name=$1 append=$2 pin=()
	shift 2
	[ -z "${QE_CPU:-}" ] || pin=(taskset -c "$QE_CPU")
	GUEST=$W/$name.log
	qe_log "$name: guest console + QEMU stderr" "$GUEST"
	T0=$(now)
	spawn Q_PID "$LIMIT" TERM "$GUEST" "${pin[@]}" qemu-system-x86_64 -accel tcg -cpu max -M q35 -m "$MEM" -smp 1 \
		-nodefaults -no-user-config -display none -serial stdio -no-reboot \
		-object memory-backend-memfd,id=mem,size="$MEM",share=on -numa node,memdev=mem \
		"$@" -kernel "$KERNEL" -initrd "$W/initramfs.cpio.gz" \
		-append "console=ttyS0 panic=-1 quiet $append"
}

# net_args CHARDEV: in NET_ARGS, the options of a virtio-net-pci whose
# vhost-user socket is `-chardev socket,id=c0,CHARDEV` (vectors=0: QEMU 7.2
# with TCG crashes at DRIVER_OK without it).
net_args() {
	# shellcheck disable=SC2034,SC2054 # for the caller's QEMU command line (commas are QEMU's)
	NET_ARGS=(-chardev "socket,id=c0,$1" -netdev vhost-user,id=n0,chardev=c0
		-device virtio-net-pci,netdev=n0,mac=52:54:00:12:34:56,vectors=0)
}

# net_guest NAME CHARDEV APPEND [QEMU-ARGS...]: start_guest with net_args
# CHARDEV, lab.net=1 APPEND; returns once the guest's eth0 is up (T_init,
# T_net).
net_guest() {
	local name=$1 append=$3
	net_args "$2"
	shift 3
	start_guest "$name" "lab.net=1 $append" "${NET_ARGS[@]}" "$@"
	qe_milestone init 'LAB: init started' "$BOOT_TIMEOUT" "$name: the guest never came up"
	qe_milestone net 'LAB: NET-READY|LAB: NET-FAIL' 60 "$name: the guest's eth0 never came up"
	if grep -q 'LAB: NET-FAIL' "$GUEST"; then
		qe_fail "$name: the guest has no eth0 (virtio-net over vhost-user did not probe)"
	fi
}

# start_vuproxy FE BE: vuproxy -v (bounded by $LIMIT s) with its log in
# $W/$VUP_NAME.log (default vuproxy.log), and the options in the array
# VUP_EXTRA; waits for the listening socket of a listen: side.  A test with
# several vuproxies sets VUP_NAME and keeps each one's VUP_PID and VUP_LOG.
VUP_EXTRA=()
start_vuproxy() {
	VUP_LOG=$W/${VUP_NAME:-vuproxy}.log
	qe_log "${VUP_NAME:-vuproxy}" "$VUP_LOG"
	spawn VUP_PID "${LIMIT:?}" INT "$VUP_LOG" "$VUPROXY" --frontend "$1" --backend "$2" -v \
		"${VUP_EXTRA[@]}"
	local ep
	for ep in "$1" "$2"; do
		case $ep in
		listen:*)
			local sock=${ep#listen:} i=0
			until [ -S "$sock" ]; do
				kill -0 "$VUP_PID" 2>/dev/null || qe_fail "vuproxy exited before listening on $sock"
				[ $i -ge 200 ] && qe_fail "vuproxy did not listen on $sock within 10 s"
				sleep 0.05; i=$((i + 1))
			done ;;
		esac
	done
}

# stop_vuproxy: SIGINT, expect exit 0 and the summary line; sets VUP_SUMMARY,
# VUP_SESSIONS, VUP_FAILED, VUP_MSGS.
stop_vuproxy() {
	stop "$VUP_PID" INT 10 || qe_fail "vuproxy did not exit within 10 s of SIGINT"
	[ "$WAIT_RC" = 0 ] || qe_fail "vuproxy exited with status $WAIT_RC after SIGINT (expected 0)"
	VUP_SUMMARY=$(grep -E '^vuproxy: [0-9]+ sessions \([0-9]+ failed\), [0-9]+ messages relayed' "$VUP_LOG" | tail -1)
	[ -n "$VUP_SUMMARY" ] || qe_fail "vuproxy printed no summary line on SIGINT"
	# shellcheck disable=SC2034 # used by the test scripts
	read -r VUP_SESSIONS VUP_FAILED VUP_MSGS < <(echo "$VUP_SUMMARY" |
		sed -E 's/^vuproxy: ([0-9]+) sessions \(([0-9]+) failed\), ([0-9]+) messages.*/\1 \2 \3/')
}

# vup_saw REGEX: vuproxy's -v log has a relayed-message line matching REGEX.
vup_saw() { grep -qE -- "$1" "$VUP_LOG"; }

# tap_counts Q [LOG]: "C K M T B U" from the last "s1 tap qQ: consumed C,
# captured K[ (U unverified)], missed M, torn T, malformed B" line of
# vuproxy's log (default $VUP_LOG); U is 0-padded (read it as 10#$U).
tap_counts() {
	grep " s1 tap q$1: consumed " "${2:-$VUP_LOG}" | tail -n 1 |
		sed -E 's/.*consumed ([0-9]+), captured ([0-9]+)( \(([0-9]+) unverified\))?, missed ([0-9]+), torn ([0-9]+), malformed ([0-9]+).*/\1 \2 \5 \6 \7 0\4/'
}

# QMP over a pair of FIFOs, so that no socket client (socat, python) is
# needed.  QEMU opens NAME-qmp.in and NAME-qmp.out read-write, so neither
# side blocks on open; we hold NAME-qmp.in read-write too (a write never
# blocks on a QEMU that died) and a `cat` under timeout copies QEMU's
# answers and events to $W/NAME-qmp.log.
#   qe_qmp_prepare NAME          before QEMU starts: FIFOs; QMP_ARGS = its options
#   qe_qmp_connect NAME          after: reader, greeting, qmp_capabilities
#   qe_qmp NAME CMD [ARGS-JSON]  run CMD, wait for its answer (10 s), in $QMP_REPLY
declare -A QMP_FD=()
QMP_ID=0
qe_qmp_prepare() {
	rm -f "$W/$1-qmp.in" "$W/$1-qmp.out"
	mkfifo "$W/$1-qmp.in" "$W/$1-qmp.out" || qe_fail "mkfifo for $1's QMP failed"
	local fd
	exec {fd}<>"$W/$1-qmp.in"
	QMP_FD[$1]=$fd
	# shellcheck disable=SC2034,SC2054 # for the test's QEMU command line (commas are QEMU's)
	QMP_ARGS=(-chardev "pipe,id=qmp,path=$W/$1-qmp" -mon chardev=qmp,mode=control)
}

qe_qmp_connect() {
	local pid
	spawn pid "${LIMIT:?}" TERM "$W/$1-qmp.log" cat "$W/$1-qmp.out"
	qe_log "$1 QMP" "$W/$1-qmp.log"
	wait_log "$W/$1-qmp.log" '"QMP"' 30 "$pid" || qe_fail "$1: no QMP greeting within 30 s"
	qe_qmp "$1" qmp_capabilities
}

qe_qmp() {
	local name=$1 cmd=$2 args=${3:-} line i=0
	QMP_ID=$((QMP_ID + 1))
	if [ -n "$args" ]; then
		line="{\"execute\":\"$cmd\",\"arguments\":$args,\"id\":$QMP_ID}"
	else
		line="{\"execute\":\"$cmd\",\"id\":$QMP_ID}"
	fi
	printf '%s\n' "$line" >&"${QMP_FD[$name]}"
	while :; do
		QMP_REPLY=$(grep -F "\"id\": $QMP_ID}" "$W/$name-qmp.log" 2>/dev/null | tail -1)
		[ -n "$QMP_REPLY" ] && break
		[ $i -ge 200 ] && qe_fail "$name: no QMP answer to $cmd within 10 s"
		sleep 0.05; i=$((i + 1))
	done
	case $QMP_REPLY in
	*'"error"'*) qe_fail "$name: QMP $cmd failed: $QMP_REPLY" ;;
	esac
}
