/**
 * The deliveries on a real (throwaway) Redis with a local syslog sink: every line once while the
 * drain keeps up, retries and counted drops while it is down, a restart that reads on from the
 * kept cursor, lines the stream's retention trimmed counted as dropped, a removal that stops at once.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import https from "node:https";
import net from "node:net";
import { Redis } from "ioredis";
import { appLogKey, DRAINS_CHANGED, DRAINS_KEY, drainStatsKey, xaddArgs } from "@paas/shared/app-log";
import { drainStatus, type PublishedDrain } from "@paas/shared/drains";
import { caSigned } from "../../../tests/helpers/certs.ts";
import { freePort, startRedis } from "../../../tests/helpers/redis.ts";
import { parseOctetFrames } from "./framing.ts";
import { DrainManager } from "./manager.ts";

let server: Awaited<ReturnType<typeof startRedis>>;
let redis: Redis;
const conns: Redis[] = [];
const connect = () => {
  const r = new Redis(server.url, { maxRetriesPerRequest: null });
  conns.push(r);
  return r;
};
const BUFFER = 50;
const options = { allowLocal: true, hostname: "h", bufferLines: BUFFER, batchLines: 20, retryMaxMs: 200, flushMs: 50, blockMs: 500, windowMs: 1000 };

before(async () => {
  server = await startRedis();
  redis = connect();
});
after(async () => {
  for (const c of conns) c.disconnect();
  await server.stop();
});

/** A syslog sink on `port`: the line texts it got, in order. */
async function sink(port: number) {
  const lines: string[] = [];
  const sockets = new Set<net.Socket>();
  const srv = net.createServer((s) => {
    sockets.add(s);
    let buf = Buffer.alloc(0);
    s.on("data", (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      for (;;) {
        const sp = buf.indexOf(0x20);
        const len = Number(buf.subarray(0, sp).toString());
        if (sp < 0 || buf.length < sp + 1 + len) break;
        for (const m of parseOctetFrames(buf.subarray(0, sp + 1 + len))) lines.push(m.slice(m.indexOf(" - - ") + 5));
        buf = buf.subarray(sp + 1 + len);
      }
    });
    s.on("close", () => sockets.delete(s));
  });
  await new Promise<void>((r) => srv.listen(port, "127.0.0.1", () => r()));
  return {
    lines,
    /** Stops reading (what comes stays unread, as in a server that hangs). */
    pause: () => {
      for (const s of sockets) s.pause();
    },
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise<void>((r) => srv.close(() => r()));
    },
  };
}

async function log(app: string, from: number, to: number): Promise<void> {
  const p = redis.pipeline();
  for (let i = from; i <= to; i++) p.xadd(appLogKey(app), ...(xaddArgs({ t: new Date().toISOString(), src: "app", type: "web", replica: "1", stream: "stdout", line: `n ${i}` }, { maxLines: 100_000, maxAgeSeconds: 3600 }) as [string]));
  await p.exec();
}

async function publish(app: string, drains: PublishedDrain[]): Promise<void> {
  if (drains.length) await redis.hset(DRAINS_KEY, app, JSON.stringify(drains));
  else await redis.hdel(DRAINS_KEY, app);
  await redis.publish(DRAINS_CHANGED, app);
}

const status = async (app: string, id: string) => drainStatus(await redis.hgetall(drainStatsKey(app)), id);

