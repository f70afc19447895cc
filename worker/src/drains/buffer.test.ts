import { test } from "node:test";
import assert from "node:assert/strict";
import type { AppLogEntry } from "@paas/shared/app-log";
import { compareIds, DrainBuffer, idBefore, missedLines, type Item } from "./buffer.ts";

const entry = (id: string): AppLogEntry => ({ id, t: "2026-12-03T10:00:00.000Z", src: "app", type: "web", replica: "1", stream: "stdout", line: `line ${id}` });
/** Lines numbered from..to, ids `1000-n`. */
const lines = (from: number, to: number): Item[] => Array.from({ length: to - from + 1 }, (_, i) => ({ id: `1000-${from + i}`, ord: from + i, entry: entry(`1000-${from + i}`) }));

test("stream ids compare as numbers and idBefore is the id just below", () => {
  assert.equal(compareIds("1000-2", "1000-10"), -1);
  assert.equal(compareIds("999-99", "1000-0"), -1);
  assert.equal(compareIds("1000-3", "1000-3"), 0);
  assert.equal(idBefore("1000-3"), "1000-2");
  assert.equal(idBefore("1000-0"), "999-18446744073709551615");
  assert.equal(idBefore("0-0"), "0-0");
});

test("a drain that keeps up: lines go out in batches and the cursor follows what was delivered", () => {
  const b = new DrainBuffer(10, { id: "1000-0", ord: 0 });
  assert.equal(b.add(lines(1, 5)), 0);
  assert.deepEqual(b.take(3).map((i) => i.ord), [1, 2, 3]);
  assert.deepEqual(b.take(3), [], "one batch out at a time");
  assert.deepEqual(b.done(), { id: "1000-0", ord: 0 }, "nothing done while the batch is out");
  assert.equal(b.delivered(), 3);
  assert.deepEqual(b.done(), { id: "1000-3", ord: 3 });
  assert.deepEqual(b.take(10).map((i) => i.ord), [4, 5]);
  b.delivered();
  assert.deepEqual(b.done(), { id: "1000-5", ord: 5 });
  assert.deepEqual(b.readFrom, { id: "1000-5", ord: 5 });
});

test("a drain that is down: the batch is retried, and past the capacity the oldest lines not out are dropped and counted", () => {
  const b = new DrainBuffer(5, { id: "1000-0", ord: 0 });
  b.add(lines(1, 4));
  assert.deepEqual(b.take(2).map((i) => i.ord), [1, 2]);
  b.failed();
  assert.deepEqual(b.take(2).map((i) => i.ord), [1, 2], "the same batch again");
  // 10 more lines while 1 and 2 are out: 14 held, room for 5: the 9 oldest after the batch go.
  assert.equal(b.add(lines(5, 14)), 9);
  assert.equal(b.queued, 5);
  assert.deepEqual(b.done(), { id: "1000-0", ord: 0 }, "the batch out is not done");
  b.delivered();
  // 3..11 dropped, 12..14 wait: done up to 11.
  assert.deepEqual(b.done(), { id: "1000-11", ord: 11 });
  assert.deepEqual(b.take(10).map((i) => i.ord), [12, 13, 14]);
  b.delivered();
  assert.equal(b.queued, 0);
});

test("lines the stream trimmed before they were read are counted as missed", () => {
  // Read up to line 10 (id 1000-10); since then 100 lines were added and the stream keeps 50.
  const c = { id: "1000-10", ord: 10 };
  assert.deepEqual(missedLines(c, { length: 50, entriesAdded: 110, firstId: "1000-61" }), { missed: 50, cursor: { id: "1000-60", ord: 60 } });
  // Nothing after the cursor trimmed.
  assert.deepEqual(missedLines(c, { length: 50, entriesAdded: 60, firstId: "1000-10" }), { missed: 0, cursor: c });
  assert.deepEqual(missedLines(c, { length: 0, entriesAdded: 10, firstId: null }), { missed: 0, cursor: c });
  // A stream made anew after it was deleted: nothing counted.
  assert.equal(missedLines(c, { length: 3, entriesAdded: 3, firstId: "2000-0" }).missed, 0);
});

test("a buffer of one line still sends and counts", () => {
  const b = new DrainBuffer(1, { id: "0-0", ord: 0 });
  assert.equal(b.add(lines(1, 3)), 2);
  assert.deepEqual(b.take(5).map((i) => i.ord), [3]);
  assert.equal(b.add(lines(4, 5)), 2, "none held beside the one out");
  b.delivered();
  assert.deepEqual(b.done(), { id: "1000-5", ord: 5 });
  assert.throws(() => new DrainBuffer(0, { id: "0-0", ord: 0 }), /at least 1/);
});
