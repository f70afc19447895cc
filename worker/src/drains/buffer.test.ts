import { test } from "node:test";
import assert from "node:assert/strict";
import type { AppLogEntry } from "@paas/shared/app-log";
import { compareIds, DrainBuffer, idBefore, missedLines, type Batch, type Item } from "./buffer.ts";

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

const ords = (b: Batch | null) => b?.items.map((i) => i.ord) ?? [];

test("a drain that keeps up: lines go out in batches and the cursor follows what was delivered", () => {
  const b = new DrainBuffer(10, { id: "1000-0", ord: 0 });
  assert.equal(b.add(lines(1, 5)), 0);
  const first = b.take(3)!;
  assert.deepEqual(ords(first), [1, 2, 3]);
  assert.deepEqual(b.done(), { id: "1000-0", ord: 0 }, "nothing done while the batch is out");
  assert.equal(b.delivered(first), 3);
  assert.equal(b.delivered(first), 0, "a batch counts once");
  assert.deepEqual(b.done(), { id: "1000-3", ord: 3 });
  const second = b.take(10)!;
  assert.deepEqual(ords(second), [4, 5]);
  assert.equal(b.take(10), null, "nothing waits");
  b.delivered(second);
  assert.deepEqual(b.done(), { id: "1000-5", ord: 5 });
  assert.deepEqual(b.readFrom, { id: "1000-5", ord: 5 });
});

test("a drain that is down: the batch is retried, and past the capacity the oldest lines not out are dropped and counted", () => {
  const b = new DrainBuffer(5, { id: "1000-0", ord: 0 });
  b.add(lines(1, 4));
  const out = b.take(2)!;
  assert.deepEqual(ords(out), [1, 2]);
  b.failed(out);
  const again = b.take(2)!;
  assert.deepEqual(ords(again), [1, 2], "the same lines again");
  assert.equal(again.id, out.id, "under the same id");
  // 10 more lines while 1 and 2 are out: 14 held, room for 5: the 9 oldest after the batch go.
  assert.equal(b.add(lines(5, 14)), 9);
  assert.equal(b.queued, 5);
  assert.deepEqual(b.done(), { id: "1000-0", ord: 0 }, "the batch out is not done");
  b.delivered(again);
  // 3..11 dropped, 12..14 wait: done up to 11.
  assert.deepEqual(b.done(), { id: "1000-11", ord: 11 });
  const rest = b.take(10)!;
  assert.deepEqual(ords(rest), [12, 13, 14]);
  b.delivered(rest);
  assert.equal(b.queued, 0);
});

test("batches out together (https): each counted once when it is answered, in any order; a failed one goes again first", () => {
  const b = new DrainBuffer(100, { id: "1000-0", ord: 0 });
  b.add(lines(1, 9));
  const [x, y, z] = [b.take(3)!, b.take(3)!, b.take(3)!];
  assert.equal(b.sending, 3);
  assert.equal(b.delivered(y), 3);
  assert.deepEqual(b.done(), { id: "1000-0", ord: 0 }, "the cursor waits for the first batch");
  b.failed(x);
  assert.equal(b.delivered(x), 0, "a failed batch is not counted");
  assert.equal(b.delivered(z), 3);
  assert.deepEqual(b.done(), { id: "1000-0", ord: 0 });
  const retry = b.take(10)!;
  assert.equal(retry, x, "the failed batch itself goes again");
  assert.deepEqual(ords(retry), [1, 2, 3]);
  assert.equal(b.delivered(retry), 3);
  assert.deepEqual(b.done(), { id: "1000-9", ord: 9 });
  assert.equal(new Set([x.id, y.id, z.id]).size, 3, "an id per batch");
});

/** A fake syslog connection: numbered, open until `broken`. */
function conns() {
  const broken = new Set<number>();
  return { open: (c: number) => !broken.has(c), break: (c: number) => broken.add(c) };
}

test("syslog: written lines are confirmed once their connection stayed open for the window; a broken connection's lines go again, before newer ones", () => {
  const c = conns();
  const b = new DrainBuffer(100, { id: "1000-0", ord: 0 }, { windowMs: 2000, windowBytes: 10_000 });
  b.add(lines(1, 6));
  const w1 = b.take(3)!;
  b.written(w1, 1, 300, 0);
  const w2 = b.take(3)!;
  b.written(w2, 1, 300, 1500);
  assert.equal(b.queued, 0);
  assert.equal(b.unconfirmedLines, 6);
  assert.deepEqual(b.settle(c.open, 1999), { sent: 0, dropped: 0, resent: 0 }, "nothing before its window ends");
  assert.deepEqual(b.done(), { id: "1000-0", ord: 0 }, "an unconfirmed line is not done: a restart sends it again");
  assert.equal(b.nextSettle(1999), 1);
  assert.deepEqual(b.settle(c.open, 2000), { sent: 3, dropped: 0, resent: 0 });
  assert.deepEqual(b.done(), { id: "1000-3", ord: 3 });
  // Connection 1 breaks before w2's window ends: w2 goes again, ahead of lines read since.
  b.add(lines(7, 8));
  c.break(1);
  assert.deepEqual(b.settle(c.open, 2500), { sent: 0, dropped: 0, resent: 3 });
  assert.deepEqual(ords(b.take(10)), [4, 5, 6, 7, 8]);
  assert.deepEqual(b.settle(c.open, 9999), { sent: 0, dropped: 0, resent: 0 }, "counted once");
});

