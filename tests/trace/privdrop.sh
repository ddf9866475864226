#!/bin/bash
# privdrop.sh - issue 7, least privilege: `vuproxy --user NAME` (root only)
# opens its listening sockets and the trace, then runs as NAME for good.
# NAME is `nobody` (uid 65534 on Debian), which every system has: the test
# creates no user.  It needs root (as CI runs it) and fails without it.
#
# Refusals, each exit 2 with one clear line, before anything is created (no
# socket, no trace file):
#   - an unknown user ("no such user"); --user root ("uid 0");
#   - a user whose primary group is 0 ("gid 0"): none exists on Debian, so
#     vuproxy runs in a mount namespace of its own where a private copy of
#     /etc/passwd adds one (no user is created on the system);
#   - --user when not root (run as nobody through setpriv: "only root");
#   - -C with a trace directory NAME cannot write to (rotation creates the
#     next files there as NAME): the line names the directory.
# Warnings, vuproxy runs: a -r file NAME cannot read (SIGHUP could not
# reload it) and a connect: socket NAME cannot write to.  That vuproxy, in
# connect/connect mode, shows that even its first connection is made as
# NAME: the back-end's socket (testpmd's, root's, mode 0755) refuses it
# with "Permission denied", which root would not get.
# A real session as nobody: testpmd net_vhost (root) -> the socket given
# to group nogroup, g+w -> vuproxy --user nobody -w -r (listen/connect) ->
# testpmd net_virtio_user (root):
#   - /proc/PID/status: Uid and Gid all 65534, Groups 65534 (initgroups),
#     CapPrm and CapEff 0; "running as nobody" logged after "listening";
#   - the device comes up, the back-end's RX-packets grow;
#   - SIGHUP reloads the rules file (readable by nobody) as nobody;
#   - the trace (opened by root before the drop, 0600) holds every
#     request the back-end read; SIGINT: exit 0, "N messages written".
# Rotation as nobody: trace_peer through vuproxy --user nobody -w DIR/t -C 1
# -W 2, DIR owned by nobody: files past the first are created by nobody
# (owner 65534, mode 0600), the first (root's) is removed by -W, no
# rotation error, the last file reads back with dump.
#
# Environment: VUPROXY, TRACE_PEER, T_TESTPMD (default dpdk-testpmd),
# T_BE_CPU / T_FE_CPU (default 0 / 1), E2E_KEEP=1.
set -eu
# shellcheck source=../e2e/lib.sh
. "$(dirname "$0")/../e2e/lib.sh"

TESTPMD=${T_TESTPMD:-dpdk-testpmd}
BE_CPU=${T_BE_CPU:-0}
FE_CPU=${T_FE_CPU:-1}
READY_MSG="virtio is now ready for processing"
USER_NAME=nobody

e2e_init privdrop_user
e2e_need_cmd "$TESTPMD" setpriv getent stat jq gzip timeout awk sed unshare mount
e2e_need_exe VUPROXY TRACE_PEER
[ "$(id -u)" = 0 ] || e2e_fail "this test needs root (vuproxy --user drops root)"
NUID=$(getent passwd "$USER_NAME" | cut -d: -f3)
NGID=$(getent passwd "$USER_NAME" | cut -d: -f4)
if [ -z "$NUID" ] || [ "$NUID" = 0 ]; then e2e_fail "no user $USER_NAME (uid not 0) on this system"; fi
e2e_log "$USER_NAME is uid $NUID gid $NGID"
# nobody must reach the sockets inside the scratch directory.
chmod 0711 "$E2E_DIR"
umask 022

FE_SOCK=$E2E_DIR/fe.sock
BE_SOCK=$E2E_DIR/be.sock
e2e_check_sun_path "$BE_SOCK"

