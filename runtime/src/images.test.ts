/** The image store's layer commit: concurrent commits of the same content, a crash's leftovers. */
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, test } from "node:test";
import { ImageStore } from "./images.ts";
import { Layout } from "./paths.ts";

const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "paas-layers-test-"));
after(() => fs.rmSync(scratch, { recursive: true, force: true }));

/** A dir holding the same files each time (fixed mtimes: the digest covers them). */
function sameContent(name: string): string {
  const dir = path.join(scratch, name);
  fs.mkdirSync(path.join(dir, "node_modules/dep"), { recursive: true });
  fs.writeFileSync(path.join(dir, "node_modules/dep/index.js"), "module.exports = 42;\n");
  fs.writeFileSync(path.join(dir, "package.json"), '{"dependencies":{"dep":"1.0.0"}}\n');
  for (const p of ["node_modules/dep/index.js", "package.json", "node_modules/dep", "node_modules", "."]) {
    fs.utimesSync(path.join(dir, p), 1_700_000_000, 1_700_000_000);
  }
  return dir;
}

test("eight commits of identical content at once all get the one layer", async () => {
  const store = new ImageStore(new Layout(path.join(scratch, "a")));
  const dirs = Array.from({ length: 8 }, (_, i) => sameContent(`upper-${i}`));
  const results = await Promise.allSettled(dirs.map((d) => store.addLayerFromDir(d)));
  const failed = results.filter((r) => r.status === "rejected").map((r) => String((r as PromiseRejectedResult).reason));
  assert.deepEqual(failed, []);
  const digests = new Set(results.map((r) => (r as PromiseFulfilledResult<string>).value));
  assert.equal(digests.size, 1);
  const [digest] = digests;
  assert.ok(store.hasLayer(digest));
  assert.equal(fs.readFileSync(path.join(store.layout.layer(digest), "node_modules/dep/index.js"), "utf8"), "module.exports = 42;\n");
  assert.deepEqual(fs.readdirSync(store.layout.tmp), [], "no staging dirs left");
  for (const d of dirs) assert.ok(fs.existsSync(d), "a copying commit leaves its source");
});

test("moving commits of identical content at once: one is kept, the other dirs go", async () => {
  const store = new ImageStore(new Layout(path.join(scratch, "b")));
  const dirs = Array.from({ length: 4 }, (_, i) => sameContent(`move-${i}`));
  const digests = new Set(await Promise.all(dirs.map((d) => store.addLayerFromDir(d, true))));
  assert.equal(digests.size, 1);
  assert.ok(store.hasLayer([...digests][0]));
  for (const d of dirs) assert.equal(fs.existsSync(d), false);
});

test("a layer dir without its record (a crash mid-commit) is replaced by the next commit of it", async () => {
  const store = new ImageStore(new Layout(path.join(scratch, "c")));
  const { digest } = await store.digestDir(sameContent("probe"));
  const dest = store.layout.layer(digest);
  fs.mkdirSync(dest, { recursive: true });
  fs.writeFileSync(path.join(dest, "half-written"), "x");
  assert.equal(await store.addLayerFromDir(sameContent("again")), digest);
  assert.ok(store.hasLayer(digest));
  assert.deepEqual(fs.readdirSync(dest).sort(), ["node_modules", "package.json"]);
  assert.deepEqual(fs.readdirSync(store.layout.tmp), []);
});
