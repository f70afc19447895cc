/**
 * Log drains end to end: a platform started by ./infra/up, a real push of a fixture that logs,
 * and real log servers. rsyslog (Debian's) receives a syslog+tcp drain and writes what it parsed
 * (APP-NAME, PROCID, severity, the line's own time); the drain is swapped live for a syslog+tls
 * one (a node TLS server whose certificate a test CA signed, trusted through PAAS_DRAIN_CA_FILE)
 * and the lines go only there; an https drain gets logplex batches; a drain that is down gets
 * its lines once it is back, and past its buffer the drops are counted in `paas drains`; bad
 * URLs are refused and change nothing; another team can neither list nor remove a drain.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import https from "node:https";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import tls from "node:tls";
import { createDb } from "@paas/db";
import { appLogKey, entryFromFields } from "@paas/shared/app-log";
import { parseOctetFrames } from "../../worker/src/drains/framing.ts";
import { caSigned } from "../helpers/certs.ts";
import { Rsyslog } from "../helpers/rsyslog.ts";
import { ROOT, addTeamWithToken, fixtureRepo, pushApp, sh, startPlatform, viaRouter, type Platform } from "../helpers/platform.ts";
import { waitFor } from "../helpers/wait.ts";

const BASE = 6250;
const APP = "drained";
/** Ports of the log servers (free beside the platform's base+43 ... base+97). */
const RSYSLOG_PORT = BASE + 11;
const TLS_PORT = BASE + 12;
const HTTPS_PORT = BASE + 13;
const DOWN_PORT = BASE + 14;
const BUFFER_LINES = 200;

let p: Platform;
let dir: string;
let otherToken: string;
const cert = caSigned(["localhost"]);

const cli = path.join(ROOT, "apps/cli/bin/paas");
const paas = (args: string[], token = p.adminToken) => sh(cli, args, { cwd: ROOT, env: { ...p.env, PAAS_URL: p.webUrl, PAAS_TOKEN: token } });

interface DrainRow {
  id: string;
  url: string;
  state: string;
  sent: number;
  dropped: number;
  queued: number;
  lastError: string | null;
  lastErrorAt: string | null;
}

async function drains(): Promise<DrainRow[]> {
  const r = await paas(["drains", "-a", APP, "--json"]);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as DrainRow[];
}

async function add(url: string): Promise<void> {
  const r = await paas(["drains:add", url, "-a", APP]);
  assert.equal(r.code, 0, r.stderr + r.stdout);
}

async function remove(url: string): Promise<void> {
  const r = await paas(["drains:remove", url, "-a", APP]);
  assert.equal(r.code, 0, r.stderr + r.stdout);
}

async function say(text: string, err = false) {
  const r = await viaRouter(p, APP, `/say?text=${encodeURIComponent(text)}${err ? "&err=1" : ""}`);
  assert.equal(r.status, 200, r.body);
}

/** A syslog receiver over TCP or TLS: the messages of the octet-counted frames it got, in order. */
class FrameServer {
  readonly messages: string[] = [];
  private readonly sockets = new Set<net.Socket>();
  private server: net.Server | null = null;

  constructor(
    readonly port: number,
    private readonly secure = false,
  ) {}

  async start(): Promise<void> {
    const onSocket = (s: net.Socket) => {
      this.sockets.add(s);
      let buf = Buffer.alloc(0);
      s.on("data", (d) => {
        buf = Buffer.concat([buf, d]);
        // Whole frames only: a frame may come in pieces.
        for (;;) {
          const sp = buf.indexOf(0x20);
          const len = Number(buf.subarray(0, sp).toString());
          if (sp < 0 || buf.length < sp + 1 + len) break;
          this.messages.push(...parseOctetFrames(buf.subarray(0, sp + 1 + len)));
          buf = buf.subarray(sp + 1 + len);
        }
      });
      s.on("error", () => {});
      s.on("close", () => this.sockets.delete(s));
    };
    this.server = this.secure ? tls.createServer({ cert: cert.cert, key: cert.key }, onSocket) : net.createServer(onSocket);
    await new Promise<void>((resolve, reject) => this.server!.once("error", reject).listen(this.port, "127.0.0.1", () => resolve()));
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
    this.server = null;
  }

