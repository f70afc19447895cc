// The receive step against a stand-in for the web app's source route: the worker token is
// sent, the tree is unpacked, a large tree streams through without being held in memory.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createReadStream } from "node:fs";
import fs from "node:fs/promises";
import http from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { pipeline } from "node:stream/promises";
import * as tar from "tar";
import type { Redis } from "ioredis";
import { BuildLog } from "../build-log.ts";

const tmp = await fs.mkdtemp(path.join(os.tmpdir(), "paas-receive-"));
const BIG = 150 * 2 ** 20;
const src = path.join(tmp, "src");
await fs.mkdir(src);
await fs.writeFile(path.join(src, "package.json"), '{"name":"x"}\n');
// A file of random-ish data, written in pieces (the test itself holds none of it whole).
const fh = await fs.open(path.join(src, "big.bin"), "w");
const piece = Buffer.alloc(2 ** 20);
for (let i = 0; i < BIG / piece.length; i++) await fh.write(piece.fill(i % 251));
await fh.close();
const archive = path.join(tmp, "source.tar");
await pipeline(tar.c({ cwd: src }, ["package.json", "big.bin"]) as unknown as NodeJS.ReadableStream, (await fs.open(archive, "w")).createWriteStream());

let seenToken: string | undefined;
const server = http.createServer((req, res) => {
  seenToken = req.headers["x-paas-worker-token"] as string | undefined;
  if (req.url === "/internal/builds/b1/source" && seenToken === "wt-test") {
    res.writeHead(200, { "content-type": "application/x-tar" });
    createReadStream(archive).pipe(res);
  } else {
    res.writeHead(401, { "content-type": "application/json" }).end(JSON.stringify({ error: "a worker token is required" }));
  }
});
await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
process.env.PAAS_WEB_PORT = String((server.address() as AddressInfo).port);
process.env.PAAS_WORKER_TOKEN = "wt-test";
const { receive } = await import("./receive.ts");
const log = () => new BuildLog({ xadd: async () => "0-1" } as unknown as Redis, "b1");

test.after(async () => {
  server.close();
  await fs.rm(tmp, { recursive: true, force: true });
});

test("the source streams from the API into the work dir with the worker token, never whole in memory", async () => {
  const dir = await fs.mkdtemp(path.join(tmp, "work-"));
  global.gc?.();
  const before = process.memoryUsage().rss;
  let peak = before;
  const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 5);
  const l = log();
  const { bytes } = await receive.run({ buildId: "b1", dir, log: l });
  clearInterval(sampler);
  assert.equal(seenToken, "wt-test");
  assert.ok(bytes > BIG, `${bytes} bytes received`);
  assert.equal((await fs.stat(path.join(dir, "big.bin"))).size, BIG);
  assert.equal(await fs.readFile(path.join(dir, "package.json"), "utf8"), '{"name":"x"}\n');
  assert.deepEqual(l.lines.slice(0, 1), ["-----> Receiving the source"]);
  const grew = (peak - before) / 2 ** 20;
  console.log(`receive: RSS grew by ${grew.toFixed(0)} MB for ${BIG / 2 ** 20} MB`);
  assert.ok(grew < 64, `RSS grew by ${grew.toFixed(0)} MB for a ${BIG / 2 ** 20} MB source`);
});

test("a refused fetch is an internal error that names the build and the web app's reason", async () => {
  process.env.PAAS_WORKER_TOKEN = "wrong";
  try {
    const dir = await fs.mkdtemp(path.join(tmp, "work-"));
    await assert.rejects(receive.run({ buildId: "b1", dir, log: log() }), /fetching the source of build b1 failed \(401\): a worker token is required/);
  } finally {
    process.env.PAAS_WORKER_TOKEN = "wt-test";
  }
});
