#!/bin/bash
# dump.sh - `vuproxy dump` on good, cut, corrupt, empty and foreign files,
# and its --session / --request filters.
#
# The trace: vuproxy -w (under umask 000) with three trace_peer sessions,
# s1 (3 numbered SET_VRING_NUM), s2 (4), s3 (2000, each followed by a
# SET_CONFIG with 64 bytes of noise), then SIGINT.
# - the whole trace: 0600, gzip -t passes, dump exits 0, stderr empty,
#   one line per message, "N messages written" agrees; uncompressed with
#   zcat, dump prints the same;
# - cut with head -c at 10%, 50%, 90%: dump prints a prefix of the whole
#   trace's lines (more for a longer cut), exits 2, and says on stderr, in
#   one line, that the file is cut short and how many records it read
#   (the number of lines it printed);
# - corrupt files: random bytes, gzip of random bytes, a gzip header then
#   an invalid deflate block, and the trace with an invalid deflate block
#   right after a sync flush in its middle: exit 2, an error that says
#   "corrupt" (not "cut short": nothing is missing, the bytes are wrong),
#   and for the last one every record before the damage is printed (as
#   many as from the file cut at that byte);
# - an empty file and a missing file: exit 2 with a message;
# - pcapng files that are not vuproxy's (an Ethernet capture, with or
#   without packets, plain and gzipped; a LINKTYPE_USER0 capture without
#   vuproxy's pseudo-header), checked valid with capinfos first: exit 2,
#   "not a vuproxy trace";
# - a vuproxy trace with no session at all (started, then SIGINT): valid,
#   dump exits 0 and prints nothing;
# - --session N and --request NAME[,NAME] select exactly the right lines;
#   an unknown request name or a bad session number: exit 2.
set -eu
. "$(dirname "$0")/tlib.sh"

t_init trace_dump
t_need_cmd gzip jq timeout awk head grep capinfos
t_need_exe VUPROXY TRACE_PEER

fails=()
# check WHAT CONDITION...: record a failure, go on (so one run reports
# every broken promise).
check() {
	local what=$1
	shift
	if "$@"; then
		t_log "ok: $what"
	else
		t_log "NOT OK: $what"
		fails+=("$what")
	fi
}

TRACE=$T_DIR/three.pcapng.gz
t_vuproxy_for_peer vp "$TRACE"
t_peer_run vp 3 0
t_peer_run vp 4 0
t_peer_run vp 2000 64
S3_MSGS=$T_PEER_MSGS
t_stop vp
t_expect_eq "vuproxy exit status after SIGINT" "${T_RC[vp]}" 0
TOTAL=$((7 + 8 + S3_MSGS))
t_expect_eq "vuproxy's 'messages written' count" "$(t_messages_written vp)" "$TOTAL"
t_expect_eq "trace mode (umask 000)" "$(t_mode "$TRACE")" 600
gzip -t "$TRACE" || t_fail "the SIGINT-terminated trace fails gzip -t"

t_dump "$T_DIR/full.txt" "$TRACE"
t_expect_eq "dump of the whole trace: exit status" "$T_DUMP_RC" 0
[ ! -s "$T_DIR/full.txt.err" ] || t_fail "dump of the whole trace wrote to stderr: $(cat "$T_DIR/full.txt.err")"
t_expect_eq "dump of the whole trace: lines" "$(wc -l <"$T_DIR/full.txt")" "$TOTAL"

# The trace uncompressed (zcat works): the same lines, exit 0.
zcat "$TRACE" >"$T_DIR/plain.pcapng" || t_fail "zcat of the trace failed"
t_dump "$T_DIR/plain.txt" "$T_DIR/plain.pcapng"
check "uncompressed trace: exit status 0 (stderr: $(cat "$T_DIR/plain.txt.err"))" [ "$T_DUMP_RC" = 0 ]
check "uncompressed trace: the same lines" cmp -s "$T_DIR/plain.txt" "$T_DIR/full.txt"
t_dump "$T_DIR/help.txt" --help
check "dump --help: exit status 0" [ "$T_DUMP_RC" = 0 ]
check "dump --help: documents --json, --session, --request" \
	eval 'grep -q -- --json "$T_DIR/help.txt" && grep -q -- --session "$T_DIR/help.txt" && grep -q -- --request "$T_DIR/help.txt"'

