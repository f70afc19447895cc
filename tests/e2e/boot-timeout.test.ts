/**
 * The boot timeout (Heroku's R10; PAAS_BOOT_TIMEOUT_MS, 15 s here), end to end on a platform
 * started by ./infra/up, with real pushes and requests through the router:
 *   - a push whose web process never listens on $PORT is rejected once the boot timeout
 *     passes, saying so and what to do; nothing of it is routed (a first push), and on a
 *     later push the release before it keeps serving;
 *   - a web replica whose process is killed, restarted by its agent (the same container,
 *     its /tmp kept) and then hangs before it listens is taken out of the route and replaced
 *     within the boot timeout and a pass, while the app's other replica answers every
 *     request of a steady load; afterwards both replicas answer.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs/promises";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { Redis } from "ioredis";
import { AgentClient, ROUTES_KEY, type ContainerInfo, type RouteEntry } from "@paas/shared";
import { commitChange, httpGet, ROOT, sh, startPlatform, viaRouter, type Platform, pushApp } from "../helpers/platform.ts";
import { waitFor } from "../helpers/wait.ts";

const BASE = 5900;
const BOOT_MS = 15_000;
const SILENT = "silent";
const RELAPSE = "relapse";

let p: Platform;
let redis: Redis;
let agent: AgentClient;

const paas = (args: string[]) => sh(path.join(ROOT, "apps/cli/bin/paas"), args, { cwd: ROOT, env: { ...p.env, PAAS_URL: p.webUrl, PAAS_TOKEN: p.adminToken } });

/** A Node app whose server.js is `server` (no dependencies: a quick build). */
async function appRepo(name: string, server: string): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), `boot-${name}-`));
  await fs.writeFile(path.join(dir, "package.json"), JSON.stringify({ name, version: "1.0.0", private: true, scripts: { start: "node server.js" } }));
  await fs.writeFile(path.join(dir, "server.js"), server);
  for (const args of [["init", "-q", "-b", "main"], ["config", "user.email", "dev@example.com"], ["config", "user.name", "Dev"], ["add", "-A"], ["commit", "-qm", "first"]]) {
    const r = await sh("git", args, { cwd: dir });
    assert.equal(r.code, 0, r.stderr);
  }
  return dir;
}

/** Answers `body` on $PORT. */
const listening = (body: string) => `require("node:http").createServer((req, res) => res.end(${JSON.stringify(body)})).listen(Number(process.env.PORT));\n`;
/** Never listens: it says it is warming up and waits forever (a stuck connection at boot). */
const NEVER_LISTENS = `console.log("warming up the cache before listening");\nsetInterval(() => {}, 1 << 30);\n`;
/**
 * Listens on its first start; on any later start of the same container (its /tmp is the
 * container's writable layer, kept across its agent's restarts) it hangs before listening.
 */
const HANGS_ON_RESTART = `const fs = require("node:fs");
const marker = "/tmp/started-once";
if (fs.existsSync(marker)) {
  console.log("started again: waiting for a lock the last run left behind");
  setInterval(() => {}, 1 << 30);
} else {
  fs.writeFileSync(marker, String(process.pid));
  require("node:http").createServer((req, res) => res.end(process.env.PAAS_PROCESS)).listen(Number(process.env.PORT));
}
`;

async function push(app: string, dir: string) {
  const r = await pushApp(p, app, dir);
  return { code: r.code, out: r.stderr + r.stdout };
}

const routed = async (app: string): Promise<string[]> => {
  const raw = await redis.hget(ROUTES_KEY, `${app}.localhost`);
  return raw ? (JSON.parse(raw) as RouteEntry).backends : [];
};

const webReplicas = async (app: string): Promise<ContainerInfo[]> => (await agent.containers()).filter((c) => c.labels["paas.app"] === app && c.labels["paas.process"] === "web");

/** A GET straight to a replica's address (the test runs on the host, which reaches the bridge). */
const direct = (address: string) => httpGet({ host: address.split(":")[0], port: Number(address.split(":")[1]), path: "/" }, 5000);

/** The worker's reconcile lines, for a failure's message: what the passes saw and did. */
async function reconcileLog(): Promise<string> {
  const log = await fs.readFile(path.join(p.dataDir, "logs/worker.log"), "utf8").catch(() => "");
  return log.split("\n").filter((l) => /reconcile/.test(l)).slice(-40).join("\n");
}

