/**
 * Team quotas end to end, on a real platform (web, worker, agent, router, Redis):
 * - `paas quotas` / `quotas:set` (operators only), and the audit log of it all (`paas audit`),
 *   with a config var's value and the tokens nowhere in it;
 * - 20 requests at once against a limit of 5, through the HTTP API: app creates, and scale-ups
 *   of 20 apps (each deploy job races the others in the worker: exactly 5 pass);
 * - a quota lowered below the use: the team shows over it, its replicas keep running;
 * - the kernel's caps: the team's cgroup gets the quota's memory and pids on the agent, and a
 *   memory hog and a fork bomb started straight on the runtime in the team's cgroup (as if
 *   they escaped every API check) are held there: the hog is OOM-killed within the team's
 *   cap, the bomb stops at its pids, and the team's other app keeps answering through the router.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { createDb } from "@paas/db";
import { AgentClient } from "@paas/shared";
import { ROOT, addTeamWithToken, fixtureRepo, pushApp, sh, startPlatform, viaRouter, type Platform } from "../helpers/platform.ts";
import { waitFor } from "../helpers/wait.ts";

let p: Platform;
let db: ReturnType<typeof createDb>;
let agent: AgentClient;
let teamToken: string; // admin of team qteam
let raceToken: string; // admin of team qrace
const NAME = "quotas";
const SECRET = "s3cr3t-value-of-a-config-var";

const paas = async (args: string[], token = p.adminToken) => {
  const r = await sh(path.join(ROOT, "apps/cli/bin/paas"), args, { cwd: ROOT, env: { ...p.env, PAAS_URL: p.webUrl, PAAS_TOKEN: token } });
  return r;
};

/** One tRPC mutation over HTTP, as the CLI sends it: the answer's status and message. */
async function mutate(token: string, proc: string, input: unknown): Promise<{ status: number; message: string }> {
  const res = await fetch(`${p.webUrl}/api/trpc/${proc}`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: JSON.stringify({ json: input }),
  });
  const body = (await res.json()) as { error?: { json?: { message?: string } } };
  return { status: res.status, message: body.error?.json?.message ?? "" };
}

