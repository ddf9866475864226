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
# shellcheck source=../e2e/lib.sh
. "$(dirname "$0")/../e2e/lib.sh"

e2e_init trace_dump
e2e_need_cmd gzip jq timeout awk head grep capinfos
e2e_need_exe VUPROXY TRACE_PEER

fails=()
# check WHAT CONDITION...: record a failure, go on (so one run reports
# every broken promise).
check() {
	local what=$1
	shift
	if "$@"; then
		e2e_log "ok: $what"
	else
		e2e_log "NOT OK: $what"
		fails+=("$what")
	fi
}

TRACE=$E2E_DIR/three.pcapng.gz
e2e_vuproxy_for_peer vp "$TRACE"
e2e_peer_run vp 3 0
e2e_peer_run vp 4 0
e2e_peer_run vp 2000 64
S3_MSGS=$E2E_PEER_MSGS
e2e_stop vp
e2e_expect_eq "vuproxy exit status after SIGINT" "${E2E_RC[vp]}" 0
TOTAL=$((7 + 8 + S3_MSGS))
e2e_expect_eq "vuproxy's 'messages written' count" "$(e2e_messages_written vp)" "$TOTAL"
e2e_expect_eq "trace mode (umask 000)" "$(e2e_mode "$TRACE")" 600
gzip -t "$TRACE" || e2e_fail "the SIGINT-terminated trace fails gzip -t"

e2e_dump "$E2E_DIR/full.txt" "$TRACE"
e2e_expect_eq "dump of the whole trace: exit status" "$E2E_DUMP_RC" 0
[ ! -s "$E2E_DIR/full.txt.err" ] || e2e_fail "dump of the whole trace wrote to stderr: $(cat "$E2E_DIR/full.txt.err")"
e2e_expect_eq "dump of the whole trace: lines" "$(wc -l <"$E2E_DIR/full.txt")" "$TOTAL"

# The trace uncompressed (zcat works): the same lines, exit 0.
zcat "$TRACE" >"$E2E_DIR/plain.pcapng" || e2e_fail "zcat of the trace failed"
e2e_dump "$E2E_DIR/plain.txt" "$E2E_DIR/plain.pcapng"
check "uncompressed trace: exit status 0 (stderr: $(cat "$E2E_DIR/plain.txt.err"))" [ "$E2E_DUMP_RC" = 0 ]
check "uncompressed trace: the same lines" cmp -s "$E2E_DIR/plain.txt" "$E2E_DIR/full.txt"
e2e_dump "$E2E_DIR/help.txt" --help
check "dump --help: exit status 0" [ "$E2E_DUMP_RC" = 0 ]
check "dump --help: documents --json, --session, --request" \
	eval 'grep -q -- --json "$E2E_DIR/help.txt" && grep -q -- --session "$E2E_DIR/help.txt" && grep -q -- --request "$E2E_DIR/help.txt"'

# ---- cut files ----
size=$(stat -c %s "$TRACE")
prev=0
for pct in 10 50 90; do
	cut=$E2E_DIR/cut$pct.pcapng.gz
	head -c $((size * pct / 100)) "$TRACE" >"$cut"
	e2e_dump "$E2E_DIR/cut$pct.txt" "$cut"
	n=$(wc -l <"$E2E_DIR/cut$pct.txt")
	err=$(cat "$E2E_DIR/cut$pct.txt.err")
	e2e_log "cut at $pct% ($((size * pct / 100)) of $size bytes): $n lines, exit $E2E_DUMP_RC; stderr: $err"
	check "cut $pct%: exit status 2" [ "$E2E_DUMP_RC" = 2 ]
	check "cut $pct%: some records recovered, more than a shorter cut" [ "$n" -gt "$prev" ]
	check "cut $pct%: fewer records than the whole file" [ "$n" -lt "$TOTAL" ]
	check "cut $pct%: the lines are the first $n of the whole trace's" \
		cmp -s "$E2E_DIR/cut$pct.txt" <(head -n "$n" "$E2E_DIR/full.txt")
	check "cut $pct%: one line on stderr" [ "$(wc -l <"$E2E_DIR/cut$pct.txt.err")" = 1 ]
	check "cut $pct%: stderr names the file and says it is cut short" \
		grep -qE "^vuproxy dump: $cut: .*cut short" "$E2E_DIR/cut$pct.txt.err"
	check "cut $pct%: stderr says '$n records read'" grep -qE "[^0-9]$n records read" "$E2E_DIR/cut$pct.txt.err"
	prev=$n
