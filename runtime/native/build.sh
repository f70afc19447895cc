#!/bin/sh
# Builds the runtime's C programs into runtime/native/build/: paas-run (the container
# helper) and paas-client (the CLI's thin client of the agent). Idempotent: each is
# rebuilt only when its source is newer than the binary.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$here/build"
flags="-O2 -Wall -Wextra -Wno-unused-parameter -Wno-format-truncation"
# prog:source:link
for prog in paas-run:paas-run.c: paas-client:client.c:-static; do
  out="$here/build/${prog%%:*}"
  rest=${prog#*:}
  src="$here/${rest%%:*}"
  link=${rest#*:}
  if [ ! -x "$out" ] || [ "$src" -nt "$out" ]; then
    # The client is linked statically: no dynamic loader and libc mapping at each CLI call
    # (~1 ms here); dynamically if this host has no static libc.
    gcc $flags $link -o "$out.tmp" "$src" 2>/dev/null || gcc $flags -o "$out.tmp" "$src"
    mv "$out.tmp" "$out"
  fi
done
: # paths: $here/build/paas-run, $here/build/paas-client
