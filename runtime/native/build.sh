#!/bin/sh
# Builds the runtime's C helper into runtime/native/build/. Idempotent: rebuilds only
# when the source is newer than the binary.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
out="$here/build/paas-run"
mkdir -p "$here/build"
if [ ! -x "$out" ] || [ "$here/paas-run.c" -nt "$out" ]; then
  gcc -O2 -Wall -Wextra -Wno-unused-parameter -Wno-format-truncation -o "$out.tmp" "$here/paas-run.c"
  mv "$out.tmp" "$out"
fi
: # path: $out
