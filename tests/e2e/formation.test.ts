/**
 * Process types and scaling, end to end: a real push of an app with web and worker types,
 * then ps, ps:scale, ps:stop, ps:resize and ps:restart through the CLI, with requests going
 * through the router all along (none may fail), and the containers checked on the agent.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import { createDb } from "@paas/db";
import { AgentClient } from "@paas/shared";
import { ROOT, fixtureRepo, pushApp, sh, startPlatform, viaRouter, type Platform } from "../helpers/platform.ts";

let p: Platform;
let db: ReturnType<typeof createDb>;
let agent: AgentClient;
const APP = "scaly";

const paas = async (args: string[]) => {
  const r = await sh(path.join(ROOT, "apps/cli/bin/paas"), args, { cwd: ROOT, env: { ...p.env, PAAS_URL: p.webUrl, PAAS_TOKEN: p.adminToken } });
  if (r.code !== 0) console.log(`paas ${args.join(" ")} exited ${r.code}:\n${r.stderr}${r.stdout}`);
  return r;
};

interface PsReplica {
  id: string;
  name: string;
  type: string;
  state: string;
  release: number;
  address: string;
  host: string;
  uptimeSeconds: number | null;
  memoryBytes: number | null;
  memoryLimitBytes: number | null;
}
interface Ps {
  release: number;
  formation: { type: string; quantity: number; memoryMb: number; cpuMillis: number }[];
  replicas: PsReplica[];
}

async function ps(): Promise<Ps> {
  const r = await paas(["ps", "-a", APP, "--json"]);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as Ps;
}

const names = (x: Ps) => x.replicas.map((r) => r.name).sort();
const formation = (x: Ps) => Object.fromEntries(x.formation.map((f) => [f.type, f.quantity]));

/** The app's running containers on the agent, as "web.1" names (from their labels). */
async function runningOnAgent(): Promise<string[]> {
  const all = await agent.containers();
  return all
    .filter((c) => c.labels["paas.app"] === APP && c.state === "running")
    .map((c) => `${c.labels["paas.process"]}.${c.labels["paas.replica"]}`)
    .sort();
}

/**
 * Requests through the router, 4 at a time, until stopped: counts answers that are not a 200
 * and the replicas that answered. Bounded (each loop waits for its answer), on loopback.
 */
function load() {
  let running = true;
  const t0 = Date.now();
  const failures: string[] = [];
  const seen = new Set<string>();
  let ok = 0;
  const loops = Array.from({ length: 4 }, async () => {
    while (running) {
      try {
        const r = await viaRouter(p, APP);
        if (r.status === 200) {
          ok++;
          seen.add((JSON.parse(r.body) as { replica: string }).replica);
        } else failures.push(`+${Date.now() - t0} ms ${r.status}: ${r.body.replace(/\s+/g, " ").slice(0, 200)}`);
      } catch (err) {
        failures.push(`+${Date.now() - t0} ms ${(err as Error).message}`);
      }
    }
  });
  return {
    seen,
    failures,
    /** Stops the loops; returns how many answered 200. */
    async stop() {
      running = false;
      await Promise.all(loops);
      return ok;
    },
  };
}

