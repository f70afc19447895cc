/**
 * How many lines a second one drain delivers:
 *   npx tsx bench/drains.ts [--lines 200000] [--port 6409] [--only https]
 * Starts a Redis of its own, fills an app's log stream with N lines, then times the worker's
 * delivery (worker/src/drains, the code the worker runs) of the whole stream to: a node TCP sink
 * (syslog+tcp), Debian's rsyslogd writing to a file (syslog+tcp), a node TLS sink (syslog+tls) and
 * a node HTTPS server (https, logplex batches), answering at once and, as a log service across a
 * network would, after 20 ms. The peer is a bare loop in this process that reads
 * the same stream (XRANGE, 500 at a time) and writes the same frames to the TCP sink: what reading
 * Redis and writing the socket cost without the delivery's buffer, cursor and figures. The node
 * sinks run in this process (they share its event loop with the delivery); rsyslogd is its own.
 */
import { spawn, execFileSync } from "node:child_process";
import fs from "node:fs";
import https from "node:https";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import tls from "node:tls";
import { Redis } from "ioredis";
import { appLogKey, DRAINS_CHANGED, DRAINS_KEY, drainStatsKey, entryFromFields, xaddArgs } from "@paas/shared/app-log";
import { DrainManager } from "../worker/src/drains/manager.ts";
import type { DeliveryOptions } from "../worker/src/drains/delivery.ts";
import { octetFrame, syslogMessage } from "../worker/src/drains/framing.ts";
import { caSigned } from "../tests/helpers/certs.ts";

const arg = (name: string, def: string) => {
  const i = process.argv.indexOf(name);
  return i < 0 ? def : process.argv[i + 1]!;
};
const N = Number(arg("--lines", "200000"));
const PORT = Number(arg("--port", "6409"));
/** Only the targets whose name contains this (the peer always runs: the ratios are to it). */
const ONLY = arg("--only", "");
const wanted = (name: string) => !ONLY || name.includes(ONLY);
const APP = "bench";
const work = fs.mkdtempSync(path.join(os.tmpdir(), "paas-drains-bench-"));
const cert = caSigned(["localhost"]);
fs.writeFileSync(path.join(work, "ca.pem"), cert.ca);
process.env.PAAS_REDIS_URL = `redis://127.0.0.1:${PORT}`;
process.env.PAAS_DRAIN_CA_FILE = path.join(work, "ca.pem");

const redisProc = spawn("redis-server", ["--port", String(PORT), "--save", "", "--appendonly", "no", "--dir", work], { stdio: "ignore" });
const redis = new Redis(PORT, "127.0.0.1", { maxRetriesPerRequest: null });
const connect = () => new Redis(PORT, "127.0.0.1", { maxRetriesPerRequest: null });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Counts the octet-counted frames a socket receives (without keeping them). */
function frameCounter() {
  const state = { frames: 0 };
  const onSocket = (s: net.Socket) => {
    let pending = Buffer.alloc(0);
    s.on("data", (d: Buffer) => {
      let buf = pending.length ? Buffer.concat([pending, d]) : d;
      for (;;) {
        const sp = buf.indexOf(0x20);
        if (sp < 0) break;
        const len = Number(buf.subarray(0, sp).toString());
        if (buf.length < sp + 1 + len) break;
        state.frames++;
        buf = buf.subarray(sp + 1 + len);
      }
      pending = Buffer.from(buf);
    });
    s.on("error", () => {});
  };
  return { state, onSocket };
}

async function listen(server: net.Server): Promise<number> {
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  return (server.address() as net.AddressInfo).port;
}

async function waitUntil(check: () => boolean, what: string, ms = 120_000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out: ${what}`);
    await sleep(20);
  }
}

/** One drain of the whole stream, timed from its publication to the last line at the sink. */
async function timeDrain(url: string, received: () => number, options: Partial<DeliveryOptions> = {}): Promise<number> {
  await redis.del(drainStatsKey(APP));
  const m = new DrainManager(redis, connect, { allowLocal: true, hostname: "bench", ...options });
  await m.start();
  const t0 = performance.now();
  await redis.hset(DRAINS_KEY, APP, JSON.stringify([{ id: `b${Date.now()}`, url, start: { id: "0-0", ord: 0 } }]));
  await redis.publish(DRAINS_CHANGED, APP);
  await waitUntil(() => received() >= N, `${N} lines at ${url}`).catch(async (err: Error) => {
    throw new Error(`${err.message}: ${received()} arrived; the drain's figures: ${JSON.stringify(await redis.hgetall(drainStatsKey(APP)))}`);
  });
  const s = (performance.now() - t0) / 1000;
  await redis.hdel(DRAINS_KEY, APP);
  await m.stop();
  await redis.eval(`for _, k in ipairs(redis.call("KEYS", "paas:drains:lease:*")) do redis.call("DEL", k) end return 0`, 0);
  return s;
}

