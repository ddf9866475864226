#!/bin/sh
# CI's build-only stage: build as a packager does (CMAKE_BUILD_TYPE=Release,
# -O3 -DNDEBUG), once with gcc and once with clang, test programs included,
# with warnings as errors, so that optimisation-dependent warnings
# (-Wmaybe-uninitialized at -O3, unused variables under NDEBUG) fail CI
# instead of a packager's build.  Into build-release-gcc and
# build-release-clang; needs scripts/install-deps.sh first.
set -eu
cd "$(dirname "$0")/.."
for cc in gcc clang; do
  echo "ci-release: Release build with $cc"
  CC=$cc BUILD_DIR=build-release-$cc BUILD_TYPE=Release WERROR=1 \
    ./scripts/build.sh
done
