#!/bin/sh
# Build the libFuzzer targets (clang, -DVUP_FUZZ=ON): every
# tests/fuzz/fuzz_*.c, each declared with vup_fuzz_target in
# tests/fuzz/CMakeLists.txt (codec, control, memmap, model, reader,
# recorder, ring, rules, tap).
# Run each for FUZZ_SECONDS (default 30), starting from its seed corpus
# (tests/fuzz/corpus/<target without fuzz_>, read only: new inputs go to a
# scratch directory).  Prints executions and executions/s per target; exits
# non-zero if any target crashes, leaks, times out or fails a check.
# Crash inputs are kept in $BUILD_DIR/fuzz-artifacts.
#   BUILD_DIR (default build-fuzz)  FUZZ_SECONDS  FUZZ_ARGS (extra options)
#   WERROR=1 (warnings are errors, as in scripts/build.sh)
set -eu
cd "$(dirname "$0")/../.."
BUILD_DIR=${BUILD_DIR:-build-fuzz}
FUZZ_SECONDS=${FUZZ_SECONDS:-30}
command -v clang >/dev/null || { echo "run.sh: clang missing" >&2; exit 1; }
WERR=OFF; [ "${WERROR:-0}" = 1 ] && WERR=ON
CC=clang cmake -S . -B "$BUILD_DIR" -DVUP_FUZZ=ON -DVUP_WERROR=$WERR >/dev/null
targets=$(for f in tests/fuzz/fuzz_*.c; do basename "$f" .c; done)
# shellcheck disable=SC2086
cmake --build "$BUILD_DIR" -j"$(nproc)" --target $targets >/dev/null

artifacts=$BUILD_DIR/fuzz-artifacts
mkdir -p "$artifacts"
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT INT TERM
failed=0
for t in $targets; do
  seeds=tests/fuzz/corpus/${t#fuzz_}
  mkdir -p "$scratch/$t"
  set -- "$scratch/$t"
  [ -d "$seeds" ] && set -- "$@" "$seeds"
  log=$scratch/$t.log
  rc=0
  # shellcheck disable=SC2086
  "$BUILD_DIR/tests/fuzz/$t" -max_total_time="$FUZZ_SECONDS" -timeout=10 \
    -max_len=16384 -print_final_stats=1 -artifact_prefix="$artifacts/$t-" \
    ${FUZZ_ARGS:-} "$@" >"$log" 2>&1 || rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
  if [ "$rc" -ne 0 ]; then
    failed=1
    echo "$t: FAILED (exit $rc) after ${execs:-?} executions"
    tail -n 40 "$log"
    for a in "$artifacts/$t"-*; do
      if [ -e "$a" ]; then echo "  input: $a"; fi
    done
  else
    echo "$t: ok, ${execs:-?} executions in ${FUZZ_SECONDS}s (${rate:-?}/s)"
  fi
done
exit $failed
