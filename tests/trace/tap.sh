#!/bin/bash
# tap.sh - the tap's records (include/vuproxy/tapfmt.h) as vuproxy dump,
# tcpdump and tshark show them, on a trace tap_trace_gen writes with the
# writer API (see tap_trace_gen.c for what it holds: two sessions, ICMP
# echo request and reply, an ARP request, a blk read and write, four
# interface statistics blocks).
# - dump: the exact timeline; --json objects by "type" with the decoded
#   fields, control objects keeping their keys; --session N and --request
#   on tap records; a trace of tap records only is a vuproxy trace;
# - dump --ethernet-out: a classic pcap (0600, overwritten, nanosecond
#   times, the interfaces' snap length) that tcpdump reads: the echo
#   request and reply with good checksums, the same bytes as in the trace;
#   "-" writes to stdout; the input itself is refused;
# - tshark -Y icmp: the two frames, on their interfaces, with direction;
# - tshark with tools/wireshark/vuproxy.lua: vuproxy.blk.* fields, and an
#   Info column that says what dump's line says;
# - capinfos: one statistics entry per tap interface;
# - the trace cut at every flush point and in the middle: dump prints the
#   records before the cut, says how many, exits 2.
# A missing tool fails the test, never skips.
set -eu
# shellcheck source=../e2e/lib.sh
. "$(dirname "$0")/../e2e/lib.sh"

e2e_init trace_tap
e2e_need_cmd tshark capinfos tcpdump jq gzip timeout awk head cmp grep sed stat
e2e_need_exe VUPROXY TAP_TRACE_GEN
[ -f "${VUP_WIRESHARK_LUA:-}" ] || e2e_fail "VUP_WIRESHARK_LUA='${VUP_WIRESHARK_LUA:-}' is not a file"

fails=()
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
# same WHAT GOT WANT
same() {
	if [ "$2" = "$3" ]; then
		e2e_log "ok: $1"
	else
		e2e_log "NOT OK: $1: got '$2', expected '$3'"
		fails+=("$1")
	fi
}
# tshark without its "Running as user root" warning.
ts() { timeout 60 tshark "$@" 2>"$E2E_DIR/tshark.err"; }

TRACE=$E2E_DIR/tap.pcapng.gz
"$TAP_TRACE_GEN" "$TRACE" || e2e_fail "tap_trace_gen failed"
gzip -t "$TRACE" || e2e_fail "the generated trace fails gzip -t"

# ---- the timeline ----
e2e_dump "$E2E_DIR/full.txt" "$TRACE"
same "dump exit status (stderr: $(cat "$E2E_DIR/full.txt.err"))" "$E2E_DUMP_RC" 0
check "dump: nothing on stderr" [ ! -s "$E2E_DIR/full.txt.err" ]
cat >"$E2E_DIR/want.txt" <<'EOF'
   0.000000 s1 front-end>back-end GET_FEATURES (0 B, 0 fds) pass
   0.000100 s1 back-end>front-end GET_FEATURES reply features=0x140000000 <VHOST_USER_F_PROTOCOL_FEATURES|VIRTIO_F_VERSION_1> (8 B, 0 fds) pass
   0.001000 s1 net q1 tx len=98 caplen=98 52:54:00:12:34:56 > 52:55:0a:00:02:02 IPv4 10.0.2.15 > 10.0.2.2 ICMP echo request id=0x1234 seq=1
   0.001200 s1 net q0 rx len=98 caplen=98 52:55:0a:00:02:02 > 52:54:00:12:34:56 IPv4 10.0.2.2 > 10.0.2.15 ICMP echo reply id=0x1234 seq=1
   0.002000 s1 blk q0 IN id=0 sector=2048 len=4096 status=OK latency=35us
   0.002400 s2 front-end>back-end GET_FEATURES (0 B, 0 fds) pass
   0.002500 s2 net q1 tx len=60 caplen=60 52:54:00:12:34:56 > ff:ff:ff:ff:ff:ff ARP who-has 10.0.2.2 tell 10.0.2.15
   0.003000 s1 blk q0 OUT id=1 sector=4096 len=512 status=IOERR latency=121us
   0.004000 s1 net q1 tx stats consumed=1 captured=1 missed=0 torn=0 malformed=0
   0.004000 s1 net q0 rx stats consumed=1 captured=1 missed=0 torn=0 malformed=0
   0.004000 s1 blk stats consumed=3 captured=2 missed=1 torn=0 malformed=0
   0.004000 s2 net q1 tx stats consumed=5 captured=1 missed=2 torn=1 malformed=1