# refused NAME WHAT ARGS...: vuproxy ARGS exits 2 and its stderr holds WHAT;
# neither its front-end socket nor its trace exists afterwards.
refused() {
	local name=$1 what=$2 rc=0
	shift 2
	timeout 10 "$@" >"$E2E_DIR/$name.log" 2>&1 || rc=$?
	e2e_expect_eq "$name: exit status (output: $(cat "$E2E_DIR/$name.log"))" "$rc" 2
	grep -qF -- "$what" "$E2E_DIR/$name.log" ||
		e2e_fail "$name: no '$what' in: $(cat "$E2E_DIR/$name.log")"
	[ ! -e "$FE_SOCK" ] || e2e_fail "$name: the front-end socket was created"
	[ -z "$(ls "$E2E_DIR"/*.pcapng.gz 2>/dev/null)" ] || e2e_fail "$name: a trace was created"
	e2e_log "$name: refused: $(grep -F -- "$what" "$E2E_DIR/$name.log")"
}
VP=("$VUPROXY" --frontend "listen:$FE_SOCK" --backend "connect:$BE_SOCK" -w "$E2E_DIR/t.pcapng.gz")
refused unknown "--user vup-no-such-user-$$: no such user" "${VP[@]}" --user "vup-no-such-user-$$"
refused root "--user root: root has uid 0" "${VP[@]}" --user root
GID0_USER=vup-gid0-$$
! getent passwd "$GID0_USER" >/dev/null || e2e_fail "a user $GID0_USER exists already"
{
	cat /etc/passwd
	echo "$GID0_USER:x:64999:0:vuproxy test:/nonexistent:/usr/sbin/nologin"
} >"$E2E_DIR/passwd"
chmod 0644 "$E2E_DIR/passwd"
refused gid0 "--user $GID0_USER: $GID0_USER has gid 0 (root's group)" \
	unshare --mount --propagation private sh -c 'mount --bind "$1" /etc/passwd && shift && exec "$@"' \
	sh "$E2E_DIR/passwd" "${VP[@]}" --user "$GID0_USER"
! getent passwd "$GID0_USER" >/dev/null || e2e_fail "$GID0_USER is visible outside vuproxy's mount namespace"
refused not_root "only root can change to another user; vuproxy runs as uid $NUID" \
	setpriv --reuid="$NUID" --regid="$NGID" --clear-groups "${VP[@]}" --user "$USER_NAME"
mkdir -m 0700 "$E2E_DIR/rootonly"
refused rotate_dir "$USER_NAME cannot write to $E2E_DIR/rootonly (-C creates the next trace files there)" \
	"$VUPROXY" --frontend "listen:$FE_SOCK" --backend "connect:$BE_SOCK" \
	-w "$E2E_DIR/rootonly/t.pcapng.gz" -C 1 --user "$USER_NAME"
[ -z "$(ls "$E2E_DIR/rootonly")" ] || e2e_fail "rotate_dir: files created in $E2E_DIR/rootonly"

# The back-end: root's testpmd, its socket 0755 (umask 022).
PREFIX="vuppriv-${E2E_DIR##*.}-$$"
e2e_on_exit rm -rf -- "/var/run/dpdk/$PREFIX-be" "/var/run/dpdk/$PREFIX-fe"
EAL=(--no-pci --no-huge -m 256)
TP=(--stats-period=1 --nb-cores=1 --total-num-mbufs=16384)
e2e_start be 90 "$TESTPMD" --lcores "0@$BE_CPU,1@$BE_CPU" "${EAL[@]}" \
	--file-prefix="$PREFIX-be" --vdev "net_vhost0,iface=$BE_SOCK,queues=1" \
	--log-level=lib.vhost.config:debug -- "${TP[@]}" --forward-mode=rxonly
e2e_wait 30 "the back-end to listen" e2e_unix_listening "$BE_SOCK"
e2e_log "the back-end's socket: $(stat -c '%A %U:%G' "$BE_SOCK")"
if setpriv --reuid="$NUID" --regid="$NGID" --clear-groups test -w "$BE_SOCK"; then
	e2e_fail "$USER_NAME can already write to $BE_SOCK: the warning cannot be tested"
fi

# Warnings, and the first connection made as nobody (connect/connect).
printf 'rules:\n  - name: mark\n    match: {request: GET_FEATURES}\n    action: log\n' >"$E2E_DIR/secret.yaml"
chmod 0600 "$E2E_DIR/secret.yaml"
e2e_start warn 30 "$VUPROXY" --frontend "connect:$E2E_DIR/nofe.sock" \
	--backend "connect:$BE_SOCK" -r "$E2E_DIR/secret.yaml" --user "$USER_NAME" \
	--name "vup-privdrop-$$"
warned() { e2e_log_has warn "back-end connect:$BE_SOCK: Permission denied"; }
e2e_wait 10 "the back-end connect to be refused to $USER_NAME" warned
e2e_stop warn 10
e2e_expect_eq "vuproxy (warnings) exit status" "${E2E_RC[warn]}" 0
for w in "warning: --user $USER_NAME: $USER_NAME cannot read $E2E_DIR/secret.yaml (SIGHUP reloads -r from it): Permission denied" \
	"warning: --user $USER_NAME: $USER_NAME cannot write to $BE_SOCK (--backend connect: needs write permission): Permission denied" \
	"running as $USER_NAME (uid $NUID, gid $NGID) from now on"; do
	e2e_log_has warn "$w" || e2e_fail "no '$w' in the log of vuproxy"
