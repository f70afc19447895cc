"use strict";
/**
 * Runs the CLI's bundle (dist/cli.cjs) with V8's code cache: compiling the ~0.25 MB bundle
 * took ~30-40 ms of each call, deserializing the cached bytecode a few. The cache is made
 * by the first run after a build (written at exit: it then holds every function that run
 * compiled); its name carries the bundle's size and mtime, so a cache is never applied to
 * another build (V8 itself only checks the source's length).
 */
const fs = require("node:fs");
const path = require("node:path");
const vm = require("node:vm");
const { createRequire } = require("node:module");

const file = path.join(__dirname, "../dist/cli.cjs");
const st = fs.statSync(file);
const cacheFile = `${file}.${st.size}-${Math.floor(st.mtimeMs)}.cache`;
const source = fs.readFileSync(file, "utf8");
let cachedData;
try {
  cachedData = fs.readFileSync(cacheFile);
} catch {}
// No import() in there: node 20 runs it from a vm.Script only with --experimental-vm-modules
// (the wrapper turns the bundle's import() of node's own modules into require()).
const script = new vm.Script(`(function (exports, require, module, __filename, __dirname) {${source}\n})`, { filename: file, cachedData });
if (!cachedData || script.cachedDataRejected) {
  process.once("exit", () => {
    try {
      const tmp = `${cacheFile}.${process.pid}.tmp`;
      fs.writeFileSync(tmp, script.createCachedData());
      fs.renameSync(tmp, cacheFile);
    } catch {}
  });
}
const mod = { exports: {} };
script.runInThisContext()(mod.exports, createRequire(file), mod, file, path.dirname(file));