EOF
if diff -u --label expected "$E2E_DIR/want.txt" --label "vuproxy dump" "$E2E_DIR/full.txt" >"$E2E_DIR/diff.txt"; then
	e2e_log "ok: dump prints the expected timeline"
else
	cat "$E2E_DIR/diff.txt"
	fails+=("dump timeline")
fi
N=$(wc -l <"$E2E_DIR/full.txt")

# ---- JSON ----
e2e_dump "$E2E_DIR/full.json" --json "$TRACE"
same "dump --json exit status" "$E2E_DUMP_RC" 0
same "dump --json: one object per text line" "$(wc -l <"$E2E_DIR/full.json")" "$N"
check "dump --json: every line is a JSON object" \
	eval '[ "$(jq -c "type" "$E2E_DIR/full.json" | sort -u)" = "\"object\"" ]'
same "records by type" \
	"$(jq -r .type "$E2E_DIR/full.json" | sort | uniq -c | awk '{ printf "%s=%s ", $2, $1 }')" \
	"blk=2 control=3 net=3 stats=4 "
same "control objects keep their keys" \
	"$(jq -c 'select(.type == "control") | keys' "$E2E_DIR/full.json" | sort -u)" \
	'["action","as_sent","channel","code","fds","flags","from","payload","reply","request","rule","session","size","ts_ns","type"]'
check "control objects still start with ts_ns (what sed-based readers rely on)" \
	eval '[ "$(grep -c "^{\"ts_ns\":[0-9]*,\"session\":" "$E2E_DIR/full.json")" = 3 ]'
same "net: the echo request" \
	"$(jq -c 'select(.type == "net" and .icmp_type == 8) | [.session, .interface, .queue, .direction, .len, .caplen, .src, .dst, .ethertype, .ip_src, .ip_dst, .ip_proto, .icmp_code]' "$E2E_DIR/full.json")" \
	'[1,"s1 net q1 tx",1,"tx",98,98,"52:54:00:12:34:56","52:55:0a:00:02:02",2048,"10.0.2.15","10.0.2.2",1,0]'
same "net: the echo reply" \
	"$(jq -c 'select(.type == "net" and .icmp_type == 0) | [.session, .queue, .direction, .ip_src, .ip_dst]' "$E2E_DIR/full.json")" \
	'[1,0,"rx","10.0.2.2","10.0.2.15"]'
same "net: the ARP request" \
	"$(jq -c 'select(.type == "net" and .ethertype == 2054) | [.session, .dst, .ip_src, .summary]' "$E2E_DIR/full.json")" \
	'[2,"ff:ff:ff:ff:ff:ff",null,"52:54:00:12:34:56 > ff:ff:ff:ff:ff:ff ARP who-has 10.0.2.2 tell 10.0.2.15"]'
same "blk: both requests" \
	"$(jq -c 'select(.type == "blk") | [.session, .queue, .id, .op, .op_code, .sector, .len, .status, .status_code, .used_len, .latency_ns, .caplen, .data_caplen]' "$E2E_DIR/full.json" | tr '\n' ' ')" \
	'[1,0,0,"IN",0,2048,4096,"OK",0,4097,35000,104,64] [1,0,1,"OUT",1,4096,512,"IOERR",1,1,120500,104,64] '
