#!/bin/bash
# wfile.sh - what -w FILE refuses to open (vuproxy often runs as root, in a
# directory others may write to): each case exits 1 at once with one
# line naming FILE and why, leaves FILE and whatever it points at as it
# was, and creates no listening socket.
#   - a FIFO with no reader: "not a regular file", within 5 s (the open is
#     non-blocking: a planted FIFO must not hang start-up);
#   - a FIFO with a reader: "not a regular file", nothing written to it;
#   - a unix socket: "not a regular file";
#   - a hard link to another file: "has other hard links", the content of
#     both names unchanged (truncating it would destroy the other file);
#   - a symbolic link to a file: "is a symbolic link", the target intact.
# And what it takes: a stale regular file of ours (one link) is replaced by
# a trace, mode 0600 under umask 000, which dump reads.
set -eu
# shellcheck source=../e2e/lib.sh
. "$(dirname "$0")/../e2e/lib.sh"

e2e_init trace_wfile
e2e_need_cmd timeout mkfifo python3 stat cmp
e2e_need_exe VUPROXY

FE_SOCK=$E2E_DIR/fe.sock
ORIG=$E2E_DIR/orig.txt
printf 'precious content\n' >"$ORIG"
cp "$ORIG" "$E2E_DIR/orig.copy"

# refused NAME WHAT FILE: vuproxy -w FILE exits 1 within 5 s, its output
# names FILE and holds WHAT, no front-end socket is left.
refused() {
	local name=$1 what=$2 file=$3 rc=0 t0 t1
	t0=$(date +%s%N)
	timeout 10 "$VUPROXY" --frontend "listen:$FE_SOCK" \
		--backend "connect:$E2E_DIR/be.sock" -w "$file" >"$E2E_DIR/$name.out" 2>&1 || rc=$?
	t1=$(date +%s%N)
	e2e_expect_eq "$name: exit status (output: $(cat "$E2E_DIR/$name.out"))" "$rc" 1
	[ $(((t1 - t0) / 1000000)) -lt 5000 ] ||
		e2e_fail "$name: vuproxy took $(((t1 - t0) / 1000000)) ms to refuse"
	grep -qF -- "$file: $what" "$E2E_DIR/$name.out" ||
		e2e_fail "$name: no '$file: $what' in: $(cat "$E2E_DIR/$name.out")"
	[ ! -e "$FE_SOCK" ] || e2e_fail "$name: the front-end socket was created"
	e2e_log "$name: refused in $(((t1 - t0) / 1000000)) ms: $(cat "$E2E_DIR/$name.out")"
}

# A FIFO nobody reads: a blocking open would wait forever.
mkfifo -m 600 "$E2E_DIR/fifo.pcapng.gz"
refused fifo "not a regular file" "$E2E_DIR/fifo.pcapng.gz"
[ -p "$E2E_DIR/fifo.pcapng.gz" ] || e2e_fail "fifo: the FIFO was replaced"

# A FIFO with a reader: the open succeeds, the check refuses it before
# anything is written.
timeout 20 cat "$E2E_DIR/fifo.pcapng.gz" >"$E2E_DIR/fifo.read" &
catpid=$!
sleep 0.2
refused fifo_read "not a regular file" "$E2E_DIR/fifo.pcapng.gz"
wait "$catpid" || true
[ ! -s "$E2E_DIR/fifo.read" ] || e2e_fail "fifo_read: $(stat -c %s "$E2E_DIR/fifo.read") bytes written to the FIFO"

# A unix socket (open gives ENXIO).
python3 -c 'import socket, sys; s = socket.socket(socket.AF_UNIX); s.bind(sys.argv[1])' "$E2E_DIR/sock.pcapng.gz"
refused socket "not a regular file" "$E2E_DIR/sock.pcapng.gz"
[ -S "$E2E_DIR/sock.pcapng.gz" ] || e2e_fail "socket: the socket file was replaced"

# A hard link to another file.
ln "$ORIG" "$E2E_DIR/hard.pcapng.gz"
refused hardlink "has other hard links" "$E2E_DIR/hard.pcapng.gz"
cmp -s "$ORIG" "$E2E_DIR/orig.copy" || e2e_fail "hardlink: the linked file changed: $(od -c "$ORIG" | head -n 3)"
e2e_expect_eq "hardlink: links of the other file" "$(stat -c %h "$ORIG")" 2
e2e_expect_eq "hardlink: mode of the other file" "$(e2e_mode "$ORIG")" "$(e2e_mode "$E2E_DIR/orig.copy")"

# A symbolic link.
ln -s "$ORIG" "$E2E_DIR/sym.pcapng.gz"
refused symlink "is a symbolic link" "$E2E_DIR/sym.pcapng.gz"
cmp -s "$ORIG" "$E2E_DIR/orig.copy" || e2e_fail "symlink: the target changed"

# A stale regular file of ours: replaced by the trace.
printf 'old junk\n' >"$E2E_DIR/t.pcapng.gz"
chmod 0644 "$E2E_DIR/t.pcapng.gz"
e2e_vuproxy_umask0 vp 30 --frontend "listen:$FE_SOCK" --backend "connect:$E2E_DIR/be.sock" \
	-w "$E2E_DIR/t.pcapng.gz"
e2e_wait 10 "vuproxy to listen" e2e_log_has vp "listening on"
e2e_stop vp
e2e_expect_eq "a stale regular file: vuproxy exit status" "${E2E_RC[vp]}" 0
e2e_expect_eq "the trace's mode (umask 000)" "$(e2e_mode "$E2E_DIR/t.pcapng.gz")" 600
e2e_dump "$E2E_DIR/t.dump" "$E2E_DIR/t.pcapng.gz"
e2e_expect_eq "dump of the new trace (stderr: $(cat "$E2E_DIR/t.dump.err"))" "$E2E_DUMP_RC" 0
e2e_log PASS
