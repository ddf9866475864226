#!/bin/bash
# trace.sh - the trace writer's throughput against gzip -1
# (bench-trace-write, see trace_write.c):
#   control  TRACE_N control messages, each compressed and sync-flushed
#            before the relay would forward it
#   tap      TRACE_FRAMES tap frames of 64..1514 bytes, batched by the
#            writer and flushed once at the end
# For each, MB/s of uncompressed pcapng through the writer and through
# zlib level 1 in one stream with no flush (what `gzip -1` does) on the same
# bytes, writer/gzip (target >= 0.8) and the compressed sizes; the median
# over TRACE_ROUNDS rounds.  Also the mean and worst us per control message.
#
# Needs BENCH_BIN (dir of the bench-* programs).
# Knobs: TRACE_N=200000 TRACE_FRAMES=100000 TRACE_ROUNDS=3 TRACE_CPU=1
#        TRACE_LIMIT=300 (s)  WORK=dir for logs (default mktemp)
#        KEEP=1 keeps the four trace files in WORK (about 100 MB by default)
#        RESULTS=file to append "key=value" results to
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"
: "${BENCH_BIN:?set BENCH_BIN}"
TRACE_N=${TRACE_N:-200000}; TRACE_FRAMES=${TRACE_FRAMES:-100000}
TRACE_ROUNDS=${TRACE_ROUNDS:-3}; TRACE_CPU=${TRACE_CPU:-1}
TRACE_LIMIT=${TRACE_LIMIT:-300}
OWN_WORK=0
if [ -z "${WORK:-}" ]; then WORK=$(mktemp -d /tmp/vuproxy-bench-trace.XXXXXX); OWN_WORK=1; fi
trap '[ $OWN_WORK = 1 ] && [ "${KEEP:-0}" != 1 ] && rm -rf "$WORK"' EXIT
trap 'exit 130' INT TERM

# Without KEEP the program writes in a directory of its own and removes it.
file=""
[ "${KEEP:-0}" = 1 ] && file=$WORK/t.pcapng.gz

echo "== trace writer vs gzip -1: $TRACE_ROUNDS rounds of $TRACE_N control messages and $TRACE_FRAMES tap frames"
echo "   pinned to CPU $TRACE_CPU (taskset -c $TRACE_CPU); load average at start: $(loadavg)"
timeout -k 5 "$TRACE_LIMIT" taskset -c "$TRACE_CPU" "$BENCH_BIN/bench-trace-write" \
	"$file" "$TRACE_N" "$TRACE_FRAMES" "$TRACE_ROUNDS" >"$WORK/trace.out" 2>"$WORK/trace.err"
rc=$?
if [ $rc != 0 ]; then
	echo "ERROR: bench-trace-write failed (rc $rc):" >&2
	cat "$WORK/trace.out" "$WORK/trace.err" >&2
	exit 1
fi
# Human lines to the terminal, key=value lines to RESULTS.
grep -v -E '^[a-z_]+=' "$WORK/trace.out" | sed 's/^/   /'
echo "   load average at end: $(loadavg)"
if [ -n "${RESULTS:-}" ]; then
	grep -E '^[a-z_]+=' "$WORK/trace.out" >>"$RESULTS"
fi
