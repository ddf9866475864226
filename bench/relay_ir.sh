#!/bin/bash
# relay_ir.sh - instructions vuproxy executes per message relayed, counted
# by callgrind: repeatable for the same binary and inputs whatever else
# the machine does, where round trips and CPU times on these shared VMs
# move by 20% from run to run.  User-space instructions only: the
# recvmsg/sendmsg/poll system calls, most of a message's cost, are not in
# it, so it weighs changes to vuproxy's own per-message work.
#
# Two runs of IR_N round trips (default 20000 and twice that) per binary;
# the difference divided by the extra messages is the marginal cost,
# free of start-up and shutdown.  With VUPROXY_BASE set, the same for
# that build and the ratio.
#
# Needs VUPROXY, BENCH_BIN (bench-rt-frontend, bench-rt-backend), valgrind.
set -u
: "${VUPROXY:?set VUPROXY}" "${BENCH_BIN:?set BENCH_BIN}"
command -v valgrind >/dev/null || { echo "relay_ir.sh: valgrind missing" >&2; exit 1; }
N=${IR_N:-20000}

# ir BIN N: callgrind's instruction total for vuproxy relaying N round trips
# (and 100 of warm-up).
ir() {
	local dir be vp i total
	dir=$(mktemp -d /tmp/vuproxy-bench-ir.XXXXXX)
	"$BENCH_BIN/bench-rt-backend" "$dir/be.sock" >/dev/null 2>&1 &
	be=$!
	for ((i = 0; i < 100; i++)); do [ -S "$dir/be.sock" ] && break; sleep 0.05; done
	valgrind --tool=callgrind --callgrind-out-file="$dir/cg.out" "$1" -q \
		--frontend "listen:$dir/fe.sock" --backend "connect:$dir/be.sock" 2>"$dir/vg.err" &
	vp=$!
	for ((i = 0; i < 200; i++)); do [ -S "$dir/fe.sock" ] && break; sleep 0.05; done
	"$BENCH_BIN/bench-rt-frontend" -n "$2" -w 100 "$dir/fe.sock" >/dev/null ||
		{ echo "relay_ir.sh: the front-end failed" >&2; exit 1; }
	kill -TERM "$vp"; wait "$vp" 2>/dev/null
	kill "$be" 2>/dev/null; wait "$be" 2>/dev/null
	total=$(awk '/^(summary|totals):/ { print $2; exit }' "$dir/cg.out")
	rm -rf "$dir"
	[ -n "$total" ] || { echo "relay_ir.sh: no callgrind total" >&2; exit 1; }
	echo "$total"
}

# per_msg BIN: marginal instructions per message (2 per round trip).
per_msg() {
	local a b
	a=$(ir "$1" "$N") || exit 1
	b=$(ir "$1" $((2 * N))) || exit 1
	awk -v a="$a" -v b="$b" -v n="$N" 'BEGIN { printf "%.0f", (b - a) / (2 * n) }'
}

echo "== instructions per message relayed (callgrind, $N and $((2 * N)) GET_FEATURES round trips)"
NEW=$(per_msg "$VUPROXY") || exit 1
echo "   vuproxy ($VUPROXY): $NEW instructions/message"
if [ -n "${VUPROXY_BASE:-}" ]; then
	BASE=$(per_msg "$VUPROXY_BASE") || exit 1
	echo "   vuproxy_base ($VUPROXY_BASE): $BASE instructions/message"
	awk -v a="$NEW" -v b="$BASE" 'BEGIN { printf "   vuproxy/vuproxy_base = %.3f (%+d instructions/message)\n", a / b, a - b }'
fi
