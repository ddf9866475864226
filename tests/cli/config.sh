#!/bin/bash
# --config FILE (what vuproxy@NAME.service runs): a file's options are
# used, the command line after it overrides them, and a bad file is
# refused with FILE:LINE and exit status 2 before anything starts.
set -u
VUPROXY=${VUPROXY:?}
W=$(mktemp -d /tmp/vup-config.XXXXXX)
PID=
trap '[ -n "$PID" ] && kill "$PID" 2>/dev/null; rm -rf "$W"' EXIT
FAILS=0
if [ "$(id -u)" = 0 ]; then RUNTIME=/run/vuproxy; else RUNTIME=${XDG_RUNTIME_DIR:?not root: XDG_RUNTIME_DIR is needed}/vuproxy; fi
fail() { echo "FAIL: $*"; FAILS=$((FAILS + 1)); }

refused() { # WHAT EXPECTED-MESSAGE ARGS...
	local what=$1 want=$2
	shift 2
	# A hang is a failure too (status 124).
	timeout 10 "$VUPROXY" "$@" >"$W/out" 2>&1
	local rc=$?
	if [ "$rc" != 2 ] || ! grep -qF -- "$want" "$W/out"; then
		fail "$what: status $rc (want 2), output: $(cat "$W/out") (want '$want')"
	else
		echo "ok: $what: $(head -1 "$W/out")"
	fi
}
printf 'frontend listen:%s/fe.sock\n\n# the back-end\nbackend\n' "$W" >"$W/novalue.conf"
refused "an option without its value" "$W/novalue.conf:4: 'backend' needs a value" --config "$W/novalue.conf"
printf 'frontend listen:%s/fe.sock\nbackend connect:%s/be.sock\nring 0\n' "$W" "$W" >"$W/range.conf"
refused "a value out of range" "$W/range.conf:3: --ring '0': not in 1..65536" --config "$W/range.conf"
refused "a missing file" "--config $W/none.conf: No such file" --config "$W/none.conf"
printf 'config %s/range.conf\n' "$W" >"$W/nested.conf"
refused "--config in a config file" "has no place in a config file" --config "$W/nested.conf"
head -2 "$W/range.conf" >"$W/ends.conf"
# --config as getopt_long reads the command line: a prefix of it, and
# never another option's value (-r's here: the rules file "--config").
refused "--conf, a prefix" "$W/range.conf:3: --ring '0'" --conf "$W/range.conf"
refused "--config as -r's value" "-r --config: not loaded" \
	-r --config --frontend "listen:$W/a.sock" --backend "connect:$W/b.sock" --no-control
# What is not a regular file: never a hang, never a crash.
refused "a directory" "--config $W: Is a directory" --config "$W"
mkfifo "$W/fifo"
refused "a FIFO nobody writes to" "--config $W/fifo: a FIFO or pipe nothing was written to" \
	--config "$W/fifo"
refused "a pipe (<(...)) read to its end" ":2: --ring '0'" \
	--config <(sleep 0.3; printf 'frontend listen:/x\nring 0\n')
refused "a NUL byte" "not a text file" --config <(printf 'ring 8\0\n')
refused "more than 1 MiB" "larger than 1 MiB" --config /dev/zero
refused "a bad value on the command line after the file" "vuproxy: --ring '0'" --config "$W/ends.conf" --ring 0

# A good file, whose -w the command line overrides: the file's -w cannot
# be opened, the command line's can.
cat >"$W/vm1.conf" <<CONF
# vm1: one option per line
frontend listen:$W/fe sock with spaces.sock
  backend   connect:$W/be.sock
-w /nonexistent-dir/vm1.pcapng.gz
name vup-cli-$$
strict
CONF
"$VUPROXY" --config "$W/vm1.conf" -w "$W/vm1.pcapng.gz" >"$W/log" 2>&1 &
PID=$!
for _ in $(seq 100); do
	[ -S "$W/fe sock with spaces.sock" ] && [ -S "$RUNTIME/vup-cli-$$.ctl" ] && break
	sleep 0.05
done
[ -S "$W/fe sock with spaces.sock" ] || fail "vuproxy --config did not listen where the file says: $(cat "$W/log")"
# ctl finds it by the name the file gives ($RUNTIME/NAME.ctl).
for who in "vup-cli-$$" "vup-cli-$$.ctl"; do
	"$VUPROXY" ctl "$who" sessions >"$W/ctl" 2>&1 ||
		fail "vuproxy ctl $who sessions: $(cat "$W/ctl")"
done
kill -TERM "$PID"
wait "$PID"
RC=$?
PID=
[ "$RC" = 0 ] || fail "vuproxy --config exited $RC: $(cat "$W/log")"
[ -s "$W/vm1.pcapng.gz" ] || fail "the command line's -w did not override the file's: $(cat "$W/log")"
[ "$FAILS" = 0 ] || { echo "$FAILS failure(s)"; exit 1; }
echo "PASS: --config files are read, overridden and refused as documented"
