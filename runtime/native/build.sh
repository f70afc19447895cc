#!/bin/sh
# Builds the runtime's C programs into runtime/native/build/: paas-run (the container
# helper; its sources in paas-run/, one file per role) and paas-client (the CLI's thin
# client of the agent). Idempotent: each is rebuilt only when one of its sources is newer
# than the binary.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$here/build"
flags="-O2 -Wall -Wextra -Wno-unused-parameter -Wno-format-truncation"

# build OUT LINK SOURCES... (HEADERS are listed with the sources: they count as newer too)
build() {
  out="$here/build/$1"
  link=$2
  shift 2
  stale=0
  [ -x "$out" ] || stale=1
  for f in "$@"; do [ "$f" -nt "$out" ] && stale=1; done
  [ $stale = 1 ] || return 0
  srcs=$(for f in "$@"; do case $f in *.c) printf '%s\n' "$f" ;; esac; done)
  # shellcheck disable=SC2086 # $link and $srcs are word lists
  gcc $flags $link -o "$out.tmp" $srcs 2>/dev/null || gcc $flags -o "$out.tmp" $srcs
  mv "$out.tmp" "$out"
}

# -flto: the roles' files are optimised as one program, as the single file was.
build paas-run -flto "$here"/paas-run/*.c "$here"/paas-run/*.h
# The client is linked statically: no dynamic loader and libc mapping at each CLI call
# (~1 ms here); dynamically if this host has no static libc.
build paas-client -static "$here/client.c"
: # paths: $here/build/paas-run, $here/build/paas-client