same "stats: the four interfaces" \
	"$(jq -c 'select(.type == "stats") | [.interface, .consumed, .captured, .missed, .torn, .malformed, .ifrecv, .usrdeliv, .ifdrop, .osdrop]' "$E2E_DIR/full.json" | tr '\n' ' ')" \
	'["s1 net q1 tx",1,1,0,0,0,1,1,0,0] ["s1 net q0 rx",1,1,0,0,0,1,1,0,0] ["s1 blk",3,2,1,0,0,3,2,1,0] ["s2 net q1 tx",5,1,2,1,1,5,1,2,2] '
# (64-bit times as text: jq reads numbers as doubles)
same "stats: start and end times" \
	"$(sed -n 's/.*"interface":"s2 net q1 tx","start_ns":\([0-9]*\),"end_ns":\([0-9]*\),.*/\1 \2/p' "$E2E_DIR/full.json")" \
	"1700000000000000000 1700000000004000000"
same "net: the echo request's time" \
	"$(sed -n 's/^{"type":"net","ts_ns":\([0-9]*\),"session":1,"interface":"s1 net q1 tx".*/\1/p' "$E2E_DIR/full.json")" \
	"1700000000001000000"

# ---- filters ----
e2e_dump "$E2E_DIR/s1.txt" "$TRACE" --session 1
same "--session 1: exit status" "$E2E_DUMP_RC" 0
same "--session 1: the session's lines" "$(cat "$E2E_DIR/s1.txt")" "$(grep '^ *[0-9.]* s1 ' "$E2E_DIR/want.txt")"
e2e_dump "$E2E_DIR/s2.json" "$TRACE" --session 2 --json
same "--session 2 --json: types" "$(jq -r .type "$E2E_DIR/s2.json" | tr '\n' ' ')" "control net stats "
same "--session 2 --json: every record of session 2" "$(jq -r .session "$E2E_DIR/s2.json" | sort -u)" 2
e2e_dump "$E2E_DIR/req.txt" "$TRACE" --request GET_FEATURES
same "--request GET_FEATURES: control messages only" "$(cat "$E2E_DIR/req.txt")" "$(grep GET_FEATURES "$E2E_DIR/want.txt")"

# ---- --ethernet-out ----
PCAP=$E2E_DIR/frames.pcap
printf 'an older file\n' >"$PCAP"
chmod 644 "$PCAP"
e2e_dump "$E2E_DIR/eo.out" "$TRACE" --ethernet-out "$PCAP"
same "--ethernet-out: exit status (stderr: $(cat "$E2E_DIR/eo.out.err"))" "$E2E_DUMP_RC" 0
check "--ethernet-out: nothing on stdout" [ ! -s "$E2E_DIR/eo.out" ]
same "--ethernet-out: the count on stderr" "$(cat "$E2E_DIR/eo.out.err")" "vuproxy dump: 3 Ethernet frames written to $PCAP"
same "--ethernet-out: mode of the overwritten file" "$(e2e_mode "$PCAP")" 600
timeout 60 tcpdump -r "$PCAP" -nn -tt --nano >"$E2E_DIR/tcpdump.txt" 2>"$E2E_DIR/tcpdump.err" ||
	e2e_fail "tcpdump -r failed: $(cat "$E2E_DIR/tcpdump.err")"
cat >"$E2E_DIR/tcpdump.want" <<'EOF'
1700000000.001000000 IP 10.0.2.15 > 10.0.2.2: ICMP echo request, id 4660, seq 1, length 64
1700000000.001200000 IP 10.0.2.2 > 10.0.2.15: ICMP echo reply, id 4660, seq 1, length 64
1700000000.002500000 ARP, Request who-has 10.0.2.2 tell 10.0.2.15, length 46
EOF
check "tcpdump -r: the echo request, the reply and the ARP request, to the ns ($(cat "$E2E_DIR/tcpdump.txt"))" \
	cmp -s "$E2E_DIR/tcpdump.txt" "$E2E_DIR/tcpdump.want"
check "tcpdump: link type Ethernet, snapshot length 256" \
	grep -qF "link-type EN10MB (Ethernet), snapshot length 256" "$E2E_DIR/tcpdump.err"
