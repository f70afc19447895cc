#!/bin/sh
# Builds the runtime's C programs into runtime/native/build/: paas-run (the container
# helper) and paas-client (the CLI's thin client of the agent). Idempotent: each is
# rebuilt only when its source is newer than the binary.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$here/build"
for prog in paas-run:paas-run.c paas-client:client.c; do
  out="$here/build/${prog%%:*}"
  src="$here/${prog#*:}"
  if [ ! -x "$out" ] || [ "$src" -nt "$out" ]; then
    gcc -O2 -Wall -Wextra -Wno-unused-parameter -Wno-format-truncation -o "$out.tmp" "$src"
    mv "$out.tmp" "$out"
  fi
done
: # paths: $here/build/paas-run, $here/build/paas-client