describe("team quotas, audit and the kernel's caps", { timeout: 25 * 60_000 }, () => {
  before(async () => {
    p = await startPlatform(NAME, 6100);
    db = createDb(`file:${path.join(p.dataDir, "paas.db")}`);
    agent = new AgentClient(`http://127.0.0.1:${p.env.PAAS_AGENT_PORT}`, p.env.PAAS_AGENT_TOKEN);
    teamToken = await addTeamWithToken(p.dataDir, "qteam", "q@example.com");
    raceToken = await addTeamWithToken(p.dataDir, "qrace", "r@example.com");
    assert.equal((await paas(["apps:create", "qcalm", "--team", "qteam"], teamToken)).code, 0);
    const repo = await fixtureRepo("web-worker");
    const push = await pushApp(p, "qcalm", repo, { token: teamToken });
    assert.equal(push.code, 0, push.stderr + push.stdout);
  });
  after(async () => {
    await db?.$disconnect();
    await p?.stop();
  });

  test("quotas and quotas:set: members read them with the use, only operators set them, a bad value changes nothing", async () => {
    const mine = await paas(["quotas", "-t", "qteam", "--json"], teamToken);
    assert.equal(mine.code, 0, mine.stderr);
    const q = JSON.parse(mine.stdout) as { limits: Record<string, number>; usage: Record<string, number>; over: string[] };
    assert.equal(q.limits.apps, 10);
    assert.deepEqual([q.usage.apps, q.usage.replicas, q.usage.memoryMb], [1, 2, 512]);
    assert.ok(q.usage.buildMinutesPerDay > 0);
    assert.match((await paas(["quotas", "-t", "qteam"], teamToken)).stdout, /memory\s+512M\s+4G/);

    const refused = await paas(["quotas:set", "apps=50", "--team", "qteam"], teamToken);
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /only the platform's operators may set quotas/);
    const bad = await paas(["quotas:set", "memory=4", "--team", "qteam"]);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /write a size with its unit, e.g. memory=4G/);
    assert.equal((await db.quota.findFirstOrThrow({ where: { team: { name: "qteam" } } })).apps, 10);

    const set = await paas(["quotas:set", "apps=6", "memory=3G", "cpus=3", "build-minutes=90", "--team", "qteam", "--json"]);
    assert.equal(set.code, 0, set.stderr);
    const after = JSON.parse(set.stdout) as { limits: Record<string, number>; warning: string | null };
    assert.deepEqual([after.limits.apps, after.limits.memoryMb, after.limits.cpuMillis, after.limits.buildMinutesPerDay], [6, 3072, 3000, 90]);
    assert.equal(after.warning, null);
    // The kernel's caps follow at once: the quota's memory (plus its builds' room), CPU and pids.
    const caps = await agent.teamLimits("qteam");
    assert.deepEqual(caps, { memoryBytes: (3072 + 2 * 1024) * 2 ** 20, cpuMillis: 3000, pids: 4096 + 2 * 1024 });
  });

  test("20 app creates at once against a quota of 5: exactly 5 made, 15 refused naming the limit and the use", async () => {
    assert.equal((await paas(["quotas:set", "apps=5", "--team", "qrace"])).code, 0);
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => mutate(raceToken, "apps.create", { name: `qr${i}`, team: "qrace" })));
    const ok = results.filter((r) => r.status === 200).length;
    const refused = results.filter((r) => r.status !== 200);
    console.log(`apps:create x20 against 5: ${ok} made, ${refused.length} refused`);
    assert.equal(ok, 5);
    for (const r of refused) assert.match(r.message, /team "qrace" has reached its quota of 5 apps \(it has 5 apps, preview apps included\)/);
    assert.equal(await db.app.count({ where: { team: { name: "qrace" } } }), 5);
  });

  test("20 scale-ups of 20 apps at once against 5 replicas: exactly 5 run, 15 refused; lowered below the use, the team is over and keeps running", async () => {
    assert.equal((await paas(["quotas:set", "apps=20", "replicas=5", "--team", "qrace"])).code, 0);
    for (let i = 0; i < 20; i++) if (!(await db.app.findUnique({ where: { name: `qr${i}` } }))) assert.equal((await mutate(raceToken, "apps.create", { name: `qr${i}`, team: "qrace" })).status, 200);
    // Each app runs qcalm's image as its v1 with web scaled to 0 (twenty pushes would only repeat the same build).
    const image = await db.release.findFirstOrThrow({ where: { app: { name: "qcalm" }, status: "active" } });
    const web = (JSON.parse(image.processTypes) as Record<string, string>).web!;
    for (let i = 0; i < 20; i++) {
      const app = await db.app.findUniqueOrThrow({ where: { name: `qr${i}` } });
      await db.release.create({ data: { appId: app.id, version: 1, imageRef: image.imageRef, processTypes: JSON.stringify({ web }), status: "active", description: "qcalm's image" } });
      await db.formation.create({ data: { appId: app.id, processType: "web", quantity: 0 } });
    }
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => mutate(raceToken, "ps.scale", { app: `qr${i}`, quantities: { web: 1 } })));
    const ok = results.filter((r) => r.status === 200).length;
    const refused = results.filter((r) => r.status !== 200);
    console.log(`ps:scale web=1 x20 apps against 5 replicas: ${ok} scaled, ${refused.length} refused`);
    for (const r of refused) assert.match(r.message, /would exceed its quota of 5 replicas \(its other apps run 5, qr\d+ would run 1\)/);
    assert.equal(ok, 5);
    const rows = await db.formation.findMany({ where: { app: { team: { name: "qrace" } } } });
    assert.equal(rows.reduce((n, f) => n + f.quantity, 0), 5);
    const running = (await agent.containers()).filter((c) => c.labels["paas.app"]?.startsWith("qr") && c.state === "running");
    assert.equal(running.length, 5);
    assert.equal(await db.quotaHold.count(), 0);

    // Lowered below the use: allowed; the team is over its quota, nothing stops, growth is refused.
    assert.equal((await paas(["quotas:set", "replicas=2", "--team", "qrace"])).code, 0);
    const q = JSON.parse((await paas(["quotas", "-t", "qrace", "--json"], raceToken)).stdout) as { over: string[]; usage: { replicas: number } };
    assert.deepEqual(q.over, ["replicas"]);
    assert.equal(q.usage.replicas, 5);
    assert.match((await paas(["quotas", "-t", "qrace"], raceToken)).stdout, /replicas\s+5\s+2\s+over the quota/);
    const more = await mutate(raceToken, "ps.scale", { app: running[0]!.labels["paas.app"], quantities: { web: 2 } });
    assert.match(more.message, /would exceed its quota of 2 replicas/);
    assert.equal((await agent.containers()).filter((c) => c.labels["paas.app"]?.startsWith("qr") && c.state === "running").length, 5);
  });

  test("the audit log: who, what, app, address and token of each change, for team admins only, with no secret in it", async () => {
    assert.equal((await paas(["config:set", `API_KEY=${SECRET}`, "-a", "qcalm"], teamToken)).code, 0);
    const r = await paas(["audit", "-t", "qteam", "--json", "-n", "20"], teamToken);
    assert.equal(r.code, 0, r.stderr);
    const events = JSON.parse(r.stdout) as { actor: string; action: string; app: string | null; address: string | null; token: string | null; details: Record<string, unknown>; outcome: string }[];
    const prefix = (await db.apiToken.findFirstOrThrow({ where: { user: { email: "q@example.com" } } })).prefix;
    const config = events.find((e) => e.action === "config.set")!;
    assert.ok(config, JSON.stringify(events));
    assert.deepEqual([config.actor, config.app, config.token], ["q@example.com", "qcalm", prefix]);
    assert.deepEqual(config.details, { app: "qcalm", vars: { API_KEY: "[redacted]" } });
    assert.match(config.address ?? "", /^(127\.0\.0\.1|::1|::ffff:127\.0\.0\.1)$/);
    const push = events.find((e) => e.action === "git.push")!;
    assert.ok(push, "the push is recorded");
    assert.deepEqual([push.actor, push.app, push.token, push.details.branch], ["q@example.com", "qcalm", prefix, "main"]);
    assert.ok(events.some((e) => e.action === "apps.create" && e.app === "qcalm"));
    assert.ok(events.some((e) => e.action === "quotas.set" && e.actor === "admin@paas.localhost"));
    assert.match((await paas(["audit", "-t", "qteam"], teamToken)).stdout, /config\.set.*qcalm/);
    for (const e of events) assert.ok(["ok", "denied", "failed"].includes(e.outcome.split(":")[0]!), e.outcome);
    assert.equal(config.outcome, "ok");

    // Refusals are there too, with their reason: the team admin's quotas:set (first test) ...
    const refused = events.find((e) => e.action === "quotas.set" && e.actor === "q@example.com")!;
    assert.ok(refused, JSON.stringify(events));
    assert.match(refused.outcome, /^denied: only the platform's operators may set quotas/);
    const text = (await paas(["audit", "-t", "qteam", "-n", "50"], teamToken)).stdout;
    assert.match(text.split("\n")[0]!, /OUTCOME/);
    assert.match(text, /q@example\.com\s+quotas\.set\s+denied\s.*only the platform's operators may set quotas/);
    // ... and the 15 app creates the quota refused in qrace's log.
    const race = JSON.parse((await paas(["audit", "-t", "qrace", "--json", "-n", "200"], raceToken)).stdout) as typeof events;
    const overQuota = race.filter((e) => e.action === "apps.create" && /^denied: team "qrace" has reached its quota of 5 apps/.test(e.outcome));
    assert.equal(overQuota.length, 15);
    assert.equal(race.filter((e) => e.action === "apps.create" && e.outcome === "ok").length, 20);
    // The worker's job refused 15 scale-ups for the quota: denied as well, not failed.
    const scales = race.filter((e) => e.action === "ps.scale" && /would exceed its quota of 5 replicas/.test(e.outcome));
    assert.equal(scales.length, 15, JSON.stringify(scales.map((e) => e.outcome)));
    for (const e of scales) assert.match(e.outcome, /^denied: /);

    // Nothing anywhere in the table holds the value or a token.
    const all = JSON.stringify(await db.auditEvent.findMany());
    for (const secret of [SECRET, teamToken, raceToken, p.adminToken]) assert.ok(!all.includes(secret));
    // Another team's admin does not see it.
    const other = await paas(["audit", "-t", "qteam"], raceToken);
    assert.notEqual(other.code, 0);
    assert.match(other.stderr, /team "qteam" not found/);
  });

  test("kernel caps: a memory hog and a fork bomb in the team's cgroup are held to its quota; its other app keeps answering", async () => {
    // No more builds for the team: the caps are the apps' quota alone (512 MB, 300 processes).
    assert.equal((await paas(["quotas:set", "memory=512M", "pids=300", "builds=0", "--team", "qteam"])).code, 0);
    assert.deepEqual(await agent.teamLimits("qteam"), { memoryBytes: 512 * 2 ** 20, cpuMillis: 3000, pids: 300 });
    const cg = (ctrl: string, file: string) => path.join("/sys/fs/cgroup", ctrl, p.env.PAAS_CGROUP_ROOT!, "qteam", file);
    const answers = async (n: number) => {
      for (let i = 0; i < n; i++) {
        const r = await viaRouter(p, "qcalm");
        if (r.status !== 200) return false;
      }
      return true;
    };
    assert.ok(await answers(5));
    if (fs.existsSync(cg("memory", "memory.max_usage_in_bytes"))) fs.writeFileSync(cg("memory", "memory.max_usage_in_bytes"), "0");

    // The hog's own limit is 4 GB: only the team's cap can stop it.
    const hog = await agent.createContainer({
      image: "stack/node",
      cmd: ["node", "-e", "const a = []; setInterval(() => a.push(Buffer.alloc(32 * 2 ** 20, 1)), 20)"],
      memoryBytes: 4 * 2 ** 30,
      cgroupParent: "qteam/qhog",
      network: "none",
      labels: { test: "hog" },
    });
    await agent.start(hog.id);
    let served = 0;
    await waitFor(
      async () => {
        if (await answers(1)) served++;
        const c = await agent.container(hog.id);
        return c.state === "exited";
      },
      "the hog to be killed",
      60_000,
      200,
    );
    const dead = await agent.container(hog.id);
    assert.equal(dead.oomKilled, true, JSON.stringify(dead));
    const peak = Number(fs.readFileSync(cg("memory", "memory.max_usage_in_bytes"), "utf8"));
    console.log(`hog: OOM-killed; the team's peak memory ${(peak / 2 ** 20).toFixed(0)} MB under its 512 MB cap; qcalm answered ${served} requests meanwhile`);
    assert.ok(peak <= 512 * 2 ** 20, `peak ${peak}`);
    assert.ok(await answers(10), "qcalm answers after the hog");
    await agent.remove(hog.id, true);

    // The bomb's own pids limit is far above the team's. sh gives up at its first failed fork,
    // and a container whose first process ends takes its sleeps with it: the outer loop starts
    // the bomb again, so the team stays at its cap long enough to be seen, not for a moment.
    const bomb = await agent.createContainer({
      image: "stack/busybox",
      cmd: ["sh", "-c", "while true; do sh -c 'while true; do sleep 600 & done' 2>/dev/null; sleep 0.1; done"],
      memoryBytes: 256 * 2 ** 20,
      pidsLimit: 100_000,
      cgroupParent: "qteam/qhog",
      network: "none",
      labels: { test: "bomb" },
    });
    await agent.start(bomb.id);
    let peakPids = 0;
    const pidsNow = () => Number(fs.readFileSync(cg("pids", "pids.current"), "utf8"));
    await waitFor(() => (peakPids = Math.max(peakPids, pidsNow())) >= 290, "the bomb to reach the team's pids cap", 30_000, 200).catch(async (err: Error) => {
      throw new Error(`${err.message} (peak ${peakPids}; the bomb: ${JSON.stringify(await agent.container(bomb.id))})`);
    });
    for (let i = 0; i < 10; i++, await new Promise((r) => setTimeout(r, 200))) peakPids = Math.max(peakPids, pidsNow());
    console.log(`fork bomb: the team's cgroup reached ${peakPids} processes, its cap is 300`);
    assert.ok(peakPids <= 300, `pids ${peakPids}`);
    // The team's other app and the host are fine meanwhile.
    assert.ok(await answers(20), "qcalm answers during the bomb");
    assert.ok((await agent.health()).hostname !== undefined, "the agent answers");
    const hostFork = await sh("sh", ["-c", "for i in 1 2 3 4 5 6 7 8 9 10; do true & done; wait; echo forked"], {});
    assert.match(hostFork.stdout, /forked/);
    await agent.remove(bomb.id, true);
    await waitFor(() => Number(fs.readFileSync(cg("pids", "pids.current"), "utf8")) < 100, "the bomb's processes to go", 30_000, 200);
    assert.ok(await answers(5));
  });

  test("apps:transfer: refused while the other team's quotas would not hold; once moved, the replicas run in that team's cgroup", async () => {
    // qrace has 20 apps of its 20 (the creates above) and runs its replicas' quota.
    assert.equal((await paas(["quotas:set", "apps=20", "replicas=1", "--team", "qrace"])).code, 0);
    const refused = await paas(["apps:transfer", "qrace", "-a", "qcalm"]);
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /team "qrace" cannot take qcalm: it would exceed its quota of 20 apps \(it has 20 apps, qcalm brings 1 app\) and 1 replica \(it has \d+ replicas, qcalm brings 2 replicas\)/);
    assert.equal((await db.app.findUniqueOrThrow({ where: { name: "qcalm" }, include: { team: true } })).team.name, "qteam", "nothing moved");

    assert.equal((await paas(["quotas:set", "apps=21", "replicas=10", "--team", "qrace"])).code, 0);
    const moved = await paas(["apps:transfer", "qrace", "-a", "qcalm"]);
    assert.equal(moved.code, 0, moved.stderr);
    assert.match(moved.stdout, /Moved qcalm from qteam to qrace \(its replicas restarted in qrace's cgroup\)/);
    // The old replicas go once drained: then qcalm's web and worker run only in qrace's cgroup.
    const cgroupOf = (team: string, id: string) => path.join("/sys/fs/cgroup/memory", p.env.PAAS_CGROUP_ROOT!, team, "qcalm", id);
    let where: string[] = [];
    await waitFor(
      async () => {
        const running = (await agent.containers()).filter((c) => c.labels["paas.app"] === "qcalm" && c.state === "running");
        where = running.map((c) => `${c.labels["paas.process"] ?? "?"}:${fs.existsSync(cgroupOf("qrace", c.id)) ? "qrace" : fs.existsSync(cgroupOf("qteam", c.id)) ? "qteam" : "neither"}`);
        return running.length === 2 && where.every((w) => w.endsWith(":qrace"));
      },
      "qcalm's replicas to run in qrace's cgroup only",
      60_000,
      500,
    ).catch((err: Error) => {
      throw new Error(`${err.message}; now: ${where.join(", ")}`);
    });
    for (let i = 0; i < 5; i++) assert.equal((await viaRouter(p, "qcalm")).status, 200, "qcalm answers after the move");
  });
});