done

# ---- corrupt files ----
# expect_corrupt FILE WHAT: exit 2, nothing on stdout, one stderr line
# naming FILE and calling it corrupt or not a pcapng / vuproxy file, not
# "cut short".
expect_corrupt() {
	local f=$1 what=$2 out=$E2E_DIR/${1##*/}.txt
	e2e_dump "$out" "$f"
	e2e_log "$what: exit $E2E_DUMP_RC; stderr: $(cat "$out.err")"
	check "$what: exit status 2" [ "$E2E_DUMP_RC" = 2 ]
	check "$what: nothing on stdout" [ ! -s "$out" ]
	check "$what: an error naming the file on stderr" grep -qF "vuproxy dump: $f" "$out.err"
	check "$what: the error says corrupt / not a pcapng / not a vuproxy trace" \
		grep -qE "corrupt|not a pcapng|not a vuproxy trace" "$out.err"
	check "$what: the error does not claim the file is cut short" \
		eval '! grep -q "cut short" "$out.err"'
}
{ printf 'RAND'; head -c 4092 /dev/urandom; } >"$E2E_DIR/random.bin"
expect_corrupt "$E2E_DIR/random.bin" "random bytes"
head -c 4096 /dev/urandom | gzip >"$E2E_DIR/random.gz"
expect_corrupt "$E2E_DIR/random.gz" "gzip of random bytes"
# gzip header (deflate, no flags), then a deflate block of type 3, which
# does not exist: "invalid block type".
{ printf '\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03\x06'; head -c 200 /dev/urandom; } >"$E2E_DIR/baddeflate.gz"
expect_corrupt "$E2E_DIR/baddeflate.gz" "gzip header then an invalid deflate block"

# The trace damaged in the middle: every control message ends with a sync
# flush (00 00 ff ff, byte-aligned); the byte after one starts a deflate
# block.  Make that block invalid (type 3).
mapfile -t marks < <(LC_ALL=C grep -obUaP '\x00\x00\xff\xff' "$TRACE" | cut -d: -f1)
[ "${#marks[@]}" -gt 100 ] || e2e_fail "only ${#marks[@]} sync-flush markers in a trace of $TOTAL messages"
at=$((${marks[$((${#marks[@]} / 2))]} + 4))
head -c "$at" "$TRACE" >"$E2E_DIR/upto.pcapng.gz"
e2e_dump "$E2E_DIR/upto.txt" "$E2E_DIR/upto.pcapng.gz"
n_before=$(wc -l <"$E2E_DIR/upto.txt")
[ "$E2E_DUMP_RC" = 2 ] && [ "$n_before" -gt 0 ] ||
	e2e_fail "the trace cut at the sync flush at byte $at: exit $E2E_DUMP_RC, $n_before lines ($(cat "$E2E_DIR/upto.txt.err"))"
cp "$TRACE" "$E2E_DIR/damaged.pcapng.gz"
printf '\x06' | dd of="$E2E_DIR/damaged.pcapng.gz" bs=1 seek="$at" conv=notrunc status=none
e2e_dump "$E2E_DIR/damaged.txt" "$E2E_DIR/damaged.pcapng.gz"
n=$(wc -l <"$E2E_DIR/damaged.txt")
e2e_log "trace damaged at byte $at of $size: $n lines (the cut there: $n_before), exit $E2E_DUMP_RC; stderr: $(cat "$E2E_DIR/damaged.txt.err")"
check "damaged trace: exit status 2" [ "$E2E_DUMP_RC" = 2 ]
check "damaged trace: every record before the damage printed ($n_before, got $n)" [ "$n" = "$n_before" ]
check "damaged trace: the lines are the whole trace's first ones" \
	cmp -s "$E2E_DIR/damaged.txt" <(head -n "$n" "$E2E_DIR/full.txt")
check "damaged trace: stderr says corrupt" grep -q "corrupt" "$E2E_DIR/damaged.txt.err"
check "damaged trace: stderr does not claim the file is cut short" \
	eval '! grep -q "cut short" "$E2E_DIR/damaged.txt.err"'

# ---- empty, missing ----
: >"$E2E_DIR/empty.pcapng.gz"
e2e_dump "$E2E_DIR/empty.txt" "$E2E_DIR/empty.pcapng.gz"
e2e_log "empty file: exit $E2E_DUMP_RC; stderr: $(cat "$E2E_DIR/empty.txt.err")"
check "empty file: exit status 2" [ "$E2E_DUMP_RC" = 2 ]
check "empty file: a message naming it on stderr" grep -qF "vuproxy dump: $E2E_DIR/empty.pcapng.gz" "$E2E_DIR/empty.txt.err"
e2e_dump "$E2E_DIR/missing.txt" "$E2E_DIR/no-such-file.pcapng.gz"
check "missing file: exit status 2" [ "$E2E_DUMP_RC" = 2 ]
check "missing file: the error names it" grep -qF "no-such-file.pcapng.gz" "$E2E_DIR/missing.txt.err"

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
{ shb; idb 1; epb "$ARP"; epb "$ARP"; } >"$E2E_DIR/ether.pcapng"
gzip -c "$E2E_DIR/ether.pcapng" >"$E2E_DIR/ether.pcapng.gz"
{ shb; idb 1; } >"$E2E_DIR/ether-nopackets.pcapng"
{ shb; idb 147; epb "$(printf 'not a vuproxy packet, 32 bytes!!' | od -An -tx1 -v | tr -d ' \n')"; } >"$E2E_DIR/user0.pcapng"
for f in ether.pcapng ether.pcapng.gz ether-nopackets.pcapng user0.pcapng; do
	capinfos "$E2E_DIR/$f" >"$E2E_DIR/$f.capinfos" 2>&1 ||
		e2e_fail "test input $f is not a valid pcapng for capinfos: $(cat "$E2E_DIR/$f.capinfos")"
	e2e_dump "$E2E_DIR/$f.txt" "$E2E_DIR/$f"
	e2e_log "$f: exit $E2E_DUMP_RC; stderr: $(cat "$E2E_DIR/$f.txt.err")"
	check "$f: exit status 2" [ "$E2E_DUMP_RC" = 2 ]
	check "$f: stderr says 'not a vuproxy trace'" grep -q "not a vuproxy trace" "$E2E_DIR/$f.txt.err"
	check "$f: nothing on stdout" [ ! -s "$E2E_DIR/$f.txt" ]
done

# ---- a vuproxy trace without any session ----
e2e_vuproxy_umask0 idle 30 --frontend "listen:$E2E_DIR/idle-fe.sock" \
	--backend "connect:$E2E_DIR/idle-be.sock" -w "$E2E_DIR/idle.pcapng.gz"
e2e_wait 10 "idle vuproxy to listen" e2e_unix_listening "$E2E_DIR/idle-fe.sock"
e2e_stop idle
e2e_expect_eq "idle vuproxy exit status" "${E2E_RC[idle]}" 0
e2e_expect_eq "idle vuproxy 'messages written'" "$(e2e_messages_written idle)" 0
gzip -t "$E2E_DIR/idle.pcapng.gz" || e2e_fail "the trace of an idle vuproxy fails gzip -t"
e2e_dump "$E2E_DIR/idle.txt" "$E2E_DIR/idle.pcapng.gz"
check "trace without sessions: dump exit status 0 (stderr: $(cat "$E2E_DIR/idle.txt.err"))" [ "$E2E_DUMP_RC" = 0 ]
check "trace without sessions: nothing printed" [ ! -s "$E2E_DIR/idle.txt" ]

# ---- filters ----
# filt NAME EXPECTED_LINES ARGS...: dump ARGS exits 0 with that many lines.
filt() {
	local name=$1 want=$2
	shift 2
	e2e_dump "$E2E_DIR/f-$name.out" "$@"
	check "dump $* : exit status 0 (stderr: $(cat "$E2E_DIR/f-$name.out.err"))" [ "$E2E_DUMP_RC" = 0 ]
	check "dump $* : $want lines (got $(wc -l <"$E2E_DIR/f-$name.out"))" [ "$(wc -l <"$E2E_DIR/f-$name.out")" = "$want" ]
}
filt s2 8 "$TRACE" --session 2
check "--session 2: every line is s2" eval '! grep -v " s2 " "$E2E_DIR/f-s2.out" | grep -q .'
filt s1json 7 "$TRACE" --json --session 1
check "--json --session 1: every record is session 1" \
	eval '[ -z "$(jq -c "select(.session != 1)" "$E2E_DIR/f-s1json.out")" ]'
filt svn2 4 "$TRACE" --request SET_VRING_NUM --session 2
check "--request SET_VRING_NUM --session 2: nums 0 1 2 3 of s2" \
	eval '[ "$(grep -o " s2 front-end>back-end SET_VRING_NUM index=0 num=[0-9]*" "$E2E_DIR/f-svn2.out" | sed "s/.*num=//" | tr "\n" " ")" = "0 1 2 3 " ]'
filt gf 12 "$TRACE" --request GET_FEATURES
check "--request GET_FEATURES: only GET_FEATURES, 6 requests and 6 replies" \
	eval '[ "$(grep -c " GET_FEATURES reply " "$E2E_DIR/f-gf.out")" = 6 ] && [ "$(grep -c " GET_FEATURES (0 B" "$E2E_DIR/f-gf.out")" = 6 ]'
filt two 7 "$TRACE" --json --request GET_FEATURES,SET_VRING_NUM --session 1
check "--request GET_FEATURES,SET_VRING_NUM --session 1: the right records" \
	eval '[ "$(jq -r "[.session, .request, .reply] | @tsv" "$E2E_DIR/f-two.out" | sort | uniq -c | tr -s " " | tr "\t\n" ",;")" = " 2 1,GET_FEATURES,false; 2 1,GET_FEATURES,true; 3 1,SET_VRING_NUM,false;" ]'
filt none 0 "$TRACE" --request SET_CONFIG --session 1
filt s3cfg 2000 "$TRACE" --request SET_CONFIG --session 3
# bad NAME ARGS...: exit 2, nothing on stdout, stderr mentions NEEDLE.
bad() {
	local needle=$1
	shift
	e2e_dump "$E2E_DIR/bad.out" "$@"
	check "dump $* : exit status 2 (got $E2E_DUMP_RC)" [ "$E2E_DUMP_RC" = 2 ]
	check "dump $* : nothing on stdout" [ ! -s "$E2E_DIR/bad.out" ]
	check "dump $* : stderr mentions '$needle'" grep -qF -- "$needle" "$E2E_DIR/bad.out.err"
}
bad NO_SUCH_REQUEST "$TRACE" --request NO_SUCH_REQUEST
bad BOGUS "$TRACE" --request GET_FEATURES,BOGUS
bad "--session" "$TRACE" --session one
bad "--session" "$TRACE" --session -1

if [ "${#fails[@]}" != 0 ]; then
	printf '  - %s\n' "${fails[@]}" >&2
	e2e_fail "${#fails[@]} checks failed (listed above)"
fi
e2e_log PASS