describe("the boot timeout", { timeout: 20 * 60_000 }, () => {
  before(async () => {
    p = await startPlatform("bootto", BASE, { PAAS_BOOT_TIMEOUT_MS: String(BOOT_MS) });
    redis = new Redis(Number(p.env.PAAS_REDIS_PORT), "127.0.0.1", { maxRetriesPerRequest: null, lazyConnect: true });
    agent = new AgentClient(`http://127.0.0.1:${p.env.PAAS_AGENT_PORT}`);
    for (const app of [SILENT, RELAPSE]) assert.equal((await paas(["apps:create", app])).code, 0);
  });
  after(async () => {
    redis?.disconnect();
    await p?.stop();
  });

  test("a push whose web never listens on $PORT is rejected after the boot timeout, saying what to do; what ran before keeps serving", async () => {
    const repo = await appRepo(SILENT, NEVER_LISTENS);
    const t0 = Date.now();
    const first = await push(SILENT, repo);
    assert.notEqual(first.code, 0, first.out);
    assert.match(first.out, /\[remote rejected\]/);
    assert.match(
      first.out,
      /the new release v1 did not start: web\.1: no answer on \$PORT \(\d+\.\d+\.\d+\.\d+:5000\) within 15 s of its start: the web process must listen on \$PORT \(5000\) on all interfaces \(0\.0\.0\.0, not localhost\) and answer HTTP within that time/,
    );
    assert.match(first.out, /warming up the cache before listening/, "the replica's last lines are shown");
    console.log(`a web that never listens: push rejected ${((Date.now() - t0) / 1000).toFixed(1)} s after it began`);
    // A first push: nothing routed, no replica left behind.
    assert.deepEqual(await routed(SILENT), []);
    assert.equal((await viaRouter(p, SILENT)).status === 200, false);
    assert.deepEqual((await webReplicas(SILENT)).map((c) => c.name), []);

    // A release that listens goes live; the silent one after it is rejected and v2 keeps serving.
    await commitChange(repo, "server.js", listening("v2 answers"), "listen on $PORT");
    const fixed = await push(SILENT, repo);
    assert.equal(fixed.code, 0, fixed.out);
    assert.equal((await viaRouter(p, SILENT)).body, "v2 answers");
    await commitChange(repo, "server.js", NEVER_LISTENS, "never listen again");
    const again = await push(SILENT, repo);
    assert.notEqual(again.code, 0, again.out);
    assert.match(again.out, /the new release v3 did not start: web\.1: no answer on \$PORT .* within 15 s of its start/);
    for (let i = 0; i < 10; i++) assert.deepEqual(await viaRouter(p, SILENT), { status: 200, body: "v2 answers" }, `request ${i} after the rejected push`);
    assert.equal((await routed(SILENT)).length, 1);
  });

  test("a restarted replica that hangs before it listens is replaced within the boot timeout and a pass; the other replica answers every request meanwhile", async () => {
    const pushed = await push(RELAPSE, await appRepo(RELAPSE, HANGS_ON_RESTART));
    assert.equal(pushed.code, 0, pushed.out);
    const scaled = await paas(["ps:scale", "web=2", "-a", RELAPSE]);
    assert.equal(scaled.code, 0, scaled.stderr + scaled.stdout);
    await waitFor(async () => (await routed(RELAPSE)).length === 2, "both web replicas routed", 60_000, 200);
    const [hung] = (await webReplicas(RELAPSE)).filter((c) => c.labels["paas.replica"] === "1");
    const other = (await webReplicas(RELAPSE)).find((c) => c.labels["paas.replica"] === "2")!;
    assert.ok(hung?.pid && other, "web.1 and web.2 run");

    // Bounded load: 4 clients on keep-alive connections, one request at a time each.
    const keepAlive = new http.Agent({ keepAlive: true, maxSockets: 4 });
    const failures: string[] = [];
    const served = new Map<string, number>();
    let running = true;
    const load = Promise.all(
      Array.from({ length: 4 }, async () => {
        while (running) {
          try {
            const r = await viaRouter(p, RELAPSE, "/", `${RELAPSE}.localhost`, keepAlive);
            if (r.status === 200 && /^web\.[12]$/.test(r.body)) served.set(r.body, (served.get(r.body) ?? 0) + 1);
            else failures.push(`${r.status} ${r.body.slice(0, 200)}`);
          } catch (err) {
            failures.push((err as Error).message);
          }
        }
      }),
    );
    let tookS = 0;
    try {
      await waitFor(() => (served.get("web.1") ?? 0) > 0 && (served.get("web.2") ?? 0) > 0, "the load to reach both replicas", 30_000, 100);
      // The process inside is killed, not the container: its agent starts the same container again.
      process.kill(hung.pid!, "SIGKILL");
      const t0 = Date.now();
      const restarted = await waitFor(
        async () => {
          const c = (await webReplicas(RELAPSE)).find((x) => x.id === hung.id);
          return c?.state === "running" && (c.restartCount ?? 0) >= 1;
        },
        "web.1 restarted by its agent",
        30_000,
        100,
      ).then(async () => (await webReplicas(RELAPSE)).find((x) => x.id === hung.id)!);
      // Not counted healthy while it has not answered: out of the route, the other replica in it.
      await waitFor(async () => (await routed(RELAPSE)).join() === `${other.ip}:5000`, "the restarted web.1 out of the route", 30_000, 100);
      await waitFor(async () => {
        for await (const l of agent.logs(hung.id, { tail: 5 })) if (l.line.includes("started again: waiting for a lock")) return true;
        return false;
      }, "the restarted web.1 to say it hangs");
      // Replaced: a new container for web.1, answering and routed beside web.2.
      const fresh = await waitFor(
        async () => {
          const cs = await webReplicas(RELAPSE);
          const route = await routed(RELAPSE);
          const n = cs.find((c) => c.labels["paas.replica"] === "1" && c.id !== hung.id && c.state === "running");
          return !!n && !cs.some((c) => c.id === hung.id) && route.length === 2 && route.includes(`${n.ip}:5000`) && route.includes(`${other.ip}:5000`);
        },
        "web.1 replaced and routed",
        BOOT_MS + 60_000,
        200,
      ).catch(async (err: Error) => {
        throw new Error(`${err.message}\nthe worker's reconcile lines:\n${await reconcileLog()}`);
      }).then(async () => (await webReplicas(RELAPSE)).find((c) => c.labels["paas.replica"] === "1")!);
      tookS = (Date.now() - t0) / 1000;
      assert.ok(restarted.startedAt);
      console.log(`hung web.1 (restart #${restarted.restartCount}) replaced and routed ${tookS.toFixed(1)} s after the kill (boot timeout ${BOOT_MS / 1000} s); new address ${fresh.ip}:5000`);
      // Then the load runs on over both replicas for a moment.
      const seen = served.get("web.1") ?? 0;
      await waitFor(() => (served.get("web.1") ?? 0) > seen + 20, "the new web.1 to serve requests of the load", 30_000, 100);
    } finally {
      running = false;
      await load;
      keepAlive.destroy();
    }
    const total = [...served.values()].reduce((a, b) => a + b, 0);
    console.log(`load through the kill, the hang and the replacement: ${total} requests answered (web.1 ${served.get("web.1") ?? 0}, web.2 ${served.get("web.2") ?? 0}), ${failures.length} failed`);
    assert.deepEqual(failures.slice(0, 5), [], `${failures.length} requests failed`);
    assert.ok(total > 200, `only ${total} requests ran`);
    assert.ok(tookS < BOOT_MS / 1000 + 45, `replaced after ${tookS.toFixed(1)} s`);

    // Both replicas answer, each at its own address.
    const route = await routed(RELAPSE);
    assert.deepEqual((await Promise.all(route.map(direct))).map((r) => `${r.status} ${r.body}`).sort(), ["200 web.1", "200 web.2"]);
    // The app's log says why web.1 was replaced, with the exit it restarted after.
    const log = await paas(["logs", "-a", RELAPSE, "--source", "platform", "-n", "200"]);
    assert.equal(log.code, 0, log.stderr);
    assert.match(log.stdout, /paas\[web\.1\]: Did not answer on \$PORT within 15 s of its restart #1 \(after it exited with code 137\) \(boot timeout\); replaced by a new replica/);
  });
});