  has(text: string): boolean {
    return this.messages.some((m) => m.endsWith(` ${text}`));
  }
}

/** An HTTPS drain endpoint: each POST's headers and the messages of its body. */
class LogplexServer {
  readonly posts: { headers: Record<string, string | string[] | undefined>; messages: string[] }[] = [];
  private server: https.Server | null = null;

  async start(): Promise<void> {
    this.server = https.createServer({ cert: cert.cert, key: cert.key }, (req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        this.posts.push({ headers: { ...req.headers, path: req.url }, messages: parseOctetFrames(Buffer.concat(chunks)) });
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(HTTPS_PORT, "127.0.0.1", () => resolve()));
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}

describe("log drains", { timeout: 15 * 60_000 }, () => {
  const rsyslog = new Rsyslog(RSYSLOG_PORT);
  const tlsServer = new FrameServer(TLS_PORT, true);
  const logplex = new LogplexServer();
  const down = new FrameServer(DOWN_PORT);

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "paas-drains-test-"));
    fs.writeFileSync(path.join(dir, "ca.pem"), cert.ca);
    p = await startPlatform("drainx", BASE, {
      PAAS_DRAINS_ALLOW_LOCAL: "1",
      PAAS_DRAIN_CA_FILE: path.join(dir, "ca.pem"),
      PAAS_DRAIN_BUFFER_LINES: String(BUFFER_LINES),
      PAAS_DRAIN_BATCH_LINES: "50",
      PAAS_DRAIN_RETRY_MAX_SECONDS: "2",
    });
    const repo = await fixtureRepo("node-logs");
    assert.equal((await paas(["apps:create", APP])).code, 0);
    const push = await pushApp(p, APP, repo);
    assert.equal(push.code, 0, push.stderr + push.stdout);
    otherToken = await addTeamWithToken(p.dataDir, "rivals", "rival@example.com");
    await rsyslog.start();
    await tlsServer.start();
    await logplex.start();
  });

  after(async () => {
    await rsyslog.stop();
    await tlsServer.stop();
    await logplex.stop();
    await down.stop();
    await p?.stop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  test("a syslog+tcp drain: rsyslog gets the app's lines with app name, replica, severity and the line's time", async () => {
    const none = await paas(["drains", "-a", APP]);
    assert.equal(none.code, 0, none.stderr);
    assert.match(none.stdout, new RegExp(`${APP} has no drains`));
    await add(`syslog+tcp://127.0.0.1:${RSYSLOG_PORT}`);
    await say("to rsyslog out");
    await say("to rsyslog err", true);
    await waitFor(() => rsyslog.lines().some((l) => l[5] === "to rsyslog err"), "the stderr line in rsyslog's file", 30_000, 200);
    const out = rsyslog.lines().find((l) => l[5] === "to rsyslog out")!;
    const err = rsyslog.lines().find((l) => l[5] === "to rsyslog err")!;
    assert.deepEqual(out.slice(0, 4), [APP, "web.1", "-", "info"]);
    assert.deepEqual(err.slice(0, 4), [APP, "web.1", "-", "err"]);
    assert.match(out[4]!, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}/, "the line's own time, to the millisecond");
    // The worker process's lines too (another process type).
    await waitFor(() => rsyslog.lines().some((l) => l[0] === APP && l[1] === "worker.1" && /^tick \d+$/.test(l[5]!)), "the worker's ticks in rsyslog", 30_000, 200);

    // Counted as delivered once the connection stayed open 2 s after the write (syslog has no receipt).
    await waitFor(async () => (await drains())[0]!.sent >= 2, "the lines counted as delivered", 30_000, 200);
    const [row] = await drains();
    assert.equal(row!.url, `syslog+tcp://127.0.0.1:${RSYSLOG_PORT}`);
    assert.equal(row!.state, "delivering");
    assert.equal(row!.dropped, 0);
    const text = await paas(["drains", "-a", APP]);
    assert.match(text.stdout, /URL\s+STATE\s+DELIVERED\s+DROPPED\s+QUEUED\s+LAST ERROR/);
    assert.match(text.stdout, new RegExp(`syslog\\+tcp://127.0.0.1:${RSYSLOG_PORT}\\s+delivering\\s+\\d+\\s+0\\s+\\d+\\s+-`));
  });

  test("swapped live for a syslog+tls drain (the server's certificate checked): the lines go only to the new one", async () => {
    const t0 = Date.now();
    await add(`syslog+tls://localhost:${TLS_PORT}`);
    await remove(`syslog+tcp://127.0.0.1:${RSYSLOG_PORT}`);
    for (const n of [1, 2, 3]) await say(`after the swap ${n}`);
    await waitFor(() => tlsServer.has("after the swap 3"), "the lines at the TLS drain", 30_000, 200);
    console.log(`drains: swap took effect within ${Date.now() - t0} ms (add, remove and three lines through the router)`);
    assert.ok(tlsServer.has("after the swap 1") && tlsServer.has("after the swap 2"));
    const m = tlsServer.messages.find((x) => x.endsWith(" after the swap 1"))!;
    assert.match(m, new RegExp(`^<190>1 \\S+ \\S+ ${APP} web\\.1 - - after the swap 1$`));
    assert.ok(!rsyslog.lines().some((l) => l[5]?.startsWith("after the swap")), "the removed drain got none of them");
    assert.deepEqual((await drains()).map((d) => d.url), [`syslog+tls://localhost:${TLS_PORT}`]);
    await remove(`syslog+tls://localhost:${TLS_PORT}`);
  });

  test("an https drain: logplex batches with the message count, a frame id and the URL's credentials", async () => {
    await add(`https://drain:s3cret@localhost:${HTTPS_PORT}/logs?token=abc`);
    const [row] = await drains();
    assert.equal(row!.url, `https://drain:***@localhost:${HTTPS_PORT}/logs?token=***`, "the password and the token are masked");
    for (const n of [1, 2, 3, 4, 5]) await say(`over https ${n}`);
    await waitFor(() => logplex.posts.some((post) => post.messages.some((m) => m.endsWith(" over https 5"))), "the lines at the https drain", 30_000, 200);
    for (const post of logplex.posts) {
      assert.equal(post.headers["content-type"], "application/logplex-1");
      assert.equal(Number(post.headers["logplex-msg-count"]), post.messages.length);
      assert.match(String(post.headers["logplex-frame-id"]), /^[0-9a-f-]{36}$/);
      assert.equal(post.headers.authorization, `Basic ${Buffer.from("drain:s3cret").toString("base64")}`);
      assert.equal(post.headers.path, "/logs?token=abc");
    }
    assert.equal(new Set(logplex.posts.map((x) => x.headers["logplex-frame-id"])).size, logplex.posts.length, "a frame id per POST");
    const all = logplex.posts.flatMap((x) => x.messages);
    assert.ok(all.some((m) => new RegExp(`^<190>1 \\S+ \\S+ ${APP} web\\.1 - - over https 1$`).test(m)), all.slice(-3).join("\n"));
    // The audit log keeps the change, without the password or the token.
    const db = createDb(`file:${path.join(p.dataDir, "paas.db")}`);
    try {
      const events = await db.auditEvent.findMany({ where: { action: "drains.add", app: APP } });
      const details = events.map((e) => e.details).join("\n");
      assert.match(details, new RegExp(`https://drain:\\*\\*\\*@localhost:${HTTPS_PORT}/logs\\?token=\\*\\*\\*`));
      assert.doesNotMatch(details, /s3cret|abc/);
    } finally {
      await db.$disconnect();
    }
    await remove(`https://drain:***@localhost:${HTTPS_PORT}/logs?token=***`);
  });

  test("a drain that is down: retried, delivered once back; past the buffer the drops are counted", async () => {
    const url = `syslog+tcp://127.0.0.1:${DOWN_PORT}`;
    await add(url);
    await say("while down 1");
    await say("while down 2");
    await waitFor(async () => {
      const [d] = await drains();
      return d!.state === "retrying" && d!.queued >= 2 && /connection refused by 127.0.0.1:\d+/.test(d!.lastError ?? "");
    }, "the drain shown as retrying with its error and the lines it holds", 30_000, 300);
    const shown = await paas(["drains", "-a", APP]);
    assert.match(shown.stdout, /retrying .*connection refused by 127\.0\.0\.1/);

    await down.start();
    await waitFor(() => down.has("while down 2"), "the held lines delivered once the drain is back", 30_000, 200);
    assert.ok(down.has("while down 1"));
    await down.stop();

    // Down again, and 1,000 lines: the buffer holds 200 of them; the rest are counted as dropped.
    const r = await viaRouter(p, APP, "/flood?rate=500&secs=2&id=d");
    assert.equal(r.status, 200);
    await waitFor(async () => (await drains())[0]!.dropped >= 1000 - BUFFER_LINES, "the drops counted while the drain is down", 60_000, 500);
    await down.start();
    await waitFor(() => down.has("flood d 1000"), "the newest flood line delivered once back", 60_000, 200);
    const got = new Set(down.messages.map((m) => /flood d (\d+)$/.exec(m)?.[1]).filter(Boolean));
    const [d] = await drains();
    assert.ok(got.size <= BUFFER_LINES + 50, `at most the buffer (and the batch out) delivered of the flood: ${got.size}`);
    assert.ok(d!.dropped + got.size >= 1000, `each flood line delivered or counted as dropped: ${got.size} delivered, ${d!.dropped} dropped`);
    const text = await paas(["drains", "-a", APP]);
    assert.match(text.stdout, new RegExp(`${url.replace(/[+.]/g, "\\$&")}\\s+\\S+\\s+\\d+\\s+${d!.dropped}\\s`));
  });

  test("rsyslog hung, killed and started again mid-stream: each numbered line reached it or is counted as dropped in `paas drains`", async () => {
    const url = `syslog+tcp://127.0.0.1:${RSYSLOG_PORT}`;
    await add(url);
    const { Redis } = await import("ioredis");
    const redis = new Redis(Number(p.env.PAAS_REDIS_PORT), "127.0.0.1");
    /** The number of the newest flood line the app has logged. */
    const logged = async () => {
      for (const [id, fields] of await redis.xrevrange(appLogKey(APP), "+", "-", "COUNT", 20)) {
        const m = /^flood k (\d+)$/.exec(entryFromFields(id, fields).line);
        if (m) return Number(m[1]);
      }
      return 0;
    };
    const seen = () => rsyslog.lines().map((l) => /^flood k (\d+)$/.exec(l[5] ?? "")?.[1]).filter((x): x is string => !!x);
    try {
      const SENT = 3000;
      const r = await viaRouter(p, APP, "/flood?rate=500&secs=6&id=k");
      assert.equal(r.status, 200);
      await waitFor(() => seen().length >= 300, "the first flood lines in rsyslog's file", 30_000, 100);
      // Hung: it stops reading while the drain writes on (the kernel takes the lines), then dies.
      await rsyslog.signal("SIGSTOP");
      const at = await logged();
      await waitFor(async () => (await logged()) >= at + 300, "300 more lines logged while rsyslog hangs", 30_000, 100);
      await rsyslog.signal("SIGKILL");
      await rsyslog.start();
      await waitFor(() => seen().includes(String(SENT)), "the flood's last line in rsyslog's file", 60_000, 200);
      // Nothing missing uncounted: every number arrived, or the drain counts it dropped.
      let got = new Set<string>();
      let d: DrainRow | undefined;
      await waitFor(
        async () => {
          got = new Set(seen());
          d = (await drains()).find((x) => x.url === url);
          return got.size + d!.dropped >= SENT;
        },
        "each flood line received or counted as dropped",
        60_000,
        500,
      ).catch((err: Error) => {
        const missing = Array.from({ length: SENT }, (_, i) => String(i + 1)).filter((n) => !got.has(n));
        throw new Error(`${err.message}: ${missing.length} missing (${missing.slice(0, 10).join(", ")}...), ${d?.dropped} dropped`);
      });
      const all = seen();
      console.log(`drains: rsyslog hung and killed mid-flood: ${got.size} of ${SENT} lines received (${all.length - got.size} twice), ${d!.dropped} counted as dropped`);
      assert.ok(all.length > got.size || d!.dropped > 0 || got.size === SENT, "lines sent again or counted");
      const text = await paas(["drains", "-a", APP]);
      assert.match(text.stdout, new RegExp(`${url.replace(/[+.]/g, "\\$&")}\\s+\\S+\\s+\\d+\\s+${d!.dropped}\\s`));
    } finally {
      redis.disconnect();
      await remove(url);
    }
  });

  test("bad URLs are refused with a reason and change nothing; drains per app as the team's quota says (5 unless raised)", async () => {
    const before = await drains();
    for (const [url, why] of [
      ["http://logs.example.com/", /drains speak syslog\+tcp:\/\/, syslog\+tls:\/\/, https:\/\/, not http:\/\//],
      ["syslog+tcp://logs.example.com", /needs a port/],
      ["syslog+tls://logs.example.com:6514/x", /only syslog\+tls:\/\/HOST:PORT/],
      ["not a url", /not a URL|drains speak/],
    ] as const) {
      const r = await paas(["drains:add", url, "-a", APP]);
      assert.notEqual(r.code, 0, url);
      assert.match(r.stderr, why);
      assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
    }
    const dup = await paas(["drains:add", `syslog+tcp://127.0.0.1:${DOWN_PORT}`, "-a", APP]);
    assert.match(dup.stderr, /drains to syslog\+tcp:\/\/127\.0\.0\.1:\d+ already/);
    const gone = await paas(["drains:remove", "syslog+tcp://nowhere.example.com:514", "-a", APP]);
    assert.match(gone.stderr, /has no drain syslog\+tcp:\/\/nowhere\.example\.com:514/);
    assert.deepEqual((await drains()).map((d) => d.id), before.map((d) => d.id));

    for (let i = before.length; i < 5; i++) await add(`syslog+tcp://192.0.2.${i + 1}:514`);
    const sixth = await paas(["drains:add", "syslog+tcp://192.0.2.99:514", "-a", APP]);
    assert.notEqual(sixth.code, 0);
    assert.match(sixth.stderr, /drained has 5 drains, and team "main"'s quota is 5 drains per app: remove one it no longer needs with `paas drains:remove URL -a drained` or ask the platform's operator to raise the team's quota \(paas quotas:set\)/);
    // The team's quota: raised, the sixth fits; `paas quotas` shows the limit and the app with the most.
    assert.equal((await paas(["quotas:set", "drains=6", "--team", "main"])).code, 0);
    await add("syslog+tcp://192.0.2.99:514");
    assert.match((await paas(["quotas", "-t", "main"])).stdout, /drains\s+6\s+6/);
    const seventh = await paas(["drains:add", "syslog+tcp://192.0.2.100:514", "-a", APP]);
    assert.match(seventh.stderr, /drained has 6 drains, and team "main"'s quota is 6 drains per app/);
    assert.equal((await paas(["quotas:set", "drains=5", "--team", "main"])).code, 0);
    await remove("syslog+tcp://192.0.2.99:514");
    for (let i = before.length; i < 5; i++) await remove(`syslog+tcp://192.0.2.${i + 1}:514`);
    assert.deepEqual((await drains()).map((d) => d.id), before.map((d) => d.id));
  });

  test("another team can neither list nor remove the app's drains", async () => {
    const before = await drains();
    assert.ok(before.length > 0);
    const list = await paas(["drains", "-a", APP], otherToken);
    assert.notEqual(list.code, 0);
    assert.match(list.stderr, /app "drained" not found \(or you have no access to it\)/);
    const rm = await paas(["drains:remove", before[0]!.url, "-a", APP], otherToken);
    assert.notEqual(rm.code, 0);
    assert.match(rm.stderr, /not found/);
    const add2 = await paas(["drains:add", `syslog+tcp://127.0.0.1:${RSYSLOG_PORT}`, "-a", APP], otherToken);
    assert.match(add2.stderr, /not found/);
    assert.deepEqual((await drains()).map((d) => d.url), before.map((d) => d.url));
  });

  test("apps:destroy removes the app's drains and stops their delivery", async () => {
    const r = await paas(["apps:destroy", APP, "--confirm", APP]);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    const { Redis } = await import("ioredis");
    const redis = new Redis(Number(p.env.PAAS_REDIS_PORT), "127.0.0.1");
    try {
      await waitFor(async () => (await redis.hget("paas:drains", APP)) === null && (await redis.keys("paas:drains:lease:*")).length === 0, "the app's drains unpublished and their leases released", 30_000, 300);
    } finally {
      redis.disconnect();
    }
  });
});
