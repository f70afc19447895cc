import assert from "node:assert/strict";
import { test } from "node:test";
import { resolveCopyDest, type CopyDest } from "./copy-dest.ts";

// [what the row checks, dest as written, WORKDIR, number of sources (wildcards expanded), dest is a dir in the image, result]
const table: [string, string, string, number, boolean, CopyDest | RegExp][] = [
  ["`.` is the WORKDIR itself", ".", "/src", 1, false, { into: "/src" }],
  ["`./` too", "./", "/src", 1, false, { into: "/src" }],
  ["a path ending in /. is that directory", "lib/.", "/src", 1, false, { into: "/src/lib" }],
  ["`.` under the root WORKDIR", ".", "/", 1, false, { into: "/" }],
  ["a trailing slash: a directory, made when missing", "/opt/new/", "/src", 1, false, { into: "/opt/new" }],
  ["a relative one with a trailing slash", "conf/", "/srv", 1, false, { into: "/srv/conf" }],
  ["a directory that exists, no slash: into it", "/app", "/", 1, true, { into: "/app" }],
  ["the WORKDIR by its absolute path", "/src", "/src", 1, true, { into: "/src" }],
  ["one that does not exist, no slash: the source itself", "/app", "/", 1, false, { at: "/app" }],
  ["a relative file name", "out.js", "/src", 1, false, { at: "/src/out.js" }],
  ["a relative path going up", "../up.js", "/src/a", 1, false, { at: "/src/up.js" }],
  ["an existing file is overwritten", "/etc/motd", "/", 1, false, { at: "/etc/motd" }],
  ["several sources into a slash-ended dir", "/lib/", "/", 3, false, { into: "/lib" }],
  ["several sources into `.`", ".", "/src", 2, false, { into: "/src" }],
  ["several sources into an existing dir without the slash", "/lib", "/", 2, true, { into: "/lib" }],
  ["several sources, no slash, no such dir: refused", "/lib", "/", 2, false, /more than one source the destination must be a directory ending in "\/": write \/lib\//],
  ["a wildcard matching one file: as one source", "/app/main.js", "/", 1, false, { at: "/app/main.js" }],
  ["a wildcard matching several, no slash: refused", "dist", "/src", 4, false, /write dist\//],
];

test("COPY/ADD destinations follow the Dockerfile reference", () => {
  for (const [what, dest, workdir, sources, isDir, want] of table) {
    if (want instanceof RegExp) assert.throws(() => resolveCopyDest(dest, workdir, sources, isDir), want, what);
    else assert.deepEqual(resolveCopyDest(dest, workdir, sources, isDir), want, what);
  }
});
