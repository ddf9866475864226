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
# shellcheck source=../e2e/lib.sh
. "$(dirname "$0")/../e2e/lib.sh"

e2e_init trace_tshark
e2e_need_cmd tshark capinfos jq timeout awk head gzip sed
e2e_need_exe VUPROXY TRACE_PEER

TRACE=$E2E_DIR/two.pcapng.gz
e2e_vuproxy_for_peer vp "$TRACE"
e2e_peer_run vp 5 0
e2e_peer_run vp 300 32
e2e_term vp
e2e_expect_eq "vuproxy exit status after SIGTERM" "${E2E_RC[vp]}" 0
gzip -t "$TRACE" 2>"$E2E_DIR/gzip.err" ||
	e2e_fail "the trace of a SIGTERMed vuproxy fails gzip -t: $(cat "$E2E_DIR/gzip.err")"
e2e_expect_eq "vuproxy's 'messages written' count" "$(e2e_messages_written vp)" $((9 + 604))

e2e_dump "$E2E_DIR/dump.json" --json "$TRACE"
e2e_expect_eq "dump exit status (stderr: $(cat "$E2E_DIR/dump.json.err"))" "$E2E_DUMP_RC" 0
N=$(wc -l <"$E2E_DIR/dump.json")
e2e_expect_eq "dump records" "$N" $((9 + 604))

timeout 60 capinfos "$TRACE" >"$E2E_DIR/capinfos.txt" 2>&1 ||
	e2e_fail "capinfos failed: $(cat "$E2E_DIR/capinfos.txt")"
capinfo() { awk -F': *' -v k="$1" '$1 == k { print $2; exit }' "$E2E_DIR/capinfos.txt"; }
e2e_expect_eq "capinfos: number of packets" "$(capinfo 'Number of packets')" "$N"
e2e_expect_eq "capinfos: interfaces" "$(capinfo 'Number of interfaces in file')" 2
e2e_expect_eq "capinfos: encapsulation" "$(capinfo 'File encapsulation')" "USER 0"
case $(capinfo 'File type') in
*pcapng*gzip*) ;;
*) e2e_fail "capinfos: file type '$(capinfo 'File type')', expected gzip-compressed pcapng" ;;
esac

# tshark's view, one line per frame: session (from the interface name),
# direction, time.
timeout 60 tshark -r "$TRACE" -T fields -e frame.interface_name \
	-e frame.packet_flags_direction -e frame.time_epoch \
	>"$E2E_DIR/tshark.tsv" 2>"$E2E_DIR/tshark.err" ||
	e2e_fail "tshark -r failed: $(cat "$E2E_DIR/tshark.err")"
e2e_expect_eq "tshark frames" "$(wc -l <"$E2E_DIR/tshark.tsv")" "$N"
# Interface names describe the session's sockets.
cut -f1 "$E2E_DIR/tshark.tsv" | sort -u >"$E2E_DIR/ifnames.txt"
e2e_expect_eq "interface names" "$(wc -l <"$E2E_DIR/ifnames.txt")" 2
while read -r ifname; do
	case $ifname in
	s[12]\ *"$E2E_DIR/vp-fe.sock"*"$E2E_DIR/vp-be.sock"*) ;;
	*) e2e_fail "interface name '$ifname' does not name session and both sockets" ;;
	esac
done <"$E2E_DIR/ifnames.txt"
awk -F'\t' '{ split($1, w, " "); sub(/^s/, "", w[1])
              d = $2 ~ /^0x0*1$/ ? "back-end" : $2 ~ /^0x0*2$/ ? "front-end" : "?" $2
              split($3, t, "."); printf "%s %s %s%s\n", w[1], d, t[1], substr(t[2] "000000000", 1, 9) }' \
	"$E2E_DIR/tshark.tsv" >"$E2E_DIR/tshark.txt"
# (not jq: it reads numbers as doubles, ts_ns needs 64 bits)
sed -n 's/^{"ts_ns":\([0-9]*\),"session":\([0-9]*\),"channel":"[a-z]*","from":"\([a-z-]*\)".*/\2 \3 \1/p' \
	"$E2E_DIR/dump.json" >"$E2E_DIR/dump.txt"
e2e_expect_eq "session, direction and time parsed from dump --json" "$(wc -l <"$E2E_DIR/dump.txt")" "$N"
diff -u --label "vuproxy dump" "$E2E_DIR/dump.txt" --label tshark "$E2E_DIR/tshark.txt" >"$E2E_DIR/diff.txt" ||
	e2e_fail "tshark and dump disagree on session (interface), direction or time: $(head -n 20 "$E2E_DIR/diff.txt")"

# The same file cut in the middle.
size=$(stat -c %s "$TRACE")
head -c $((size / 2)) "$TRACE" >"$E2E_DIR/cut.pcapng.gz"
e2e_dump "$E2E_DIR/cut.txt" "$E2E_DIR/cut.pcapng.gz"
e2e_expect_eq "dump of the cut trace: exit status" "$E2E_DUMP_RC" 2
ncut=$(wc -l <"$E2E_DIR/cut.txt")
ntshark=$(timeout 60 tshark -r "$E2E_DIR/cut.pcapng.gz" 2>/dev/null | wc -l)
e2e_log "cut at $((size / 2)) of $size bytes: dump $ncut records, tshark $ntshark frames"
[ "$ncut" -gt 0 ] || e2e_fail "dump recovered nothing from half the trace"
e2e_expect_eq "frames tshark recovers from the cut trace vs dump's records" "$ntshark" "$ncut"
e2e_log PASS
