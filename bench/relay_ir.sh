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
# that build and the ratio; VUPROXY_BASE_ARGS (split on spaces) are given
# to it only (VUPROXY_BASE=$VUPROXY VUPROXY_BASE_ARGS=--no-check: what
# live checking costs).
#
# The same runs count the calls of the catalogue lookup
# (vup_proto_lookup, from callgrind's call counts): how many times one
# message is looked up on its way through the relay.
#
# Needs VUPROXY, BENCH_BIN (bench-rt-frontend, bench-rt-backend), valgrind.
set -u
: "${VUPROXY:?set VUPROXY}" "${BENCH_BIN:?set BENCH_BIN}"
command -v valgrind >/dev/null || { echo "relay_ir.sh: valgrind missing" >&2; exit 1; }
N=${IR_N:-20000}

# ir BIN N [ARGS...]: callgrind's instruction total for vuproxy relaying N
# round trips (and 100 of warm-up).
ir() {
	local dir be vp i total bin=$1 n=$2
	shift 2
	dir=$(mktemp -d /tmp/vuproxy-bench-ir.XXXXXX)
	"$BENCH_BIN/bench-rt-backend" "$dir/be.sock" >/dev/null 2>&1 &
	be=$!
	for ((i = 0; i < 100; i++)); do [ -S "$dir/be.sock" ] && break; sleep 0.05; done
	valgrind --tool=callgrind --callgrind-out-file="$dir/cg.out" "$bin" -q "$@" \
		--frontend "listen:$dir/fe.sock" --backend "connect:$dir/be.sock" 2>"$dir/vg.err" &
	vp=$!
	for ((i = 0; i < 200; i++)); do [ -S "$dir/fe.sock" ] && break; sleep 0.05; done
	"$BENCH_BIN/bench-rt-frontend" -n "$n" -w 100 "$dir/fe.sock" >/dev/null ||
		{ echo "relay_ir.sh: the front-end failed" >&2; exit 1; }
	kill -TERM "$vp"; wait "$vp" 2>/dev/null
	kill "$be" 2>/dev/null; wait "$be" 2>/dev/null
	total=$(awk '/^(summary|totals):/ { print $2; exit }' "$dir/cg.out")
	# Calls into vup_proto_lookup: "fn=(id) name" or "cfn=(id) name"
	# names a function once, later "(id)" alone; the "calls=N" line
	# after a "cfn=" counts the calls to it.
	lookups=$(awk '
		/^c?fn=/ { id = $1; sub(/^c?fn=/, "", id)
			  if (NF > 1) name[id] = $2
			  if ($1 ~ /^cfn=/) callee = name[id]
			  next }
		/^calls=/ { if (callee == "vup_proto_lookup") { split($1, c, "="); n += c[2] } callee = "" }
		END { print n + 0 }' "$dir/cg.out")
	rm -rf "$dir"
	[ -n "$total" ] || { echo "relay_ir.sh: no callgrind total" >&2; exit 1; }
	echo "$total $lookups"
}

# per_msg BIN [ARGS...]: marginal instructions and catalogue lookups per
# message (2 per round trip).
per_msg() {
	local a b bin=$1
	shift
	a=$(ir "$bin" "$N" "$@") || exit 1
	b=$(ir "$bin" $((2 * N)) "$@") || exit 1
	echo "$a $b" | awk -v n="$N" '{ printf "%.0f %.2f", ($3 - $1) / (2 * n), ($4 - $2) / (2 * n) }'
}

echo "== instructions per message relayed (callgrind, $N and $((2 * N)) GET_FEATURES round trips)"
read -r NEW NEW_LK <<<"$(per_msg "$VUPROXY")" || exit 1
echo "   vuproxy ($VUPROXY): $NEW instructions/message, $NEW_LK catalogue lookups/message"
if [ -n "${VUPROXY_BASE:-}" ]; then
	# shellcheck disable=SC2086 # split on purpose
	read -r BASE BASE_LK <<<"$(per_msg "$VUPROXY_BASE" ${VUPROXY_BASE_ARGS:-})" || exit 1
	echo "   vuproxy_base ($VUPROXY_BASE ${VUPROXY_BASE_ARGS:-}): $BASE instructions/message, $BASE_LK catalogue lookups/message"
	awk -v a="$NEW" -v b="$BASE" 'BEGIN { printf "   vuproxy/vuproxy_base = %.3f (%+d instructions/message)\n", a / b, a - b }'
fi
