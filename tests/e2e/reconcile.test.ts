/**
 * The reconcile loop, end to end (a platform started by ./infra/up, real pushes, answers
 * through the router): replicas killed or lost behind the agent's back come back and the
 * route follows them; a formation of 2 gets its second replica; a crash loop is shown with
 * its exit code and last lines; after ./infra/down and ./infra/up, and after a simulated
 * host reboot (everything stopped, every container killed, started again), every app
 * answers again with no push.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { Redis } from "ioredis";
import superjson from "superjson";
import { createDb } from "@paas/db";
import { AgentClient, RECONCILE_REQUEST_KEY, ROUTES_KEY, type ContainerInfo, type RouteEntry } from "@paas/shared";
import { ROOT, sh, startPlatform, viaRouter, type Platform, pushApp } from "../helpers/platform.ts";

const run = promisify(execFile);
let p: Platform;
let db: ReturnType<typeof createDb>;
let redis: Redis;
let agent: AgentClient;
const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), "paas-reconcile-"));
/** The apps that must come back by themselves. */
const APPS = ["keep-a", "keep-b"];
const CRASHER = "crasher";
const HOG = "hog";

const paas = (args: string[]) =>
  sh(path.join(ROOT, "apps/cli/bin/paas"), args, { cwd: ROOT, env: { ...p.env, PAAS_URL: p.webUrl, PAAS_TOKEN: p.adminToken } });

async function until<T>(what: string, fn: () => Promise<T | undefined | null | false>, timeoutMs = 30_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs / 1000}s waiting for ${what}${last ? ` (last error: ${(last as Error).message})` : ""}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/**
 * A Node app answering its name; `crashAfterMs`: it then prints a reason and exits with 3, or
 * with `hog`, takes memory until its limit kills it.
 */
async function appRepo(name: string, crashAfterMs?: number, hog = false): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), `reconcile-${name}-`));
  await fs.writeFile(path.join(dir, "package.json"), JSON.stringify({ name, version: "1.0.0", private: true, scripts: { start: "node server.js" } }));
  const server = [
    `const server = require("node:http").createServer((req, res) => res.end(${JSON.stringify(name)}));`,
    `server.listen(Number(process.env.PORT));`,
    crashAfterMs === undefined
      ? ""
      : hog
        ? `setTimeout(() => { console.log("loading the cache"); const kept = []; setInterval(() => kept.push(Buffer.alloc(32 << 20, 1)), 50); }, ${crashAfterMs});`
        : `setTimeout(() => { console.log("serving for a while"); console.error("fatal: the queue went away"); process.exit(3); }, ${crashAfterMs});`,
  ];
  await fs.writeFile(path.join(dir, "server.js"), server.filter(Boolean).join("\n") + "\n");
  const git = (...a: string[]) => run("git", a, { cwd: dir });
  await git("init", "-q", "-b", "main");
  await git("config", "user.email", "dev@example.com");
  await git("config", "user.name", "Dev");
  await git("add", "-A");
  await git("commit", "-qm", "first");
  return dir;
}

async function push(dir: string, app: string) {
  const r = await pushApp(p, app, dir);
  assert.equal(r.code, 0, r.stderr + r.stdout);
}

const answers = async (app: string) => {
  const r = await viaRouter(p, app).catch(() => ({ status: 0, body: "" }));
  return r.status === 200 && r.body === app;
};

const routed = async (app: string): Promise<string[]> => {
  const raw = await redis.hget(ROUTES_KEY, `${app}.localhost`);
  return raw ? (JSON.parse(raw) as RouteEntry).backends : [];
};

/** The app's replica containers on the agent. */
const replicasOf = async (app: string): Promise<ContainerInfo[]> =>
  (await agent.containers()).filter((c) => c.labels["paas.app"] === app && c.labels["paas.process"] === "web");

const addressOf = (c: ContainerInfo) => `${c.ip}:5000`;

/** Seconds until every app answers through the router. */
async function allAnswer(limitMs: number): Promise<number> {
  const t0 = Date.now();
  await until(`${APPS.join(", ")} to answer`, async () => (await Promise.all(APPS.map(answers))).every(Boolean), limitMs);
  return (Date.now() - t0) / 1000;
}

function connect() {
  db = createDb(`file:${path.join(dataDir, "paas.db")}`);
  redis = new Redis(Number(p.env.PAAS_REDIS_PORT), "127.0.0.1", { maxRetriesPerRequest: null, lazyConnect: true });
  agent = new AgentClient(`http://127.0.0.1:${p.env.PAAS_AGENT_PORT}`);
}
async function disconnect() {
  await db.$disconnect();
  redis.disconnect();
}

