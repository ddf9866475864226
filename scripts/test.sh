#!/bin/sh
# Install what is needed, build, and run the whole test suite (unit tests,
# end-to-end tests against real DPDK/QEMU peers and our own test peers).
# SANITIZE=1 builds in build-asan with ASan+UBSan and runs the suite there,
# without the tests labelled slow (a live migration: two TCG guests that
# the sanitizers would push past their time budget) or nosan (the syscall
# audit of the systemd sandbox: it runs vuproxy under strace, where
# LeakSanitizer cannot run, and it is about the binary users run, not the
# sanitizers' runtime); WERROR=1 (set by CI,
# not by default) makes compiler warnings errors.
set -eu
cd "$(dirname "$0")/.."
[ "${SKIP_INSTALL:-0}" = 1 ] || ./scripts/install-deps.sh
if [ "${SANITIZE:-0}" = 1 ]; then BUILD_DIR=${BUILD_DIR:-build-asan}; else BUILD_DIR=${BUILD_DIR:-build}; fi
export BUILD_DIR
./scripts/build.sh
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
cd "$BUILD_DIR"
EXCLUDE=
[ "${SANITIZE:-0}" = 1 ] && EXCLUDE="-LE slow|nosan"
# shellcheck disable=SC2086
ctest --output-on-failure --timeout 600 $EXCLUDE ${CTEST_ARGS:-}