done
# Its default control socket is made before the drop, in root's
# /run/vuproxy (no listening socket to wait for: the drop used to come
# first and the socket could not be made); it stays at exit, stale.
e2e_log_has warn "control: listening on /run/vuproxy/vup-privdrop-$$.ctl" ||
	e2e_fail "connect/connect --user: no control socket (made after the drop?)"
if e2e_log_has warn "control socket:"; then e2e_fail "connect/connect --user: $(grep 'control socket:' "$E2E_DIR/warn.log")"; fi
rm -f "/run/vuproxy/vup-privdrop-$$.ctl"
if e2e_log_has warn "nofe.sock: Permission denied"; then e2e_fail "the missing front-end socket was reported as a permission problem"; fi
e2e_log "connect/connect: the back-end's socket refused $USER_NAME, the rules file warned about"

# Give the back-end's socket to nobody's group, as the README says.
chgrp "$NGID" "$BE_SOCK"
chmod g+w "$BE_SOCK"
e2e_log "the back-end's socket now: $(stat -c '%A %U:%G' "$BE_SOCK")"
chmod 0644 "$E2E_DIR/secret.yaml"
TRACE=$E2E_DIR/dpdk.pcapng.gz
e2e_start vp 60 "$VUPROXY" --frontend "listen:$FE_SOCK" --backend "connect:$BE_SOCK" \
	-w "$TRACE" -r "$E2E_DIR/secret.yaml" --user "$USER_NAME"
e2e_wait 10 "vuproxy to listen" e2e_unix_listening "$FE_SOCK"
e2e_wait 10 "vuproxy to drop root" e2e_log_has vp "running as $USER_NAME"
pid=$(e2e_prog_pid vp)
grep -E '^(Uid|Gid|Groups|CapPrm|CapEff|CapAmb):' "/proc/$pid/status" >"$E2E_DIR/status.txt"
e2e_log "vuproxy's /proc/$pid/status: $(tr '\t\n' ' ;' <"$E2E_DIR/status.txt")"
e2e_expect_eq "Uid line" "$(awk '$1 == "Uid:" { print $2, $3, $4, $5 }' "$E2E_DIR/status.txt")" "$NUID $NUID $NUID $NUID"
e2e_expect_eq "Gid line" "$(awk '$1 == "Gid:" { print $2, $3, $4, $5 }' "$E2E_DIR/status.txt")" "$NGID $NGID $NGID $NGID"
e2e_expect_eq "Groups line" "$(awk '$1 == "Groups:" { $1 = ""; print }' "$E2E_DIR/status.txt" | xargs)" \
	"$(id -G "$USER_NAME" | tr ' ' '\n' | sort -n | xargs)"
for c in CapPrm CapEff CapAmb; do
	e2e_expect_eq "$c" "$(awk -v c="$c:" '$1 == c { print $2 }' "$E2E_DIR/status.txt")" 0000000000000000
done
l_listen=$(grep -n "listening on $FE_SOCK" "$E2E_DIR/vp.log" | cut -d: -f1)
l_drop=$(grep -n "running as $USER_NAME" "$E2E_DIR/vp.log" | cut -d: -f1)
[ "$l_listen" -lt "$l_drop" ] || e2e_fail "vuproxy dropped root before it listened"
e2e_expect_eq "the trace's owner and mode (opened before the drop)" "$(stat -c '%u %a' "$TRACE")" "0 600"

e2e_start fe 60 "$TESTPMD" --lcores "0@$FE_CPU,1@$FE_CPU" "${EAL[@]}" \
	--file-prefix="$PREFIX-fe" \
	--vdev "net_virtio_user0,path=$FE_SOCK,queues=1,mrg_rxbuf=1,in_order=1" \
	-- "${TP[@]}" --forward-mode=txonly
e2e_wait 30 "'$READY_MSG' in the back-end's log" e2e_log_has be "$READY_MSG"
be_rx() {
	sed 's/\x1b\[[0-9;]*[A-Za-z]//g' "$E2E_DIR/be.log" |
		awk '$1 == "RX-packets:" { n = $2 } END { print n + 0 }'
}
rx_flowing() { [ "$(be_rx)" -gt 0 ]; }
e2e_wait 10 "packets at the back-end" rx_flowing
rx0=$(be_rx)
sleep 1.2
rx1=$(be_rx)
[ "$rx1" -gt "$rx0" ] || e2e_fail "traffic stopped: back-end RX-packets $rx0 then $rx1"
e2e_log "a session through vuproxy as $USER_NAME: back-end RX-packets $rx0 -> $rx1"