describe("the reconcile loop", { timeout: 20 * 60_000 }, () => {
  before(async () => {
    p = await startPlatform("reconcile", 4810, { PAAS_DATA_DIR: dataDir });
    connect();
    for (const app of [...APPS, CRASHER, HOG]) assert.equal((await paas(["apps:create", app])).code, 0);
    for (const app of APPS) await push(await appRepo(app), app);
    await push(await appRepo(CRASHER, 2500), CRASHER);
    await push(await appRepo(HOG, 2500, true), HOG);
  });
  after(async () => {
    await disconnect().catch(() => {});
    await p?.stop();
    await fs.rm(dataDir, { recursive: true, force: true });
  });

  test("a crash loop is shown: exit code, restart count and the last lines, through the API", async () => {
    const crash = await until(
      "the crash to be recorded",
      async () => {
        const res = await fetch(`${p.webUrl}/api/trpc/apps.info?input=${encodeURIComponent(JSON.stringify(superjson.serialize({ name: CRASHER })))}`, {
          headers: { authorization: `Bearer ${p.adminToken}` },
        });
        assert.equal(res.status, 200, await res.clone().text());
        const info = superjson.deserialize<{ crashes: { exitCode: number | null; oomKilled: boolean; restartCount: number; lastLines: string[]; state: string }[] }>(
          ((await res.json()) as { result: { data: never } }).result.data,
        );
        return info.crashes[0]?.restartCount >= 1 ? info.crashes[0] : undefined;
      },
      45_000,
    );
    assert.equal(crash.exitCode, 3);
    assert.equal(crash.oomKilled, false);
    assert.ok(crash.lastLines.includes("fatal: the queue went away"), crash.lastLines.join("\n"));
    console.log(`crash shown: exit ${crash.exitCode}, ${crash.restartCount} restart(s), state ${crash.state}, last lines: ${JSON.stringify(crash.lastLines)}`);
    // The dashboard's app page warns with the same (server-rendered: the page as the browser gets it).
    const page = await (await fetch(`${p.webUrl}/apps/${CRASHER}`, { headers: { authorization: `Bearer ${p.adminToken}` } })).text();
    assert.match(page, /data-testid="crash-warning"/);
    assert.match(page, /data-testid="crash-exit-code">3</);
    assert.match(page, /fatal: the queue went away/);
    // The app still answers between its crashes: it is restarted, not given up.
    await until("the crashing app to answer again", () => answers(CRASHER), 30_000);
  });

  test("a replica its memory limit killed is shown as OOM", async () => {
    const row = await until(
      "the OOM kill to be recorded",
      () => db.container.findFirst({ where: { app: { name: HOG }, oomKilled: true, state: { in: ["running", "restarting"] } } }),
      45_000,
    );
    assert.ok(row.lastOutput?.includes("loading the cache"), row.lastOutput ?? "");
    const page = await (await fetch(`${p.webUrl}/apps/${HOG}`, { headers: { authorization: `Bearer ${p.adminToken}` } })).text();
    assert.match(page, /too much memory \(OOM\)/);
    console.log(`OOM shown: exit ${row.exitCode}, ${row.restartCount} restart(s)`);
    // Its crash loop is its own: the platform's other apps are not disturbed by it.
    await paas(["apps:destroy", HOG, "--confirm", HOG]);
  });

  test("a replica killed behind the agent's back is restarted; the route follows it", async () => {
    const [before] = await replicasOf("keep-a");
    process.kill(before.pid!, "SIGKILL");
    const after = await until("keep-a restarted and routed", async () => {
      const [c] = await replicasOf("keep-a");
      return c?.state === "running" && (c.restartCount ?? 0) >= 1 && (await routed("keep-a")).join() === addressOf(c) && c;
    });
    assert.equal(after.id, before.id, "the same container, restarted by its policy");
    await until("keep-a to answer through the router", () => answers("keep-a"), 10_000);
    for (let i = 0; i < 20; i++) assert.ok(await answers("keep-a"), `request ${i} after the restart failed`);
    // The next pass records the exit on the replica's row, and "running" once it answered again
    // (until then it reads "starting": a restarted web replica counts as up only once it answers).
    const row = await until("the restart recorded", async () => {
      const r = await db.container.findFirstOrThrow({ where: { runtimeId: before.id } });
      return r.restartCount === 1 && r.state === "running" && r;
    });
    assert.equal(row.exitCode, 137, "killed by SIGKILL");
  });

  test("a replica the agent lost is replaced; the route drops the dead address", async () => {
    const [lost] = await replicasOf("keep-b");
    const lostAddress = addressOf(lost);
    await agent.remove(lost.id, true);
    const t0 = Date.now();
    const replacement = await until("keep-b replaced and routed", async () => {
      const [c] = await replicasOf("keep-b");
      const route = await routed("keep-b");
      return c && c.id !== lost.id && c.state === "running" && route.length === 1 && route[0] === addressOf(c) && c;
    });
    console.log(`lost replica replaced and routed in ${((Date.now() - t0) / 1000).toFixed(1)}s (${lostAddress} -> ${addressOf(replacement)})`);
    // The router applies the table it is told of (Redis pub/sub) a moment later; from then on every request answers.
    await until("keep-b to answer through the router", () => answers("keep-b"), 10_000);
    for (let i = 0; i < 20; i++) assert.ok(await answers("keep-b"), `request ${i} after the replacement failed`);
    const rows = await db.container.findMany({ where: { app: { name: "keep-b" } }, orderBy: { createdAt: "asc" } });
    assert.equal(rows.find((r) => r.runtimeId === lost.id)?.state, "stopped", "the lost one's row says it is gone");
    assert.equal(rows.filter((r) => r.state === "running").length, 1);
  });

  test("a formation of 2 gets its second replica, routed", async () => {
    const app = await db.app.findUniqueOrThrow({ where: { name: "keep-a" } });
    await db.formation.update({ where: { appId_processType: { appId: app.id, processType: "web" } }, data: { quantity: 2 } });
    // A desired state changed with no container changing: the watch is told so.
    await redis.set(RECONCILE_REQUEST_KEY, "1");
    const two = await until("two routed replicas of keep-a", async () => {
      const cs = (await replicasOf("keep-a")).filter((c) => c.state === "running");
      const route = await routed("keep-a");
      return cs.length === 2 && route.length === 2 && cs.every((c) => route.includes(addressOf(c))) && cs;
    });
    assert.equal(new Set(two.map(addressOf)).size, 2);
    await db.formation.update({ where: { appId_processType: { appId: app.id, processType: "web" } }, data: { quantity: 1 } });
    await redis.set(RECONCILE_REQUEST_KEY, "1");
    await until("back to one replica of keep-a", async () => (await replicasOf("keep-a")).length === 1 && (await routed("keep-a")).length === 1);
  });

  test("after ./infra/down and ./infra/up (same data dir) every app answers within 30 s, with no push", async () => {
    await disconnect();
    const down = await sh(path.join(ROOT, "infra/down"), [], { env: p.env, cwd: ROOT });
    assert.equal(down.code, 0, down.stderr);
    const up = await sh(path.join(ROOT, "infra/up"), ["--detach"], { env: p.env, cwd: ROOT });
    assert.equal(up.code, 0, up.stdout + up.stderr);
    connect();
    const took = await allAnswer(30_000);
    console.log(`after down and up: every app answered ${took.toFixed(1)}s after up returned`);
  });

  test("after a simulated host reboot (services stopped, every container killed) every app answers within 30 s", async () => {
    const pids = (await agent.containers()).filter((c) => c.state === "running").map((c) => c.pid!);
    const monitors = await Promise.all(
      (await agent.containers()).map((c) =>
        fs.readFile(path.join(dataDir, "runtime/containers", c.id, "monitor.pid"), "utf8").then(
          (s) => Number(s.trim()),
          () => 0,
        ),
      ),
    );
    await disconnect();
    const down = await sh(path.join(ROOT, "infra/down"), ["--keep-apps"], { env: p.env, cwd: ROOT });
    assert.equal(down.code, 0, down.stderr);
    // The power goes: monitors and apps die without a word to anyone.
    for (const pid of [...monitors, ...pids]) {
      try {
        if (pid) process.kill(pid, "SIGKILL");
      } catch {}
    }
    const up = await sh(path.join(ROOT, "infra/up"), ["--detach"], { env: p.env, cwd: ROOT });
    assert.equal(up.code, 0, up.stdout + up.stderr);
    connect();
    const took = await allAnswer(30_000);
    console.log(`after a simulated reboot: every app answered ${took.toFixed(1)}s after up returned`);
    for (const app of APPS) {
      const [c] = await replicasOf(app);
      assert.ok(c.pid && !pids.includes(c.pid), `${app} answers from a new process, not one that outlived the "reboot"`);
    }
  });
});