# ---- cut files ----
size=$(stat -c %s "$TRACE")
prev=0
for pct in 10 50 90; do
	cut=$T_DIR/cut$pct.pcapng.gz
	head -c $((size * pct / 100)) "$TRACE" >"$cut"
	t_dump "$T_DIR/cut$pct.txt" "$cut"
	n=$(wc -l <"$T_DIR/cut$pct.txt")
	err=$(cat "$T_DIR/cut$pct.txt.err")
	t_log "cut at $pct% ($((size * pct / 100)) of $size bytes): $n lines, exit $T_DUMP_RC; stderr: $err"
	check "cut $pct%: exit status 2" [ "$T_DUMP_RC" = 2 ]
	check "cut $pct%: some records recovered, more than a shorter cut" [ "$n" -gt "$prev" ]
	check "cut $pct%: fewer records than the whole file" [ "$n" -lt "$TOTAL" ]
	check "cut $pct%: the lines are the first $n of the whole trace's" \
		cmp -s "$T_DIR/cut$pct.txt" <(head -n "$n" "$T_DIR/full.txt")
	check "cut $pct%: one line on stderr" [ "$(wc -l <"$T_DIR/cut$pct.txt.err")" = 1 ]
	check "cut $pct%: stderr names the file and says it is cut short" \
		grep -qE "^vuproxy dump: $cut: .*cut short" "$T_DIR/cut$pct.txt.err"
	check "cut $pct%: stderr says '$n records read'" grep -qE "[^0-9]$n records read" "$T_DIR/cut$pct.txt.err"
	prev=$n
done

