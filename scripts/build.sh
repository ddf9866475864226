#!/bin/sh
# Configure and build.  BUILD_DIR (default build) and SANITIZE=1
# (AddressSanitizer + UndefinedBehaviorSanitizer) may be set.
set -eu
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
SAN=OFF; [ "${SANITIZE:-0}" = 1 ] && SAN=ON
cmake -S . -B "$BUILD_DIR" -DVUP_SANITIZE=$SAN >/dev/null
cmake --build "$BUILD_DIR" -j"$(nproc)"
