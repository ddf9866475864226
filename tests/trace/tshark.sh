#!/bin/bash
# tshark.sh - Wireshark's tools read vuproxy's trace as vuproxy dump does.
# The trace: two trace_peer sessions through vuproxy -w, then SIGTERM
# (which, like SIGINT, finishes the gzip stream: gzip -t passes).
# - capinfos: a gzip-compressed pcapng, USER 0 encapsulation, as many
#   packets as dump prints records, one interface per session;
# - tshark -r: as many frames as dump prints; each frame on the interface
#   of its session (the interface name starts "sN " and names both
#   sockets, front-end first), inbound for the
#   back-end's messages and outbound for the front-end's (epb_flags), with
#   the same timestamp, in the same order;
# - the trace cut at 50%: tshark and dump recover the same number of
#   packets.
set -eu
. "$(dirname "$0")/tlib.sh"

t_init trace_tshark
t_need_cmd tshark capinfos jq timeout awk head gzip sed
t_need_exe VUPROXY TRACE_PEER

TRACE=$T_DIR/two.pcapng.gz
t_vuproxy_for_peer vp "$TRACE"
t_peer_run vp 5 0
t_peer_run vp 300 32
t_term vp
t_expect_eq "vuproxy exit status after SIGTERM" "${T_RC[vp]}" 0
gzip -t "$TRACE" 2>"$T_DIR/gzip.err" ||
	t_fail "the trace of a SIGTERMed vuproxy fails gzip -t: $(cat "$T_DIR/gzip.err")"
t_expect_eq "vuproxy's 'messages written' count" "$(t_messages_written vp)" $((9 + 604))

t_dump "$T_DIR/dump.json" --json "$TRACE"
t_expect_eq "dump exit status (stderr: $(cat "$T_DIR/dump.json.err"))" "$T_DUMP_RC" 0
N=$(wc -l <"$T_DIR/dump.json")
t_expect_eq "dump records" "$N" $((9 + 604))

timeout 60 capinfos "$TRACE" >"$T_DIR/capinfos.txt" 2>&1 ||
	t_fail "capinfos failed: $(cat "$T_DIR/capinfos.txt")"
capinfo() { awk -F': *' -v k="$1" '$1 == k { print $2; exit }' "$T_DIR/capinfos.txt"; }
t_expect_eq "capinfos: number of packets" "$(capinfo 'Number of packets')" "$N"
t_expect_eq "capinfos: interfaces" "$(capinfo 'Number of interfaces in file')" 2
t_expect_eq "capinfos: encapsulation" "$(capinfo 'File encapsulation')" "USER 0"
case $(capinfo 'File type') in
*pcapng*gzip*) ;;
*) t_fail "capinfos: file type '$(capinfo 'File type')', expected gzip-compressed pcapng" ;;
esac

# tshark's view, one line per frame: session (from the interface name),
# direction, time.
timeout 60 tshark -r "$TRACE" -T fields -e frame.interface_name \
	-e frame.packet_flags_direction -e frame.time_epoch \
	>"$T_DIR/tshark.tsv" 2>"$T_DIR/tshark.err" ||
	t_fail "tshark -r failed: $(cat "$T_DIR/tshark.err")"
t_expect_eq "tshark frames" "$(wc -l <"$T_DIR/tshark.tsv")" "$N"
# Interface names describe the session's sockets.
cut -f1 "$T_DIR/tshark.tsv" | sort -u >"$T_DIR/ifnames.txt"
t_expect_eq "interface names" "$(wc -l <"$T_DIR/ifnames.txt")" 2
while read -r ifname; do
	case $ifname in
	s[12]\ *"$T_DIR/vp-fe.sock"*"$T_DIR/vp-be.sock"*) ;;
	*) t_fail "interface name '$ifname' does not name session and both sockets" ;;
	esac
done <"$T_DIR/ifnames.txt"
awk -F'\t' '{ split($1, w, " "); sub(/^s/, "", w[1])
              d = $2 ~ /^0x0*1$/ ? "back-end" : $2 ~ /^0x0*2$/ ? "front-end" : "?" $2
              split($3, t, "."); printf "%s %s %s%s\n", w[1], d, t[1], substr(t[2] "000000000", 1, 9) }' \
	"$T_DIR/tshark.tsv" >"$T_DIR/tshark.txt"
# (not jq: it reads numbers as doubles, ts_ns needs 64 bits)
sed -n 's/^{"ts_ns":\([0-9]*\),"session":\([0-9]*\),"channel":"[a-z]*","from":"\([a-z-]*\)".*/\2 \3 \1/p' \
	"$T_DIR/dump.json" >"$T_DIR/dump.txt"
t_expect_eq "session, direction and time parsed from dump --json" "$(wc -l <"$T_DIR/dump.txt")" "$N"
diff -u --label "vuproxy dump" "$T_DIR/dump.txt" --label tshark "$T_DIR/tshark.txt" >"$T_DIR/diff.txt" ||
	t_fail "tshark and dump disagree on session (interface), direction or time: $(head -n 20 "$T_DIR/diff.txt")"

# The same file cut in the middle.
size=$(stat -c %s "$TRACE")
head -c $((size / 2)) "$TRACE" >"$T_DIR/cut.pcapng.gz"
t_dump "$T_DIR/cut.txt" "$T_DIR/cut.pcapng.gz"
t_expect_eq "dump of the cut trace: exit status" "$T_DUMP_RC" 2
ncut=$(wc -l <"$T_DIR/cut.txt")
ntshark=$(timeout 60 tshark -r "$T_DIR/cut.pcapng.gz" 2>/dev/null | wc -l)
t_log "cut at $((size / 2)) of $size bytes: dump $ncut records, tshark $ntshark frames"
[ "$ncut" -gt 0 ] || t_fail "dump recovered nothing from half the trace"
t_expect_eq "frames tshark recovers from the cut trace vs dump's records" "$ntshark" "$ncut"
t_log PASS