test("syslog: past the window's bytes only the count is kept: sent when the window ends on an open connection, dropped when it breaks first", () => {
  const c = conns();
  const b = new DrainBuffer(100, { id: "1000-0", ord: 0 }, { windowMs: 2000, windowBytes: 500 });
  b.add(lines(1, 9));
  for (const [at, conn] of [[0, 1], [10, 1], [20, 1]] as const) b.written(b.take(3)!, conn, 300, at);
  // 900 bytes written, 500 kept: the first batch (and then the second) leave the buffer, counted only.
  assert.deepEqual(b.settle(c.open, 30), { sent: 0, dropped: 0, resent: 0 });
  assert.equal(b.unconfirmedLines, 9, "still unconfirmed");
  assert.deepEqual(b.done(), { id: "1000-6", ord: 6 }, "only what is held is before the cursor");
  c.break(1);
  assert.deepEqual(b.settle(c.open, 40), { sent: 0, dropped: 6, resent: 3 }, "the held batch goes again, the counted ones are dropped");
  assert.equal(b.unconfirmedLines, 0);

  // The same on a connection that stays open: all counted as sent at the window's end.
  const b2 = new DrainBuffer(100, { id: "1000-0", ord: 0 }, { windowMs: 2000, windowBytes: 500 });
  b2.add(lines(1, 9));
  for (const at of [0, 10, 20]) b2.written(b2.take(3)!, 2, 300, at);
  b2.settle(c.open, 30);
  assert.deepEqual(b2.settle(c.open, 2010), { sent: 6, dropped: 0, resent: 0 });
  assert.deepEqual(b2.settle(c.open, 2020), { sent: 3, dropped: 0, resent: 0 });
  // Stopping with the connection open: all it took counts as sent, and the cursor moves past it.
  b2.add(lines(10, 15));
  b2.written(b2.take(3)!, 2, 600, 3000);
  b2.written(b2.take(3)!, 2, 100, 3001);
  b2.settle(c.open, 3002);
  assert.equal(b2.unconfirmedLines, 6);
  assert.deepEqual(b2.done(), { id: "1000-12", ord: 12 });
  assert.deepEqual(b2.release(c.open), { sent: 6, dropped: 0, resent: 0 });
  assert.equal(b2.unconfirmedLines, 0);
  assert.deepEqual(b2.done(), { id: "1000-15", ord: 15 });
  // ... but not on a connection that broke: those go again (and, counted only, are dropped).
  const b3 = new DrainBuffer(100, { id: "1000-0", ord: 0 }, { windowMs: 2000, windowBytes: 10_000 });
  b3.add(lines(1, 3));
  b3.written(b3.take(3)!, 3, 300, 0);
  c.break(3);
  assert.deepEqual(b3.release(c.open), { sent: 0, dropped: 0, resent: 3 });
  assert.deepEqual(b3.done(), { id: "1000-0", ord: 0 });
});

test("syslog: lines sent again go ahead of what waits; past the capacity, lines read while the drain stays down push the oldest out", () => {
  const c = conns();
  const b = new DrainBuffer(4, { id: "1000-0", ord: 0 }, { windowMs: 2000, windowBytes: 10_000 });
  b.add(lines(1, 3));
  b.written(b.take(3)!, 1, 300, 0);
  b.add(lines(4, 6));
  c.break(1);
  assert.deepEqual(b.settle(c.open, 10), { sent: 0, dropped: 0, resent: 3 });
  assert.equal(b.queued, 6, "all of the window back, over the capacity");
  // One more line read (the drain is down): 7 held, room for 4: 1, 2 and 3 go.
  assert.equal(b.add(lines(7, 7)), 3);
  assert.deepEqual(ords(b.take(10)), [4, 5, 6, 7]);
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
  const out = b.take(5)!;
  assert.deepEqual(ords(out), [3]);
  assert.equal(b.add(lines(4, 5)), 2, "none held beside the one out");
  b.delivered(out);
  assert.deepEqual(b.done(), { id: "1000-5", ord: 5 });
  assert.throws(() => new DrainBuffer(0, { id: "0-0", ord: 0 }), /at least 1/);
});