async function until(check: () => boolean | Promise<boolean>, what: string, ms = 15_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

test("a drain that keeps up gets every line once, in order, with none dropped (more lines waiting than its buffer holds)", async () => {
  const port = await freePort();
  const s = await sink(port);
  await log("a1", 1, 500);
  const m = new DrainManager(redis, connect, options);
  await m.start();
  await publish("a1", [{ id: "d1", url: `syslog+tcp://127.0.0.1:${port}`, start: { id: "0-0", ord: 0 } }]);
  await until(() => s.lines.length >= 500, "500 lines at the sink");
  assert.deepEqual(s.lines, Array.from({ length: 500 }, (_, i) => `n ${i + 1}`));
  await until(async () => (await status("a1", "d1")).sent === 500, "the figures written");
  assert.equal((await status("a1", "d1")).dropped, 0);
  await m.stop();
  await s.close();
});

test("a drain that is down: its state and error shown, past the buffer the oldest lines dropped and counted, the rest delivered once it is back", async () => {
  const port = await freePort();
  const m = new DrainManager(redis, connect, options);
  await m.start();
  await publish("a2", [{ id: "d2", url: `syslog+tcp://127.0.0.1:${port}`, start: { id: "0-0", ord: 0 } }]);
  await log("a2", 1, 300);
  await until(async () => (await status("a2", "d2")).dropped >= 300 - BUFFER - 20, "the drops counted");
  const down = await status("a2", "d2");
  assert.equal(down.state, "retrying");
  assert.match(down.lastError ?? "", /connection refused by 127\.0\.0\.1:\d+/);
  assert.ok(down.queued <= BUFFER + 20, JSON.stringify(down));
  const s = await sink(port);
  await until(() => s.lines.includes("n 300"), "the newest line once the drain is back");
  await until(async () => (await status("a2", "d2")).queued === 0, "nothing left waiting");
  // Counted as sent once the connection stayed open for the window after the write.
  await until(async () => (await status("a2", "d2")).sent === s.lines.length, "the lines confirmed");
  const st = await status("a2", "d2");
  assert.equal(st.state, "delivering");
  assert.equal(st.sent, s.lines.length);
  assert.equal(st.sent + st.dropped, 300, `every line delivered or counted: ${JSON.stringify(st)}`);
  assert.equal(new Set(s.lines).size, s.lines.length, "none twice");
  await m.stop();
  await s.close();
});

test("a restarted worker reads on from the kept cursor; lines the retention trimmed meanwhile are counted as dropped", async () => {
  const port = await freePort();
  const s = await sink(port);
  await log("a3", 1, 10);
  let m = new DrainManager(redis, connect, options);
  await m.start();
  await publish("a3", [{ id: "d3", url: `syslog+tcp://127.0.0.1:${port}`, start: { id: "0-0", ord: 0 } }]);
  await until(() => s.lines.length === 10, "the first 10 lines");
  await m.stop();

  // While no worker runs: 20 lines, then the retention keeps only the last 5 of the stream.
  await log("a3", 11, 30);
  await redis.xtrim(appLogKey("a3"), "MAXLEN", 5);
  m = new DrainManager(redis, connect, options);
  await m.start();
  await until(() => s.lines.includes("n 30"), "the lines the stream still has");
  await until(async () => (await status("a3", "d3")).sent === 15, "the figures");
  assert.deepEqual(s.lines, [...Array.from({ length: 10 }, (_, i) => `n ${i + 1}`), "n 26", "n 27", "n 28", "n 29", "n 30"]);
  assert.equal((await status("a3", "d3")).dropped, 15, "n 11 to n 25 trimmed before they were read");
  await m.stop();
  await s.close();
});

test("a drain removed (or swapped) stops at once, its figures and lease gone", async () => {
  const [p1, p2] = [await freePort(), await freePort()];
  const [s1, s2] = [await sink(p1), await sink(p2)];
  const m = new DrainManager(redis, connect, options);
  await m.start();
  const start = { id: "0-0", ord: 0 };
  await publish("a4", [{ id: "d4", url: `syslog+tcp://127.0.0.1:${p1}`, start }]);
  await log("a4", 1, 1);
  await until(() => s1.lines.length === 1, "the first line at the first drain");
  // The new drain starts at the stream's end, as the API makes it.
  const end = (await redis.xrevrange(appLogKey("a4"), "+", "-", "COUNT", 1))[0]![0];
  const t0 = Date.now();
  await publish("a4", [{ id: "d5", url: `syslog+tcp://127.0.0.1:${p2}`, start: { id: end, ord: 1 } }]);
  await until(() => !m.delivering.has("d4") && m.delivering.has("d5"), "the swap");
  const took = Date.now() - t0;
  assert.ok(took < 2000, `swapped in ${took} ms`);
  await log("a4", 2, 2);
  await until(() => s2.lines.includes("n 2"), "the next line at the new drain");
  assert.deepEqual(s1.lines, ["n 1"]);
  await until(async () => !(await redis.hexists(drainStatsKey("a4"), "d4:sent")), "the removed drain's figures gone");
  assert.equal(await redis.exists("paas:drains:lease:d4"), 0);
  await m.stop();
  await Promise.all([s1.close(), s2.close()]);
});

test("two workers: one delivers each drain (its lease), and the other takes it over when the first stops", async () => {
  const port = await freePort();
  const s = await sink(port);
  const [m1, m2] = [new DrainManager(redis, connect, options), new DrainManager(redis, connect, options)];
  await Promise.all([m1.start(), m2.start()]);
  await publish("a5", [{ id: "d6", url: `syslog+tcp://127.0.0.1:${port}`, start: { id: "0-0", ord: 0 } }]);
  await log("a5", 1, 100);
  await until(() => s.lines.length >= 100, "100 lines");
  const holder = m1.delivering.has("d6") ? m1 : m2;
  const other = holder === m1 ? m2 : m1;
  assert.equal([m1, m2].filter((m) => m.delivering.has("d6")).length, 1, "one worker delivers the drain");
  await holder.stop();
  // The stopped worker gave its lease back: the other takes the drain at its next look (every 5 s).
  await until(() => other.delivering.has("d6"), "the other worker taking the drain over", 15_000);
  await log("a5", 101, 150);
  await until(() => s.lines.length >= 150, "the next 50 lines");
  assert.deepEqual(s.lines, Array.from({ length: 150 }, (_, i) => `n ${i + 1}`), "each line once, in order, across the takeover");
  await other.stop();
  await s.close();
});

test("syslog: lines a server took but never handled (it hung, then died) are sent again to the next one; each counted once", async () => {
  const port = await freePort();
  let s = await sink(port);
  const m = new DrainManager(redis, connect, options);
  await m.start();
  await publish("a6", [{ id: "d7", url: `syslog+tcp://127.0.0.1:${port}`, start: { id: "0-0", ord: 0 } }]);
  await log("a6", 1, 100);
  await until(() => s.lines.length === 100, "the first 100 lines");
  await until(async () => (await status("a6", "d7")).sent === 100, "the first 100 lines confirmed (the connection stayed open for the window)");
  // The server stops reading; 50 more lines are written to its socket, then it dies and a new one starts.
  s.pause();
  await log("a6", 101, 150);
  await until(async () => (await status("a6", "d7")).queued === 0, "the 50 lines written");
  const first = s.lines;
  await s.close();
  s = await sink(port);
  await until(() => s.lines.includes("n 150"), "the lines the dead server never handled, at the new one");
  const got = new Set([...first, ...s.lines]);
  assert.deepEqual(
    Array.from({ length: 150 }, (_, i) => `n ${i + 1}`).filter((l) => !got.has(l)),
    [],
    "no line missing",
  );
  assert.ok(s.lines.includes("n 101"), "n 101 went to the new server");
  await until(async () => (await status("a6", "d7")).sent === 150, "each line counted once as sent, once confirmed");
  assert.equal((await status("a6", "d7")).dropped, 0);
  await m.stop();
  await s.close();
});

test("https: up to 4 POSTs out at once; a failed one is retried with the same frame id and lines, and every line is counted once", async () => {
  const cert = caSigned(["localhost"]);
  const frames = new Map<string, string[][]>();
  let open = 0;
  let most = 0;
  let posts = 0;
  const server = https.createServer({ cert: cert.cert, key: cert.key }, (req, res) => {
    open++;
    most = Math.max(most, open);
    const n = ++posts;
    let body = "";
    req.on("data", (c) => (body += c));
    req.on("end", () => {
      const id = String(req.headers["logplex-frame-id"]);
      const lines = parseOctetFrames(body).map((m) => m.slice(m.indexOf(" - - ") + 5));
      frames.set(id, [...(frames.get(id) ?? []), lines]);
      // Answered after a while (a service across a network); every third POST fails once.
      setTimeout(() => {
        open--;
        res.writeHead(n % 3 === 0 && frames.get(id)!.length === 1 ? 503 : 204).end();
      }, 50);
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  const port = (server.address() as net.AddressInfo).port;
  const m = new DrainManager(redis, connect, { ...options, bufferLines: 1000, extraCa: cert.ca });
  await m.start();
  await log("a7", 1, 400);
  await publish("a7", [{ id: "d8", url: `https://localhost:${port}/logs`, start: { id: "0-0", ord: 0 } }]);
  await until(async () => (await status("a7", "d8")).sent === 400, "400 lines counted as sent");
  const got = [...frames.values()].flatMap((tries) => tries[tries.length - 1]!);
  assert.deepEqual(new Set(got), new Set(Array.from({ length: 400 }, (_, i) => `n ${i + 1}`)), "every line arrived");
  const retried = [...frames.values()].filter((tries) => tries.length > 1);
  assert.ok(retried.length > 0, "some POSTs failed and went again");
  for (const tries of retried) assert.deepEqual(tries[1], tries[0], "a retry is the same batch under the same frame id");
  assert.equal(most, 4, "four POSTs out at once, no more");
  const st = await status("a7", "d8");
  assert.deepEqual([st.sent, st.dropped], [400, 0], "each line counted once, retries included");
  await m.stop();
  server.closeAllConnections();
  server.close();
});
