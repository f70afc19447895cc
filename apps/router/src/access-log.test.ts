import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";
import { AccessLog, parseAccessLine } from "./access-log.ts";
import { Figures } from "./figures.ts";

const line = (id: string, app: string, status: number, ms: number) =>
  `access 03/Dec/2026:21:05:01.123 ${id} ${app} r1 ${status} ${ms}ms in=120 out=512 10.0.0.9 GET /a?b=c d`;

test("an access line gives the figures' fields; other lines give none", () => {
  assert.deepEqual(parseAccessLine(line("id1", "web", 200, 12)), { app: "web", status: 200, ms: 12, bytesIn: 120, bytesOut: 512 });
  assert.equal(parseAccessLine(line("id1", "-", 404, 0))!.app, null);
  assert.equal(parseAccessLine("[WARNING]  (12) : Server pool.0/r1 is DOWN"), null);
  assert.equal(parseAccessLine("access truncated line"), null);
});

test("chunks cut anywhere make whole lines in the file and count every request once", async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "paas-access-"));
  const figures = new Figures();
  const log = new AccessLog(path.join(dir, "access.log"), figures);
  const text = [line("id1", "web", 200, 3), "[WARNING] Server pool.0/r1 is DOWN", line("id2", "web", 502, 30), line("id3", "-", 404, 0)].join("\n") + "\n";
  for (let i = 0; i < text.length; i += 7) log.write(text.slice(i, i + 7));
  await log.close();
  const lines = fs.readFileSync(path.join(dir, "access.log"), "utf8").trimEnd().split("\n");
  assert.equal(lines.length, 3);
  assert.match(lines[1], /^03\/Dec\/2026:21:05:01\.123 id2 web r1 502 30ms in=120 out=512 10\.0\.0\.9 GET \/a\?b=c d$/);
  const f = figures.get("web")!;
  assert.equal(f.requests["2xx"], 1);
  assert.equal(f.requests["5xx"], 1);
  assert.equal(f.latencyMs.count, 2);
  assert.equal(f.bytesOut, 1024);
  fs.rmSync(dir, { recursive: true });
});