e2e_signal vp HUP
e2e_wait 10 "the rules reloaded as $USER_NAME" e2e_log_has vp "SIGHUP: 1 rules loaded from $E2E_DIR/secret.yaml"
e2e_stop vp 10
e2e_expect_eq "vuproxy exit status after SIGINT" "${E2E_RC[vp]}" 0
e2e_stop fe 20
e2e_stop be 20
grep -q "^vuproxy: [0-9]* messages written to $TRACE\$" "$E2E_DIR/vp.log" ||
	e2e_fail "vuproxy did not print 'N messages written to $TRACE'"
if grep -q "error:" "$E2E_DIR/vp.log"; then e2e_fail "vuproxy logged an error: $(grep error: "$E2E_DIR/vp.log")"; fi
grep -o 'read message VHOST_USER_[A-Z0-9_]*' "$E2E_DIR/be.log" |
	sed 's/^read message //' >"$E2E_DIR/be-requests.txt" || true
e2e_dump "$E2E_DIR/dump.json" --json "$TRACE"
e2e_expect_eq "dump exit status ($(cat "$E2E_DIR/dump.json.err"))" "$E2E_DUMP_RC" 0
jq -r 'select(.reply == false and .from == "front-end") | "VHOST_USER_" + .request' \
	"$E2E_DIR/dump.json" >"$E2E_DIR/trace-requests.txt"
diff -u "$E2E_DIR/be-requests.txt" "$E2E_DIR/trace-requests.txt" >&2 ||
	e2e_fail "the trace's requests differ from what the back-end read"
[ "$(wc -l <"$E2E_DIR/be-requests.txt")" -ge 10 ] || e2e_fail "the back-end read fewer than 10 requests"
e2e_expect_eq "GET_FEATURES marked by the reloaded rule" \
	"$(jq -r 'select(.request == "GET_FEATURES" and .reply == false) | .action' "$E2E_DIR/dump.json" | head -n 1)" log
e2e_log "trace: $(wc -l <"$E2E_DIR/dump.json") records, the $(wc -l <"$E2E_DIR/be-requests.txt") requests the back-end read"

# Rotation as nobody, in a directory nobody owns.
mkdir -m 0700 "$E2E_DIR/caps"
chown "$NUID:$NGID" "$E2E_DIR/caps"
umask 000 # trace_peer's back-end socket: nobody must connect to it
e2e_vuproxy_for_peer rot "$E2E_DIR/caps/t.pcapng.gz" -C 1 -W 2 --user "$USER_NAME"
e2e_peer_run rot 8000 256
umask 022
e2e_stop rot 10
e2e_expect_eq "vuproxy (rotation) exit status" "${E2E_RC[rot]}" 0
if grep -qE "error:|rotation" "$E2E_DIR/rot.log"; then
	e2e_fail "vuproxy reported a problem while rotating: $(grep -E 'error:|rotation' "$E2E_DIR/rot.log")"
fi
ls -ln "$E2E_DIR/caps" >"$E2E_DIR/caps.txt"
[ ! -e "$E2E_DIR/caps/t.pcapng.gz" ] || e2e_fail "-W 2 did not remove the first file (root's): $(cat "$E2E_DIR/caps.txt")"
nfiles=0
for f in "$E2E_DIR"/caps/t.*.pcapng.gz; do
	[ -e "$f" ] || e2e_fail "no rotated file: $(cat "$E2E_DIR/caps.txt")"
	e2e_expect_eq "owner and mode of $f" "$(stat -c '%u %a' "$f")" "$NUID 600"
	nfiles=$((nfiles + 1))
done
e2e_expect_eq "files kept (-W 2)" "$nfiles" 2
last=$(ls "$E2E_DIR"/caps/t.*.pcapng.gz | sort -t. -k2 -n | tail -n 1)
e2e_dump "$E2E_DIR/rot.json" --json "$last"
e2e_expect_eq "dump of $last ($(cat "$E2E_DIR/rot.json.err"))" "$E2E_DUMP_RC" 0
e2e_log "rotation as $USER_NAME: $E2E_PEER_MSGS messages; files $(cd "$E2E_DIR/caps" && echo t.*), owner $NUID, mode 0600"
e2e_log PASS
