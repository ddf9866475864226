#!/bin/bash
# rotation.sh - vuproxy -w FILE -C 1 -W 3 under a stream of numbered
# messages (trace_peer: SET_VRING_NUM num=i and SET_CONFIG offset=i with
# 256 incompressible bytes, i = 0 .. COUNT-1), enough for 4+ files.
# After SIGINT:
# - exactly 3 files are left, named FILE.K.pcapng.gz for the 3 highest
#   consecutive K (FILE itself is K = 0), the highest K >= 3 (so -W really
#   deleted some), each mode 0600 although vuproxy ran under umask 000;
# - every file is a complete gzip stream (gzip -t), closed once it passed
#   1 MB (-C 1 = 1,000,000 bytes), not long after;
# - every file stands alone: `vuproxy dump` reads it (exit 0, nothing on
#   stderr), and its records belong to session 1 (re-declared in each
#   file, marked as continued), whose set-up it restates first (declared
#   state: the last message of each key); `vuproxy check` judges it
#   against that set-up and finds trace_peer's own faults only;
# - across the kept files no message is lost or repeated: the numbers run
#   on without a gap from the first kept file to the last message, which
#   is the final GET_FEATURES and its reply;
# - vuproxy says "N messages written" with N the messages trace_peer sent
#   and received through it.
# Then the command line: -C without -w, -W without -C, -C 0, -W 0, a bad
# number: exit 2 with a message; -w in a missing directory: exit 1 naming
# the file; --help documents -w, -C and -W.
set -eu
# shellcheck source=../e2e/lib.sh
. "$(dirname "$0")/../e2e/lib.sh"

COUNT=${T_ROTATION_COUNT:-15000}
PAD=256

e2e_init trace_rotation
e2e_need_cmd gzip jq timeout awk sort stat
e2e_need_exe VUPROXY TRACE_PEER

TRACE=$E2E_DIR/rot.pcapng.gz
e2e_vuproxy_for_peer vp "$TRACE" -C 1 -W 3
e2e_peer_run vp "$COUNT" "$PAD"
e2e_log "trace_peer: $E2E_PEER_MSGS messages through vuproxy"
e2e_stop vp
e2e_expect_eq "vuproxy exit status after SIGINT" "${E2E_RC[vp]}" 0
e2e_expect_eq "vuproxy's 'messages written' count" "$(e2e_messages_written vp)" "$E2E_PEER_MSGS"

# The files: rot.pcapng.gz is K = 0, rot.K.pcapng.gz is K.
ks=()
for f in "$E2E_DIR"/rot*; do
	b=${f##*/}
	case $b in
	rot.pcapng.gz) ks+=(0) ;;
	rot.*.pcapng.gz)
		k=${b#rot.}
		k=${k%.pcapng.gz}
		[[ $k =~ ^[1-9][0-9]*$ ]] || e2e_fail "unexpected file name $b"
		ks+=("$k")
		;;
	*) e2e_fail "unexpected file $b next to the trace" ;;
	esac
done
mapfile -t ks < <(printf '%s\n' "${ks[@]}" | sort -n)
e2e_log "files left: K = ${ks[*]}"
e2e_expect_eq "number of trace files with -W 3" "${#ks[@]}" 3
[ "${ks[2]}" -ge 3 ] ||
	e2e_fail "only $((${ks[2]} + 1)) files were written for $E2E_PEER_MSGS messages; the test needs 4 or more (raise T_ROTATION_COUNT)"
e2e_expect_eq "file numbers" "${ks[*]}" "$((ks[2] - 2)) $((ks[2] - 1)) ${ks[2]}"

name_of() { if [ "$1" = 0 ]; then echo "$TRACE"; else echo "$E2E_DIR/rot.$1.pcapng.gz"; fi; }

