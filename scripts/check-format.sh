#!/bin/sh
# Fail if any C file differs from .clang-format.
set -eu
cd "$(dirname "$0")/.."
command -v clang-format >/dev/null || { echo "clang-format missing" >&2; exit 1; }
bad=$(git ls-files '*.c' '*.h' | while read -r f; do
  clang-format --dry-run -Werror "$f" >/dev/null 2>&1 || echo "$f"; done)
[ -z "$bad" ] || { echo "not clang-formatted:"; echo "$bad"; exit 1; }