# ---- corrupt files ----
# expect_corrupt FILE WHAT: exit 2, nothing on stdout, one stderr line
# naming FILE and calling it corrupt or not a pcapng / vuproxy file, not
# "cut short".
expect_corrupt() {
	local f=$1 what=$2 out=$T_DIR/${1##*/}.txt
	t_dump "$out" "$f"
	t_log "$what: exit $T_DUMP_RC; stderr: $(cat "$out.err")"
	check "$what: exit status 2" [ "$T_DUMP_RC" = 2 ]
	check "$what: nothing on stdout" [ ! -s "$out" ]
	check "$what: an error naming the file on stderr" grep -qF "vuproxy dump: $f" "$out.err"
	check "$what: the error says corrupt / not a pcapng / not a vuproxy trace" \
		grep -qE "corrupt|not a pcapng|not a vuproxy trace" "$out.err"
	check "$what: the error does not claim the file is cut short" \
		eval '! grep -q "cut short" "$out.err"'
}
{ printf 'RAND'; head -c 4092 /dev/urandom; } >"$T_DIR/random.bin"
expect_corrupt "$T_DIR/random.bin" "random bytes"
head -c 4096 /dev/urandom | gzip >"$T_DIR/random.gz"
expect_corrupt "$T_DIR/random.gz" "gzip of random bytes"
# gzip header (deflate, no flags), then a deflate block of type 3, which
# does not exist: "invalid block type".
{ printf '\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03\x06'; head -c 200 /dev/urandom; } >"$T_DIR/baddeflate.gz"
expect_corrupt "$T_DIR/baddeflate.gz" "gzip header then an invalid deflate block"

# The trace damaged in the middle: every control message ends with a sync
# flush (00 00 ff ff, byte-aligned); the byte after one starts a deflate
# block.  Make that block invalid (type 3).
mapfile -t marks < <(LC_ALL=C grep -obUaP '\x00\x00\xff\xff' "$TRACE" | cut -d: -f1)
[ "${#marks[@]}" -gt 100 ] || t_fail "only ${#marks[@]} sync-flush markers in a trace of $TOTAL messages"
at=$((${marks[$((${#marks[@]} / 2))]} + 4))
head -c "$at" "$TRACE" >"$T_DIR/upto.pcapng.gz"
t_dump "$T_DIR/upto.txt" "$T_DIR/upto.pcapng.gz"
n_before=$(wc -l <"$T_DIR/upto.txt")
[ "$T_DUMP_RC" = 2 ] && [ "$n_before" -gt 0 ] ||
	t_fail "the trace cut at the sync flush at byte $at: exit $T_DUMP_RC, $n_before lines ($(cat "$T_DIR/upto.txt.err"))"
cp "$TRACE" "$T_DIR/damaged.pcapng.gz"
printf '\x06' | dd of="$T_DIR/damaged.pcapng.gz" bs=1 seek="$at" conv=notrunc status=none
t_dump "$T_DIR/damaged.txt" "$T_DIR/damaged.pcapng.gz"
n=$(wc -l <"$T_DIR/damaged.txt")
t_log "trace damaged at byte $at of $size: $n lines (the cut there: $n_before), exit $T_DUMP_RC; stderr: $(cat "$T_DIR/damaged.txt.err")"
check "damaged trace: exit status 2" [ "$T_DUMP_RC" = 2 ]
check "damaged trace: every record before the damage printed ($n_before, got $n)" [ "$n" = "$n_before" ]
check "damaged trace: the lines are the whole trace's first ones" \
	cmp -s "$T_DIR/damaged.txt" <(head -n "$n" "$T_DIR/full.txt")
check "damaged trace: stderr says corrupt" grep -q "corrupt" "$T_DIR/damaged.txt.err"
check "damaged trace: stderr does not claim the file is cut short" \
	eval '! grep -q "cut short" "$T_DIR/damaged.txt.err"'

# ---- empty, missing ----
: >"$T_DIR/empty.pcapng.gz"
t_dump "$T_DIR/empty.txt" "$T_DIR/empty.pcapng.gz"
t_log "empty file: exit $T_DUMP_RC; stderr: $(cat "$T_DIR/empty.txt.err")"
check "empty file: exit status 2" [ "$T_DUMP_RC" = 2 ]
check "empty file: a message naming it on stderr" grep -qF "vuproxy dump: $T_DIR/empty.pcapng.gz" "$T_DIR/empty.txt.err"
t_dump "$T_DIR/missing.txt" "$T_DIR/no-such-file.pcapng.gz"
check "missing file: exit status 2" [ "$T_DUMP_RC" = 2 ]
check "missing file: the error names it" grep -qF "no-such-file.pcapng.gz" "$T_DIR/missing.txt.err"

# ---- pcapng files that are not vuproxy's ----
# Little-endian pcapng written byte by byte.
le16() { printf "$(printf '\\x%02x\\x%02x' $(($1 & 255)) $(($1 >> 8 & 255)))"; }
le32() { le16 $(($1 & 65535)); le16 $(($1 >> 16 & 65535)); }
shb() { le32 0x0A0D0D0A; le32 28; le32 0x1A2B3C4D; le16 1; le16 0; le32 0xffffffff; le32 0xffffffff; le32 28; }
idb() { le32 1; le32 20; le16 "$1"; le16 0; le32 262144; le32 20; } # LINKTYPE
epb() { # HEXBYTES of the packet (length a multiple of 4)
	local len=$((${#1} / 2)) i
	le32 6; le32 $((32 + len)); le32 0; le32 0x0005f000; le32 0x12345678
	le32 "$len"; le32 "$len"
	for ((i = 0; i < ${#1}; i += 2)); do printf "\\x${1:$i:2}"; done
	le32 $((32 + len))
}
ARP=ffffffffffff020000000001080600010800060400010200000000010a000001000000000000$(printf '0%.0s' {1..44})
{ shb; idb 1; epb "$ARP"; epb "$ARP"; } >"$T_DIR/ether.pcapng"
gzip -c "$T_DIR/ether.pcapng" >"$T_DIR/ether.pcapng.gz"
{ shb; idb 1; } >"$T_DIR/ether-nopackets.pcapng"
{ shb; idb 147; epb "$(printf 'not a vuproxy packet, 32 bytes!!' | od -An -tx1 -v | tr -d ' \n')"; } >"$T_DIR/user0.pcapng"
for f in ether.pcapng ether.pcapng.gz ether-nopackets.pcapng user0.pcapng; do
	capinfos "$T_DIR/$f" >"$T_DIR/$f.capinfos" 2>&1 ||
		t_fail "test input $f is not a valid pcapng for capinfos: $(cat "$T_DIR/$f.capinfos")"
	t_dump "$T_DIR/$f.txt" "$T_DIR/$f"
	t_log "$f: exit $T_DUMP_RC; stderr: $(cat "$T_DIR/$f.txt.err")"
	check "$f: exit status 2" [ "$T_DUMP_RC" = 2 ]
	check "$f: stderr says 'not a vuproxy trace'" grep -q "not a vuproxy trace" "$T_DIR/$f.txt.err"
	check "$f: nothing on stdout" [ ! -s "$T_DIR/$f.txt" ]
done

# ---- a vuproxy trace without any session ----
t_vuproxy_umask0 idle 30 --frontend "listen:$T_DIR/idle-fe.sock" \
	--backend "connect:$T_DIR/idle-be.sock" -w "$T_DIR/idle.pcapng.gz"
t_wait 10 "idle vuproxy to listen" t_unix_listening "$T_DIR/idle-fe.sock"
t_stop idle
t_expect_eq "idle vuproxy exit status" "${T_RC[idle]}" 0
t_expect_eq "idle vuproxy 'messages written'" "$(t_messages_written idle)" 0
gzip -t "$T_DIR/idle.pcapng.gz" || t_fail "the trace of an idle vuproxy fails gzip -t"
t_dump "$T_DIR/idle.txt" "$T_DIR/idle.pcapng.gz"
check "trace without sessions: dump exit status 0 (stderr: $(cat "$T_DIR/idle.txt.err"))" [ "$T_DUMP_RC" = 0 ]
check "trace without sessions: nothing printed" [ ! -s "$T_DIR/idle.txt" ]

# ---- filters ----
# filt NAME EXPECTED_LINES ARGS...: dump ARGS exits 0 with that many lines.
filt() {
	local name=$1 want=$2
	shift 2
	t_dump "$T_DIR/f-$name.out" "$@"
	check "dump $* : exit status 0 (stderr: $(cat "$T_DIR/f-$name.out.err"))" [ "$T_DUMP_RC" = 0 ]
	check "dump $* : $want lines (got $(wc -l <"$T_DIR/f-$name.out"))" [ "$(wc -l <"$T_DIR/f-$name.out")" = "$want" ]
}
filt s2 8 "$TRACE" --session 2
check "--session 2: every line is s2" eval '! grep -v " s2 " "$T_DIR/f-s2.out" | grep -q .'
filt s1json 7 "$TRACE" --json --session 1
check "--json --session 1: every record is session 1" \
	eval '[ -z "$(jq -c "select(.session != 1)" "$T_DIR/f-s1json.out")" ]'
filt svn2 4 "$TRACE" --request SET_VRING_NUM --session 2
check "--request SET_VRING_NUM --session 2: nums 0 1 2 3 of s2" \
	eval '[ "$(grep -o " s2 front-end>back-end SET_VRING_NUM index=0 num=[0-9]*" "$T_DIR/f-svn2.out" | sed "s/.*num=//" | tr "\n" " ")" = "0 1 2 3 " ]'
filt gf 12 "$TRACE" --request GET_FEATURES
check "--request GET_FEATURES: only GET_FEATURES, 6 requests and 6 replies" \
	eval '[ "$(grep -c " GET_FEATURES reply " "$T_DIR/f-gf.out")" = 6 ] && [ "$(grep -c " GET_FEATURES (0 B" "$T_DIR/f-gf.out")" = 6 ]'
filt two 7 "$TRACE" --json --request GET_FEATURES,SET_VRING_NUM --session 1
check "--request GET_FEATURES,SET_VRING_NUM --session 1: the right records" \
	eval '[ "$(jq -r "[.session, .request, .reply] | @tsv" "$T_DIR/f-two.out" | sort | uniq -c | tr -s " " | tr "\t\n" ",;")" = " 2 1,GET_FEATURES,false; 2 1,GET_FEATURES,true; 3 1,SET_VRING_NUM,false;" ]'
filt none 0 "$TRACE" --request SET_CONFIG --session 1
filt s3cfg 2000 "$TRACE" --request SET_CONFIG --session 3
# bad NAME ARGS...: exit 2, nothing on stdout, stderr mentions NEEDLE.
bad() {
	local needle=$1
	shift
	t_dump "$T_DIR/bad.out" "$@"
	check "dump $* : exit status 2 (got $T_DUMP_RC)" [ "$T_DUMP_RC" = 2 ]
	check "dump $* : nothing on stdout" [ ! -s "$T_DIR/bad.out" ]
	check "dump $* : stderr mentions '$needle'" grep -qF -- "$needle" "$T_DIR/bad.out.err"
}
bad NO_SUCH_REQUEST "$TRACE" --request NO_SUCH_REQUEST
bad BOGUS "$TRACE" --request GET_FEATURES,BOGUS
bad "--session" "$TRACE" --session one
bad "--session" "$TRACE" --session -1

if [ "${#fails[@]}" != 0 ]; then
	printf '  - %s\n' "${fails[@]}" >&2
	t_fail "${#fails[@]} checks failed (listed above)"
fi
t_log PASS