: >"$E2E_DIR/keys.txt"
for i in 0 1 2; do
	f=$(name_of "${ks[$i]}")
	b=${f##*/}
	e2e_expect_eq "mode of $b (vuproxy ran with umask 000)" "$(e2e_mode "$f")" 600
	gzip -t "$f" 2>"$E2E_DIR/gzip-$i.err" ||
		e2e_fail "$b is not a complete gzip stream: $(cat "$E2E_DIR/gzip-$i.err")"
	size=$(stat -c %s "$f")
	if [ "$i" != 2 ]; then
		[ "$size" -ge 1000000 ] && [ "$size" -le $((1000000 + 16384)) ] ||
			e2e_fail "$b: $size bytes; -C 1 closes a file once it passes 1000000 bytes"
	fi
	e2e_dump "$E2E_DIR/dump-$i.json" --json "$f"
	e2e_expect_eq "dump --json $b exit status (stderr: $(cat "$E2E_DIR/dump-$i.json.err"))" "$E2E_DUMP_RC" 0
	[ ! -s "$E2E_DIR/dump-$i.json.err" ] ||
		e2e_fail "dump $b wrote to stderr: $(cat "$E2E_DIR/dump-$i.json.err")"
	n=$(wc -l <"$E2E_DIR/dump-$i.json")
	[ "$n" -gt 0 ] || e2e_fail "dump $b printed no record"
	others=$(jq -c 'select(.session != 1)' "$E2E_DIR/dump-$i.json" | head -n 3)
	[ -z "$others" ] || e2e_fail "$b holds records of sessions other than 1: $others"
	e2e_dump "$E2E_DIR/dump-$i.txt" "$f"
	e2e_expect_eq "dump $b exit status" "$E2E_DUMP_RC" 0
	# A heading line before each session's declared state.
	heads=$(grep -c '^s1: declared state (set up before this file began)$' "$E2E_DIR/dump-$i.txt" || true)
	e2e_expect_eq "dump $b: declared-state headings" "$heads" 1
	e2e_expect_eq "dump $b: text lines vs --json records" "$(wc -l <"$E2E_DIR/dump-$i.txt")" "$((n + 1))"
	grep -q ' s1 front-end>back-end SET_VRING_NUM ' "$E2E_DIR/dump-$i.txt" ||
		e2e_fail "dump $b shows no SET_VRING_NUM of session s1"
	# One key per record: SET_VRING_NUM num=i -> 2i, SET_CONFIG offset=i
	# -> 2i+1, GET_FEATURES -> GF / GF-reply.
	# Declared state (the set-up restated at the file's start) is kept
	# apart: it repeats earlier messages by design.
	jq -r 'select(.declared | not) |
	       if .request == "SET_VRING_NUM" and (.reply | not) then 2 * .payload.num
	       elif .request == "SET_CONFIG" and (.reply | not) then 2 * .payload.offset + 1
	       elif .request == "GET_FEATURES" then (if .reply then "GF-reply" else "GF" end)
	       else "unexpected:" + .request end' "$E2E_DIR/dump-$i.json" >"$E2E_DIR/keys-$i.txt"
	e2e_log "$b: $size bytes, $n records, keys $(head -n 1 "$E2E_DIR/keys-$i.txt") .. $(tail -n 1 "$E2E_DIR/keys-$i.txt")"
	cat "$E2E_DIR/keys-$i.txt" >>"$E2E_DIR/keys.txt"
	# The file stands alone: it restates the set-up in effect when it
	# began (declared state): GET_FEATURES and its reply, and the last
	# SET_VRING_NUM and SET_CONFIG (each one key) before its first event.
	first=$(head -n 1 "$E2E_DIR/keys-$i.txt")
	decl=$(jq -r 'select(.declared) | .request + (if .reply then "-reply" else "" end) + "=" +
	              ((.payload.num // .payload.offset // "") | tostring)' "$E2E_DIR/dump-$i.json" | tr '\n' ' ')
	e2e_expect_eq "$b: declared state" "$decl" \
		"GET_FEATURES= GET_FEATURES-reply= SET_VRING_NUM=$(((first - 2) / 2)) SET_CONFIG=$(((first - 1) / 2)) "
	# check judges it against that set-up, as it would the whole trace:
	# trace_peer's own faults (SET_CONFIG past the config space VU006,
	# without the CONFIG protocol feature VU014, ring sizes that are no
	# power of 2 VU039), and no false alarm from what came before (a
	# reply to an earlier file's request).
	rc=0
	"$VUPROXY" check --json "$f" >"$E2E_DIR/check-$i.json" 2>"$E2E_DIR/check-$i.err" || rc=$?
	e2e_expect_eq "check $b exit status ($(tail -n 2 "$E2E_DIR/check-$i.err"))" "$rc" 1
	e2e_expect_eq "check $b: the ids found" "$(jq -r .id "$E2E_DIR/check-$i.json" | sort -u | tr '\n' ' ')" "VU006 VU014 VU039 "
	grep -q '^session 1 began before this file: judged against the set-up it declared' "$E2E_DIR/check-$i.err" ||
		e2e_fail "check $b does not say that session 1 is judged against its declared set-up: $(cat "$E2E_DIR/check-$i.err")"
done

# Continuity: first kept key k0 > 0 (older files are gone), then k0+1, ...
# up to 2*COUNT-1, then the final GET_FEATURES round trip.
awk -v last=$((2 * COUNT - 1)) '
	NR == 1 { if ($1 !~ /^[0-9]+$/ || $1 == 0) { print "first record is " $1 " (want a message number > 0)"; bad = 1; exit }
	          want = $1 }
	$1 ~ /^[0-9]+$/ { if (done) { print "message " $1 " after the final GET_FEATURES"; bad = 1; exit }
	                  if ($1 != want) { printf "record %d: message %s, expected %d (%s)\n", NR, $1, want, ($1 < want ? "repeated" : "lost"); bad = 1; exit }
	                  want++; next }
	$1 == "GF" { if (want != last + 1) { printf "GET_FEATURES after message %d of %d\n", want - 1, last; bad = 1; exit } ; done = 1; gf++; next }
	$1 == "GF-reply" { if (gf != 1) { print "GET_FEATURES reply without its request"; bad = 1; exit } ; reply = 1; next }
	{ print "unexpected record " $0; bad = 1; exit }
	END { if (!bad && !reply) { printf "the trace ends after message %d of %d, without the final GET_FEATURES reply\n", want - 1, last; bad = 1 }
	      exit bad }' "$E2E_DIR/keys.txt" >"$E2E_DIR/continuity.err" ||
	e2e_fail "messages across the kept files: $(cat "$E2E_DIR/continuity.err")"
e2e_log "kept files hold messages $(head -n 1 "$E2E_DIR/keys.txt") .. $((2 * COUNT - 1)) without gap or repeat, then the final GET_FEATURES and its reply"

# ---- the command line of -w, -C, -W ----
# cli WANT_RC WHAT ARGS...: vuproxy ARGS exits WANT_RC (it must not get
# as far as listening: every case here is refused up front).
cli() {
	local want=$1 what=$2 rc=0
	shift 2
	timeout 10 "$VUPROXY" --frontend "listen:$E2E_DIR/cli-fe.sock" \
		--backend "connect:$E2E_DIR/cli-be.sock" "$@" >"$E2E_DIR/cli.out" 2>&1 || rc=$?
	[ "$rc" = "$want" ] || e2e_fail "vuproxy $* ($what): exit status $rc, expected $want; output: $(cat "$E2E_DIR/cli.out")"
	[ -s "$E2E_DIR/cli.out" ] || e2e_fail "vuproxy $* ($what): exit $rc without a message"
}
cli 2 "-C without -w" -C 1
cli 2 "-W without -C" -w "$E2E_DIR/cli.pcapng.gz" -W 3
cli 2 "-G without -w" -G 1
cli 2 "-G 0" -w "$E2E_DIR/cli.pcapng.gz" -G 0
cli 2 "-C 0" -w "$E2E_DIR/cli.pcapng.gz" -C 0
cli 2 "-W 0" -w "$E2E_DIR/cli.pcapng.gz" -C 1 -W 0
cli 2 "-C not a number" -w "$E2E_DIR/cli.pcapng.gz" -C 1x
cli 1 "-w in a missing directory" -w "$E2E_DIR/no/such/dir/t.pcapng.gz"
grep -qF "$E2E_DIR/no/such/dir/t.pcapng.gz" "$E2E_DIR/cli.out" ||
	e2e_fail "the error for an unwritable -w FILE does not name it: $(cat "$E2E_DIR/cli.out")"
[ ! -e "$E2E_DIR/cli.pcapng.gz" ] || e2e_fail "a refused command line left a trace file behind"
"$VUPROXY" --help >"$E2E_DIR/help.txt" 2>&1 || e2e_fail "vuproxy --help failed"
for opt in -w -C -G -W; do
	grep -qE -- "(^|[ ,])$opt( |,|\$)" "$E2E_DIR/help.txt" ||
		e2e_fail "vuproxy --help does not document $opt: $(cat "$E2E_DIR/help.txt")"
done
e2e_log PASS
