// readFrom: a collector's cursor through appends, a partial line and rotations.
import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { readFrom } from "./logs.ts";

const line = (n: number) => JSON.stringify({ t: "2026-12-03T10:00:00.000Z", stream: "stdout", line: `l${n}` });
const texts = (lines: string[]) => lines.map((l) => (JSON.parse(l) as { line: string }).line);

test("reads complete lines after the cursor, and across rotations without loss or repeats", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cursor-"));
  const file = path.join(dir, "log.ndjson");
  assert.deepEqual(readFrom(dir, undefined).lines, []);
  fs.writeFileSync(file, `${line(1)}\n${line(2)}\n${line(3).slice(0, 10)}`);
  let c = readFrom(dir, undefined);
  assert.deepEqual(texts(c.lines), ["l1", "l2"]);
  // the partial line is left until it is complete
  fs.writeFileSync(file, `${line(1)}\n${line(2)}\n${line(3)}\n`);
  c = readFrom(dir, c.cursor);
  assert.deepEqual(texts(c.lines), ["l3"]);
  // more lines, then a rotation before the reader came back: the old file's rest, then the new one
  fs.appendFileSync(file, `${line(4)}\n`);
  fs.renameSync(file, `${file}.1`);
  fs.writeFileSync(file, `${line(5)}\n`);
  c = readFrom(dir, c.cursor);
  assert.deepEqual(texts(c.lines), ["l4", "l5"]);
  assert.equal(c.skipped, undefined);
  c = readFrom(dir, c.cursor);
  assert.deepEqual(c.lines, []);
  // a small budget: several reads, same lines in the end
  fs.appendFileSync(file, Array.from({ length: 100 }, (_, i) => `${line(6 + i)}\n`).join(""));
  const got: string[] = [];
  for (let i = 0; i < 200; i++) {
    c = readFrom(dir, c.cursor, 300);
    got.push(...texts(c.lines));
  }
  assert.deepEqual(got, Array.from({ length: 100 }, (_, i) => `l${6 + i}`));
  // two rotations behind: it says lines were skipped and starts at the oldest file kept
  const lost = c.cursor;
  fs.renameSync(file, `${file}.1`);
  fs.writeFileSync(file, `${line(200)}\n`);
  fs.renameSync(file, `${file}.1`);
  fs.writeFileSync(file, `${line(300)}\n`);
  c = readFrom(dir, lost);
  assert.equal(c.skipped, true);
  assert.deepEqual(texts(c.lines), ["l200", "l300"]);
  fs.rmSync(dir, { recursive: true });
});