const rows: [string, number][] = [];
const procs: { kill(): void }[] = [];
try {
  for (let i = 0; i < 100 && (await redis.ping().catch(() => null)) !== "PONG"; i++) await sleep(100);
  await redis.del(appLogKey(APP));
  const r = { maxLines: N * 2, maxAgeSeconds: 86_400 };
  for (let i = 1; i <= N; i += 2000) {
    const p = redis.pipeline();
    for (let j = i; j < i + 2000 && j <= N; j++) {
      p.xadd(appLogKey(APP), ...(xaddArgs({ t: new Date().toISOString(), src: "app", type: "web", replica: "1", stream: "stdout", line: `bench line ${j} ${"x".repeat(60)}` }, r) as [string]));
    }
    await p.exec();
  }

  // The peer: the same reads and frames, written by a bare loop.
  {
    const { state, onSocket } = frameCounter();
    const server = net.createServer(onSocket);
    const port = await listen(server);
    const sock = net.connect(port, "127.0.0.1");
    await new Promise((res) => sock.once("connect", res));
    const t0 = performance.now();
    let from = "-";
    for (;;) {
      const chunk = (await redis.xrange(appLogKey(APP), from, "+", "COUNT", 500)) as [string, string[]][];
      if (!chunk.length) break;
      const data = chunk.map(([id, f]) => octetFrame(syslogMessage(entryFromFields(id, f), APP, "bench"))).join("");
      await new Promise<void>((res, rej) => sock.write(data, (e) => (e ? rej(e) : res())));
      from = `(${chunk[chunk.length - 1]![0]}`;
    }
    await waitUntil(() => state.frames >= N, "the peer's lines");
    rows.push(["peer: XRANGE + socket.write loop -> node TCP sink", (performance.now() - t0) / 1000]);
    sock.destroy();
    server.close();
  }

  if (wanted("syslog+tcp -> node")) {
    const { state, onSocket } = frameCounter();
    const server = net.createServer(onSocket);
    const port = await listen(server);
    rows.push(["syslog+tcp -> node TCP sink", await timeDrain(`syslog+tcp://127.0.0.1:${port}`, () => state.frames)]);
    server.close();
  }

  if (wanted("syslog+tcp -> rsyslogd")) {
    const rsPort = PORT + 1;
    const out = path.join(work, "rsyslog.out");
    fs.writeFileSync(
      path.join(work, "rsyslog.conf"),
      `global(workDirectory="${work}")\nmodule(load="imtcp")\ntemplate(name="t" type="string" string="%procid% %msg%\\n")\nruleset(name="r") { action(type="omfile" file="${out}" template="t") }\ninput(type="imtcp" address="127.0.0.1" port="${rsPort}" ruleset="r")\n`,
    );
    const rs = spawn("rsyslogd", ["-n", "-f", path.join(work, "rsyslog.conf"), "-i", path.join(work, "rsyslog.pid")], { stdio: "ignore" });
    procs.push(rs);
    for (let i = 0; i < 100; i++) {
      const up = await new Promise<boolean>((res) => {
        const s = net.connect(rsPort, "127.0.0.1", () => (s.destroy(), res(true))).on("error", () => res(false));
      });
      if (up) break;
      await sleep(100);
    }
    let lines = 0;
    let checked = 0;
    const count = () => {
      // wc -l at most every 200 ms (the file grows to tens of MB).
      if (Date.now() - checked > 200 && fs.existsSync(out)) {
        checked = Date.now();
        lines = Number(execFileSync("wc", ["-l", out], { encoding: "utf8" }).trim().split(" ")[0]);
      }
      return lines;
    };
    rows.push(["syslog+tcp -> rsyslogd (imtcp -> omfile)", await timeDrain(`syslog+tcp://127.0.0.1:${rsPort}`, count)]);
    rs.kill("SIGTERM");
  }

  if (wanted("syslog+tls")) {
    const { state, onSocket } = frameCounter();
    const server = tls.createServer({ cert: cert.cert, key: cert.key }, onSocket);
    const port = await listen(server);
    rows.push(["syslog+tls -> node TLS sink", await timeDrain(`syslog+tls://localhost:${port}`, () => state.frames)]);
    server.close();
  }

  for (const delayMs of [0, 20]) {
    const name = `https (logplex) -> node HTTPS server${delayMs ? `, answering after ${delayMs} ms` : ""}`;
    if (!wanted(name)) continue;
    let frames = 0;
    const server = https.createServer({ cert: cert.cert, key: cert.key }, (req, res) => {
      req.resume();
      req.on("end", () => {
        // Counted once answered, as the delivery counts it.
        setTimeout(() => {
          frames += Number(req.headers["logplex-msg-count"]);
          res.writeHead(204).end();
        }, delayMs);
      });
    });
    const port = await listen(server);
    rows.push([name, await timeDrain(`https://localhost:${port}/drain`, () => frames)]);
    server.closeAllConnections();
    server.close();
  }

  const peer = rows[0]![1];
  const w = Math.max(...rows.map((r) => r[0].length));
  console.log(`\none drain, ${N} lines of ~100 bytes (batches of 500; load ${os.loadavg()[0]!.toFixed(2)}, ${os.cpus().length} cores)\n`);
  console.log(`${"target".padEnd(w)}  seconds   lines/s  vs peer`);
  for (const [name, s] of rows) console.log(`${name.padEnd(w)}  ${s.toFixed(2).padStart(7)}  ${Math.round(N / s).toString().padStart(8)}  ${(peer / s).toFixed(2).padStart(7)}`);
} finally {
  for (const p of procs) p.kill();
  redis.disconnect();
  redisProc.kill();
  fs.rmSync(work, { recursive: true, force: true });
}