timeout 60 tcpdump -r "$PCAP" -nn -vv >"$E2E_DIR/tcpdump-vv.txt" 2>/dev/null
check "tcpdump -vv: no bad checksum" eval '! grep -qiE "bad|wrong|incorrect" "$E2E_DIR/tcpdump-vv.txt"'
check "tcpdump -vv: checked them" eval '[ "$(grep -c "ICMP echo" "$E2E_DIR/tcpdump-vv.txt")" = 2 ]'
timeout 60 capinfos -t -F "$PCAP" >"$E2E_DIR/pcap.capinfos" 2>&1 || e2e_fail "capinfos $PCAP: $(cat "$E2E_DIR/pcap.capinfos")"
check "capinfos: a pcap file, not pcapng" grep -qE "^File type: +Wireshark/tcpdump/... - nanosecond pcap$" "$E2E_DIR/pcap.capinfos"
check "capinfos: nanosecond timestamps" grep -qE "^File timestamp precision: +nanoseconds" "$E2E_DIR/pcap.capinfos"
# The bytes: what tshark reads from the pcap is what it reads from the trace.
ts -r "$PCAP" -T json -x | jq -r '.[]._source.layers.frame_raw[0]' >"$E2E_DIR/pcap.hex"
ts -r "$TRACE" -Y eth -T json -x | jq -r '.[]._source.layers.frame_raw[0]' >"$E2E_DIR/trace.hex"
same "frames in the pcap" "$(wc -l <"$E2E_DIR/pcap.hex")" 3
check "the pcap's frames are the trace's, byte for byte" cmp -s "$E2E_DIR/pcap.hex" "$E2E_DIR/trace.hex"

e2e_dump "$E2E_DIR/eo2.out" "$TRACE" --ethernet-out "$E2E_DIR/s2.pcap" --session 2
same "--ethernet-out --session 2: exit status" "$E2E_DUMP_RC" 0
same "--ethernet-out --session 2: tcpdump" \
	"$(timeout 60 tcpdump -r "$E2E_DIR/s2.pcap" -nn -t 2>"$E2E_DIR/s2.err")" \
	"ARP, Request who-has 10.0.2.2 tell 10.0.2.15, length 46"
check "--ethernet-out --session 2: session 2's snap length (128)" grep -qF "snapshot length 128" "$E2E_DIR/s2.err"
timeout 60 "$VUPROXY" dump "$TRACE" --ethernet-out - --session 1 2>"$E2E_DIR/stdout.err" |
	timeout 60 tcpdump -r - -nn -t >"$E2E_DIR/stdout.txt" 2>/dev/null || true
same "--ethernet-out - --session 1 | tcpdump -r -" "$(cat "$E2E_DIR/stdout.txt")" \
	"$(printf '%s\n' 'IP 10.0.2.15 > 10.0.2.2: ICMP echo request, id 4660, seq 1, length 64' 'IP 10.0.2.2 > 10.0.2.15: ICMP echo reply, id 4660, seq 1, length 64')"
# A FIFO (like /dev/null, not a regular file): written, its mode left
# alone.
mkfifo -m 644 "$E2E_DIR/fifo"
timeout 60 cat "$E2E_DIR/fifo" >"$E2E_DIR/fifo.pcap" &
catpid=$!
e2e_dump "$E2E_DIR/fifo.out" "$TRACE" --ethernet-out "$E2E_DIR/fifo"
wait "$catpid" || e2e_fail "cat of the FIFO failed"
same "--ethernet-out FIFO: exit status (stderr: $(cat "$E2E_DIR/fifo.out.err"))" "$E2E_DUMP_RC" 0
same "--ethernet-out FIFO: its mode untouched" "$(e2e_mode "$E2E_DIR/fifo")" 644
check "--ethernet-out FIFO: the same pcap as a file" cmp -s "$E2E_DIR/fifo.pcap" "$PCAP"
cp "$TRACE" "$E2E_DIR/copy.pcapng.gz"
e2e_dump "$E2E_DIR/self.out" "$TRACE" --ethernet-out "$TRACE"
same "--ethernet-out onto the trace itself: exit status" "$E2E_DUMP_RC" 2
check "--ethernet-out onto the trace itself: refused, trace unchanged ($(cat "$E2E_DIR/self.out.err"))" \
	eval 'grep -q "trace being read" "$E2E_DIR/self.out.err" && cmp -s "$TRACE" "$E2E_DIR/copy.pcapng.gz"'
