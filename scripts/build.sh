#!/bin/sh
# Configure and build.  BUILD_DIR (default build), SANITIZE=1
# (AddressSanitizer + UndefinedBehaviorSanitizer), WERROR=1 (warnings are
# errors: CI sets it) and BUILD_TYPE (CMAKE_BUILD_TYPE) may be set; CC is
# read when BUILD_DIR is first configured.
set -eu
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
SAN=OFF; [ "${SANITIZE:-0}" = 1 ] && SAN=ON
WERR=OFF; [ "${WERROR:-0}" = 1 ] && WERR=ON
set -- -DVUP_SANITIZE=$SAN -DVUP_WERROR=$WERR
[ -z "${BUILD_TYPE:-}" ] || set -- "$@" -DCMAKE_BUILD_TYPE="$BUILD_TYPE"
cmake -S . -B "$BUILD_DIR" "$@" >/dev/null
cmake --build "$BUILD_DIR" -j"$(nproc)"
