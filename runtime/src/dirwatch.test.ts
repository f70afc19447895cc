import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";
import { DirWatch, FALLBACK_MS } from "./dirwatch.ts";

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), "paas-dirwatch-"));

test("a write after seq was taken wakes the waiter, even one written before it waits", async () => {
  const dir = tmp();
  const w = new DirWatch(dir);
  try {
    const seen = w.seq;
    fs.writeFileSync(path.join(dir, "status.json"), "{}"); // between the read and the wait
    const t = performance.now();
    await w.changed(seen, 5000);
    assert.ok(performance.now() - t < 2000, "woken by the event, not the 5 s timer");
    assert.notEqual(w.seq, seen);
    assert.equal(w.watching, true);
  } finally {
    w.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("changes to other files wake nobody; the timer still ends the wait", async () => {
  const dir = tmp();
  const w = new DirWatch(dir, (f) => f === "status.json");
  try {
    const seen = w.seq;
    fs.writeFileSync(path.join(dir, "config.json"), "{}");
    const t = performance.now();
    await w.changed(seen, 300);
    assert.ok(performance.now() - t >= 250, "not woken by config.json");
    assert.equal(w.seq, seen);
    // the monitor's atomic write (tmp + rename) is seen by its final name
    const p = w.changed(w.seq, 5000);
    fs.writeFileSync(path.join(dir, "status.json.tmp"), "{}");
    fs.renameSync(path.join(dir, "status.json.tmp"), path.join(dir, "status.json"));
    const t2 = performance.now();
    await p;
    assert.ok(performance.now() - t2 < 2000);
  } finally {
    w.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("an abort ends the wait; without a watch (no such dir) waits are short polls", async () => {
  const dir = tmp();
  const w = new DirWatch(dir);
  const ac = new AbortController();
  const p = w.changed(w.seq, 60_000, ac.signal);
  setTimeout(() => ac.abort(), 20);
  await p;
  w.close();
  fs.rmSync(dir, { recursive: true, force: true });

  const gone = new DirWatch(path.join(dir, "nope"));
  assert.equal(gone.watching, false);
  const t = performance.now();
  await gone.changed(gone.seq, 60_000);
  assert.ok(performance.now() - t < FALLBACK_MS + 500);
  gone.close();
});