e2e_dump "$E2E_DIR/nodir.out" "$TRACE" --ethernet-out "$E2E_DIR/no/such/dir.pcap"
same "--ethernet-out into a missing directory: exit status" "$E2E_DUMP_RC" 2
check "--ethernet-out into a missing directory: the error names it" grep -qF "$E2E_DIR/no/such/dir.pcap" "$E2E_DIR/nodir.out.err"

# ---- tshark ----
ts -r "$TRACE" -Y icmp -T fields -e frame.interface_name -e frame.packet_flags_direction \
	-e icmp.type -e ip.src -e ip.dst >"$E2E_DIR/icmp.tsv" || e2e_fail "tshark -Y icmp: $(cat "$E2E_DIR/tshark.err")"
same "tshark -Y icmp: two frames, on their interfaces, outbound then inbound" "$(cat "$E2E_DIR/icmp.tsv")" \
	"$(printf 's1 net q1 tx\t0x00000002\t8\t10.0.2.15\t10.0.2.2\ns1 net q0 rx\t0x00000001\t0\t10.0.2.2\t10.0.2.15')"
same "tshark: IPv4 and ICMP checksums good" \
	"$(ts -r "$TRACE" -o ip.check_checksum:TRUE -Y 'icmp && ip.checksum.status == "Good" && icmp.checksum.status == "Good"' | wc -l)" 2

LUA=$VUP_WIRESHARK_LUA
ts -X "lua_script:$LUA" -r "$TRACE" -Y vuproxy.blk -T fields -e vuproxy.blk.sector \
	-e vuproxy.blk.type -e vuproxy.blk.type_name -e vuproxy.blk.len -e vuproxy.blk.status \
	-e vuproxy.blk.status_name -e vuproxy.blk.latency -e vuproxy.blk.queue -e vuproxy.blk.id \
	-e vuproxy.blk.used_len >"$E2E_DIR/blk.tsv" || e2e_fail "tshark with the Lua dissector: $(cat "$E2E_DIR/tshark.err")"
check "tshark with the Lua dissector: no Lua error" eval '! grep -qi "lua" "$E2E_DIR/tshark.err"'
same "tshark vuproxy.blk fields" "$(cat "$E2E_DIR/blk.tsv")" \
	"$(printf '2048\t0\tIN\t4096\t0\tOK\t35000\t0\t0\t4097\n4096\t1\tOUT\t512\t1\tIOERR\t120500\t0\t1\t1')"
same "tshark -Y 'vuproxy.blk.status != 0'" \
	"$(ts -X "lua_script:$LUA" -r "$TRACE" -Y 'vuproxy.blk.status != 0' -T fields -e vuproxy.blk.sector)" 4096
same "tshark: the blk Info column is dump's line" \
	"$(ts -X "lua_script:$LUA" -r "$TRACE" -Y vuproxy.blk -T fields -e _ws.col.Info)" \
	"$(grep ' blk q' "$E2E_DIR/full.txt" | sed 's/^ *[0-9.]* //')"
same "tshark with the Lua dissector: the control messages still decoded" \
	"$(ts -X "lua_script:$LUA" -r "$TRACE" -Y vhostuser -T fields -e vhostuser.request_name | tr '\n' ' ')" \
	"GET_FEATURES GET_FEATURES GET_FEATURES "

# ---- statistics blocks ----
timeout 60 capinfos -I "$TRACE" >"$E2E_DIR/capinfos.txt" 2>&1 || e2e_fail "capinfos -I: $(cat "$E2E_DIR/capinfos.txt")"
same "capinfos -I: interfaces and their statistics entries" \
	"$(awk -F' = ' '/^ *Name = / { n = $2 } /Number of stat entries/ { printf "%s:%s;", n, $2 }' "$E2E_DIR/capinfos.txt")" \
	"s1 fe.sock > be.sock:0;s1 net q1 tx:1;s1 net q0 rx:1;s1 blk:1;s2 fe2.sock > be2.sock:0;s2 net q1 tx:1;"