describe("process types and scaling", { timeout: 20 * 60_000 }, () => {
  before(async () => {
    p = await startPlatform("formation", 4630);
    db = createDb(`file:${path.join(p.dataDir, "paas.db")}`);
    agent = new AgentClient(`http://127.0.0.1:${p.env.PAAS_AGENT_PORT}`);
    assert.equal((await paas(["apps:create", APP])).code, 0);
    const repo = await fixtureRepo("web-worker");
    const push = await pushApp(p, APP, repo);
    assert.equal(push.code, 0, push.stderr + push.stdout);
    assert.match(push.stderr, /Starting 1 web replica, 1 worker replica of v1/);
  });
  after(async () => {
    await db?.$disconnect();
    await p?.stop();
  });

  test("a push runs every process type: ps lists web.1 and worker.1 with address, host, uptime and memory use", async () => {
    const x = await ps();
    assert.equal(x.release, 1);
    assert.deepEqual(x.formation, [
      { type: "web", quantity: 1, memoryMb: 256, cpuMillis: 250 },
      { type: "worker", quantity: 1, memoryMb: 256, cpuMillis: 250 },
    ]);
    assert.deepEqual(names(x), ["web.1", "worker.1"]);
    for (const r of x.replicas) {
      assert.equal(r.state, "running", r.name);
      assert.equal(r.release, 1);
      assert.match(r.address, /^10\.\d+\.\d+\.\d+:5000$/);
      assert.ok(r.host);
      assert.ok(r.uptimeSeconds !== null && r.uptimeSeconds >= 0);
      assert.ok(r.memoryBytes && r.memoryBytes > 0, `${r.name} has a memory use`);
      assert.equal(r.memoryLimitBytes, 256 * 2 ** 20);
    }
    assert.deepEqual(await runningOnAgent(), ["web.1", "worker.1"]);
    const answer = await viaRouter(p, APP);
    assert.equal(answer.status, 200);
    assert.deepEqual(JSON.parse(answer.body), { replica: "web.1", release: "v1" });
    const human = await paas(["ps", "-a", APP]);
    assert.match(human.stdout, /=== web: 1 x 256M, 0\.25 CPU/);
    assert.match(human.stdout, /web\.1\s+running\s+v1\s+\S+\s+\S+\s+10\.\S+:5000\s+\d/);
  });

  test("ps:scale up and down: the router answers throughout, from every web replica, and ps follows", async () => {
    const l = load();
    const up = await paas(["ps:scale", "web=3", "worker=2", "-a", APP]);
    assert.equal(up.code, 0);
    assert.match(up.stdout, /web: 3 replicas, 256 MB, 0\.25 CPU each \(2 started\)/);
    let x = await ps();
    assert.deepEqual(names(x), ["web.1", "web.2", "web.3", "worker.1", "worker.2"]);
    assert.ok(x.replicas.every((r) => r.state === "running"));
    assert.deepEqual(await runningOnAgent(), ["web.1", "web.2", "web.3", "worker.1", "worker.2"]);
    // Each of the three answers (least connections spreads 4 loops over them).
    const deadline = Date.now() + 30_000;
    while (l.seen.size < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual([...l.seen].sort(), ["web.1", "web.2", "web.3"]);

    const down = await paas(["ps:scale", "web=1", "worker=1", "-a", APP]);
    assert.equal(down.code, 0);
    x = await ps();
    assert.deepEqual(names(x), ["web.1", "worker.1"]);
    assert.deepEqual(formation(x), { web: 1, worker: 1 });
    assert.deepEqual(await runningOnAgent(), ["web.1", "worker.1"]);
    const ok = await l.stop();
    console.log(`scale up and down under load: ${ok} requests answered, ${l.failures.length} failed`);
    assert.deepEqual(l.failures, [], `requests failed (time since the load began, then the answer): ${l.failures.slice(0, 5).join(" | ")}`);
    assert.ok(ok > 0);
    const rows = await db.container.findMany({ where: { app: { name: APP }, number: { gt: 1 } } });
    assert.ok(rows.length >= 3 && rows.every((c) => c.state === "stopped"), "scaled-down replicas are stopped");
  });

  test("ps:stop keeps the type in the formation at 0; ps:scale brings it back", async () => {
    const stop = await paas(["ps:stop", "worker", "-a", APP]);
    assert.equal(stop.code, 0);
    let x = await ps();
    assert.deepEqual(formation(x), { web: 1, worker: 0 });
    assert.deepEqual(names(x), ["web.1"]);
    assert.deepEqual(await runningOnAgent(), ["web.1"]);
    assert.equal((await paas(["ps:scale", "worker=1", "-a", APP])).code, 0);
    x = await ps();
    assert.deepEqual(names(x), ["web.1", "worker.1"]);
  });

  test("a change over the team's quota is refused, naming the limit and the use, and changes nothing", async () => {
    const before = await ps();
    const team = await db.team.findFirstOrThrow({ where: { apps: { some: { name: APP } } } });
    await db.quota.upsert({ where: { teamId: team.id }, update: { replicas: 3 }, create: { teamId: team.id, replicas: 3 } });
    try {
      const r = await paas(["ps:scale", "web=3", "-a", APP]);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /would exceed its quota of 3 replicas \(its other apps run 0, scaly would run 4\)/);
      assert.equal(r.stderr.trim().split("\n").length, 1, "one line");
      const mem = await paas(["ps:resize", "web", "--memory", "8G", "-a", APP]);
      assert.equal(mem.code, 1);
      assert.match(mem.stderr, /quota of 4096 MB of memory \(its other apps take 0 MB, scaly would take 8448 MB\)/);
    } finally {
      await db.quota.update({ where: { teamId: team.id }, data: { replicas: 20 } });
    }
    const after = await ps();
    assert.deepEqual(after.formation, before.formation);
    assert.deepEqual(after.replicas.map((r) => r.id).sort(), before.replicas.map((r) => r.id).sort());
  });

  test("bad input is refused with one line and changes nothing", async () => {
    const before = await ps();
    for (const [args, why] of [
      [["ps:scale", "web=lots"], /"web=lots": the count is a whole number/],
      [["ps:scale", "web"], /"web" is not TYPE=N/],
      [["ps:scale", "clock=1"], /scaly has no process type "clock": v1 runs web, worker/],
      [["ps:resize", "web", "--memory", "512"], /--memory 512: write a size with its unit, e\.g\. 512M or 1G/],
      [["ps:resize", "web", "--cpus", "half"], /--cpus half: write a number of CPUs/],
      [["ps:resize", "web"], /give --memory \(e\.g\. 512M\), --cpus \(e\.g\. 0\.5\) or both/],
      [["ps:stop", "clock"], /no process type "clock"/],
    ] as [string[], RegExp][]) {
      const r = await paas([...args, "-a", APP]);
      assert.equal(r.code, 1, args.join(" "));
      assert.match(r.stderr, why);
      assert.equal(r.stderr.trim().split("\n").length, 1, `${args.join(" ")}: one line`);
    }
    const after = await ps();
    assert.deepEqual(after.formation, before.formation);
    assert.deepEqual(after.replicas.map((r) => r.id).sort(), before.replicas.map((r) => r.id).sort());
  });

  test("ps:resize replaces the web replica with one of the new memory and CPU limits, without a failed request", async () => {
    const before = await ps();
    const l = load();
    const r = await paas(["ps:resize", "web", "--memory", "128M", "--cpus", "0.5", "-a", APP]);
    assert.equal(r.code, 0);
    const ok = await l.stop();
    console.log(`resize under load: ${ok} requests answered, ${l.failures.length} failed`);
    assert.deepEqual(l.failures, [], `requests failed (time since the load began, then the answer): ${l.failures.slice(0, 5).join(" | ")}`);
    const x = await ps();
    assert.deepEqual(x.formation.find((f) => f.type === "web"), { type: "web", quantity: 1, memoryMb: 128, cpuMillis: 500 });
    const web = x.replicas.find((c) => c.name === "web.1")!;
    assert.notEqual(web.id, before.replicas.find((c) => c.name === "web.1")!.id, "a new replica");
    assert.equal(web.memoryLimitBytes, 128 * 2 ** 20);
    assert.equal(x.replicas.find((c) => c.name === "worker.1")!.id, before.replicas.find((c) => c.name === "worker.1")!.id, "the worker was left alone");
    const row = await db.container.findUniqueOrThrow({ where: { id: web.id } });
    const info = await agent.container(row.runtimeId!);
    assert.equal(info.memoryLimitBytes, 128 * 2 ** 20);
    assert.deepEqual(await runningOnAgent(), ["web.1", "worker.1"]);
  });

  test("ps:restart replaces every replica; a push keeps the formation and its sizes", async () => {
    const before = await ps();
    const l = load();
    const r = await paas(["ps:restart", "-a", APP]);
    assert.equal(r.code, 0);
    const ok = await l.stop();
    console.log(`restart under load: ${ok} requests answered, ${l.failures.length} failed`);
    assert.deepEqual(l.failures, [], `requests failed (time since the load began, then the answer): ${l.failures.slice(0, 5).join(" | ")}`);
    const x = await ps();
    assert.deepEqual(names(x), ["web.1", "worker.1"]);
    for (const c of x.replicas) assert.notEqual(c.id, before.replicas.find((b) => b.name === c.name)!.id, `${c.name} is new`);

    assert.equal((await paas(["ps:scale", "web=2", "-a", APP])).code, 0);
    const cfg = await paas(["config:set", "X=1", "-a", APP]);
    assert.equal(cfg.code, 0);
    const v2 = await ps();
    assert.equal(v2.release, 2);
    // The earlier release's replicas retire after the answer: wait for them to go.
    const deadline = Date.now() + 30_000;
    let now = v2;
    while (now.replicas.some((c) => c.release !== 2) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 300));
      now = await ps();
    }
    assert.deepEqual(now.replicas.map((c) => `${c.name}@v${c.release}`).sort(), ["web.1@v2", "web.2@v2", "worker.1@v2"]);
    assert.equal(now.replicas.find((c) => c.name === "web.2")!.memoryLimitBytes, 128 * 2 ** 20);
  });
});