# ---- a trace of tap records only ----
"$TAP_TRACE_GEN" "$E2E_DIR/taponly.pcapng.gz" tap-only || e2e_fail "tap_trace_gen tap-only failed"
e2e_dump "$E2E_DIR/taponly.txt" "$E2E_DIR/taponly.pcapng.gz"
same "tap records only: exit status (stderr: $(cat "$E2E_DIR/taponly.txt.err"))" "$E2E_DUMP_RC" 0
same "tap records only: the tap lines" "$(sed 's/^ *[0-9.]* //' "$E2E_DIR/taponly.txt")" \
	"$(grep -v ' GET_FEATURES ' "$E2E_DIR/want.txt" | sed 's/^ *[0-9.]* //')"

# ---- cut traces ----
# Every record is followed by a sync flush (00 00 ff ff): a cut just after
# one keeps every record before it.
size=$(stat -c %s "$TRACE")
mapfile -t marks < <(LC_ALL=C grep -obUaP '\x00\x00\xff\xff' "$TRACE" | cut -d: -f1)
e2e_log "${#marks[@]} sync-flush points in $size bytes"
[ "${#marks[@]}" -ge 12 ] || e2e_fail "only ${#marks[@]} sync-flush points for $N records"
prev=-1
seen=" "
for m in "${marks[@]}" $((size * 60 / 100)); do
	cut=$E2E_DIR/cut.pcapng.gz
	at=$m
	[ "$m" = $((size * 60 / 100)) ] || at=$((m + 4))
	head -c "$at" "$TRACE" >"$cut"
	e2e_dump "$E2E_DIR/cut.txt" "$cut"
	n=$(wc -l <"$E2E_DIR/cut.txt")
	[ "$E2E_DUMP_RC" = 2 ] || fails+=("cut at $at: exit $E2E_DUMP_RC, not 2")
	grep -q "cut short" "$E2E_DIR/cut.txt.err" || fails+=("cut at $at: stderr does not say cut short: $(cat "$E2E_DIR/cut.txt.err")")
	grep -qE "[^0-9]$n records read" "$E2E_DIR/cut.txt.err" ||
		fails+=("cut at $at: $n lines but stderr says $(cat "$E2E_DIR/cut.txt.err")")
	cmp -s "$E2E_DIR/cut.txt" <(head -n "$n" "$E2E_DIR/full.txt") ||
		fails+=("cut at $at: the $n lines are not the whole trace's first")
	seen="$seen$n "
done
e2e_log "lines recovered at the cuts:$seen"
for k in 3 4 5 7 8 9 10 11; do
	case $seen in
	*" $k "*) ;;
	*) fails+=("no cut recovered exactly $k records (a tap record as the last one)") ;;
	esac
done
# (the last cut, at 60%, is still in cut.pcapng.gz)
e2e_dump "$E2E_DIR/cut-eo.out" "$E2E_DIR/cut.pcapng.gz" --ethernet-out "$E2E_DIR/cut.pcap"
same "cut trace --ethernet-out: exit status" "$E2E_DUMP_RC" 2
same "cut trace --ethernet-out: tcpdump reads the frames before the cut" \
	"$(timeout 60 tcpdump -r "$E2E_DIR/cut.pcap" -nn 2>/dev/null | wc -l)" \
	"$(grep -c ' net q' "$E2E_DIR/cut.txt")"
e2e_dump "$E2E_DIR/cut.json" --json "$E2E_DIR/cut.pcapng.gz"
same "cut trace --json: exit status" "$E2E_DUMP_RC" 2
check "cut trace --json: whole objects only" eval '[ -z "$(jq -c "select(.type == null)" "$E2E_DIR/cut.json")" ]'

if [ "${#fails[@]}" != 0 ]; then
	printf '  - %s\n' "${fails[@]}" >&2
	e2e_fail "${#fails[@]} checks failed (listed above)"
fi
e2e_log PASS
