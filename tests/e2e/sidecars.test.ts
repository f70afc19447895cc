/**
 * Sidecars end to end: a real push, then a custom-image sidecar attached, swapped and detached
 * through the CLI while the app's container keeps its pid and start time (checked on the
 * agent each time); the sidecar shares the replica's network namespace (it reaches the app on
 * localhost); a killed sidecar is restarted alone, a removed one is made again by the
 * reconcile loop, a new replica comes up with it; the team's memory quota counts it.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs/promises";
import path from "node:path";
import { createDb } from "@paas/db";
import { AgentClient, type ContainerInfo } from "@paas/shared";
import { ROOT, fixtureRepo, pushApp, sh, startPlatform, type Platform } from "../helpers/platform.ts";

let p: Platform;
let db: ReturnType<typeof createDb>;
let agent: AgentClient;
const APP = "sidey";

const paas = async (args: string[]) => {
  const r = await sh(path.join(ROOT, "apps/cli/bin/paas"), args, { cwd: ROOT, env: { ...p.env, PAAS_URL: p.webUrl, PAAS_TOKEN: p.adminToken } });
  if (r.code !== 0) console.log(`paas ${args.join(" ")} exited ${r.code}:\n${r.stderr}${r.stdout}`);
  return r;
};

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(what: string, f: () => Promise<T | undefined | false>, ms = 45_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(250);
  }
}

/** The app's web replicas on the agent, by number. */
async function webReplicas(): Promise<ContainerInfo[]> {
  return (await agent.containers())
    .filter((c) => c.labels["paas.app"] === APP && c.labels["paas.process"] === "web" && c.state === "running")
    .sort((a, b) => Number(a.labels["paas.replica"]) - Number(b.labels["paas.replica"]));
}

async function sidecarsOnAgent(kind?: string): Promise<ContainerInfo[]> {
  return (await agent.containers()).filter((c) => c.labels["paas.app"] === APP && c.labels["paas.sidecar"] && (!kind || c.labels["paas.sidecar"] === kind));
}

/** What must not change while sidecars come and go: the app container's host pid and start time. */
async function appIdentity(): Promise<{ id: string; pid?: number; startedAt?: string }[]> {
  const list = await webReplicas();
  return Promise.all(list.map(async (c) => ({ id: c.id, pid: (await agent.container(c.id)).pid, startedAt: (await agent.container(c.id)).startedAt })));
}

async function execIn(id: string, cmd: string[]): Promise<{ code: number; out: string }> {
  const proc = await agent.exec(id, { cmd });
  let out = "";
  proc.stdout.on("data", (c: Buffer) => (out += c.toString()));
  proc.stderr.on("data", (c: Buffer) => (out += c.toString()));
  proc.stdin.end();
  const code = await proc.exit;
  return { code, out };
}

describe("sidecars", { timeout: 20 * 60_000 }, () => {
  let identity: Awaited<ReturnType<typeof appIdentity>>;

  before(async () => {
    p = await startPlatform("sidecr", 5200);
    db = createDb(`file:${path.join(p.dataDir, "paas.db")}`);
    agent = new AgentClient(`http://127.0.0.1:${p.env.PAAS_AGENT_PORT}`);
    assert.equal((await paas(["apps:create", APP])).code, 0);
    const repo = await fixtureRepo("node-hello");
    const push = await pushApp(p, APP, repo);
    assert.equal(push.code, 0, push.stderr + push.stdout);
    identity = await appIdentity();
    assert.equal(identity.length, 1);
    assert.ok(identity[0]!.pid && identity[0]!.startedAt);
  });
  after(async () => {
    await db?.$disconnect();
    await p?.stop();
  });

  test("attach a custom image: one container per replica in its network namespace; the app's pid and start time are unchanged", async () => {
    const t0 = Date.now();
    const r = await paas(["sidecars:attach", "probe", "--image", "stack/busybox", "--memory", "32M", "-a", APP, "--", "sh", "-c", "echo probe up; exec sleep 100000"]);
    const ms = Date.now() - t0;
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /Attached probe \(stack\/busybox\) on sidey: 1 replica, 1 started/);
    console.log(`sidecars:attach through the CLI took ${ms} ms (${r.stdout.trim()})`);
    const [sc] = await sidecarsOnAgent("probe");
    assert.ok(sc, "a probe container runs");
    assert.equal(sc.state, "running");
    assert.equal(sc.labels["paas.sidecar.of"], identity[0]!.id);
    assert.equal(sc.networkOf, identity[0]!.id, "it joined the replica's network namespace");
    assert.equal(sc.labels["paas.process"], undefined, "a sidecar is not taken for a replica");
    // localhost is the app's: the sidecar reaches it there.
    const got = await execIn(sc.id, ["wget", "-qO-", "http://127.0.0.1:5000/"]);
    assert.equal(got.code, 0, got.out);
    assert.match(got.out, /hello from v1/);
    const stats = await agent.stats(sc.id);
    console.log(`a busybox sidecar costs ${(stats.memoryBytes / 2 ** 20).toFixed(2)} MB of memory per replica (limit ${(stats.memoryLimitBytes ?? 0) / 2 ** 20} MB)`);
    assert.deepEqual(await appIdentity(), identity);

    const list = await paas(["sidecars", "-a", APP, "--json"]);
    const rows = JSON.parse(list.stdout) as { kind: string; image: string; memoryMb: number; net: string; replicas: { replica: string; state: string }[] }[];
    assert.deepEqual(
      rows.map((x) => [x.kind, x.image, x.memoryMb, x.net, x.replicas.map((y) => `${y.replica} ${y.state}`)]),
      [["probe", "stack/busybox", 32, "app", ["web.1 running"]]],
    );
  });

  test("attaching the kind again swaps it: the old container goes, a new one runs, the app is untouched", async () => {
    const [old] = await sidecarsOnAgent("probe");
    const t0 = Date.now();
    const r = await paas(["sidecars:attach", "probe", "--image", "stack/busybox", "--memory", "32M", "-a", APP, "--", "sh", "-c", "echo swapped; exec sleep 200000"]);
    console.log(`a swap through the CLI took ${Date.now() - t0} ms (${r.stdout.trim()})`);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /Swapped probe/);
    const now = await sidecarsOnAgent("probe");
    assert.equal(now.length, 1);
    assert.notEqual(now[0]!.id, old!.id);
    assert.notEqual(now[0]!.labels["paas.sidecar.spec"], old!.labels["paas.sidecar.spec"]);
    const lines: string[] = [];
    for await (const l of agent.logs(now[0]!.id)) lines.push(l.line);
    assert.deepEqual(lines, ["swapped"]);
    assert.deepEqual(await appIdentity(), identity);
  });

  test("a killed sidecar is restarted alone by its agent; the app is untouched", async () => {
    const [sc] = await sidecarsOnAgent("probe");
    // A crash, not a user's kill (which its restart policy honours): its init killed from the host.
    process.kill(sc!.pid!, "SIGKILL");
    const back = await until("the sidecar to run again", async () => {
      const c = await agent.container(sc!.id);
      return c.state === "running" && (c.restartCount ?? 0) >= 1 && c;
    });
    assert.equal(back.id, sc!.id);
    assert.deepEqual(await appIdentity(), identity);
  });

  test("a sidecar whose container is gone is made again by the reconcile loop", async () => {
    const [sc] = await sidecarsOnAgent("probe");
    await agent.remove(sc!.id, true);
    const fresh = await until("a new probe container", async () => {
      const l = (await sidecarsOnAgent("probe")).filter((c) => c.state === "running");
      return l.length === 1 && l[0]!.id !== sc!.id && l[0];
    }).catch(async (err: Error) => {
      // What the reconcile loop said meanwhile (it runs in the worker).
      const log = await fs.readFile(path.join(p.dataDir, "logs/worker.log"), "utf8").catch((e: Error) => e.message);
      throw new Error(`${err.message}; the worker's log ends:\n${log.split("\n").slice(-40).join("\n")}`);
    });
    assert.equal(fresh.networkOf, identity[0]!.id);
    assert.deepEqual(await appIdentity(), identity);
  });

  test("a new replica (ps:scale) comes up with the sidecar, in its own namespace", async () => {
    const r = await paas(["ps:scale", "web=2", "-a", APP]);
    assert.equal(r.code, 0, r.stderr);
    const web = await webReplicas();
    assert.equal(web.length, 2);
    const scs = await sidecarsOnAgent("probe");
    assert.deepEqual(scs.map((c) => c.labels["paas.sidecar.of"]).sort(), web.map((c) => c.id).sort());
    for (const c of scs) assert.equal(c.networkOf, c.labels["paas.sidecar.of"]);
    assert.equal((await agent.container(identity[0]!.id)).pid, identity[0]!.pid, "web.1 kept running");
    identity = await appIdentity();
  });

  test("the team's memory quota counts sidecars per replica: over it, attach is refused and nothing changes", async () => {
    const team = await db.team.findFirstOrThrow({ where: { apps: { some: { name: APP } } } });
    // 2 replicas x (256 + 32) = 576 MB now; a 128 MB sidecar more would make 832.
    await db.quota.upsert({ where: { teamId: team.id }, create: { teamId: team.id, memoryMb: 700 }, update: { memoryMb: 700 } });
    try {
      const r = await paas(["sidecars:attach", "big", "--image", "stack/busybox", "--memory", "128M", "-a", APP, "--", "sleep", "100000"]);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /would exceed its quota of 700 MB of memory .*sidey would take 832 MB.*nothing changed/);
      assert.equal((await sidecarsOnAgent("big")).length, 0);
      assert.equal(await db.sidecar.count({ where: { kind: "big" } }), 0);
    } finally {
      await db.quota.update({ where: { teamId: team.id }, data: { memoryMb: 4096 } });
    }
  });

  test("bad requests say what to do and change nothing", async () => {
    const unknown = await paas(["sidecars:attach", "nosuch", "-a", APP]);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /"nosuch" is not a kind of sidecar the platform has .*--image IMAGE/);
    const noImage = await paas(["sidecars:attach", "ghost", "--image", "no/such-image", "-a", APP]);
    assert.equal(noImage.code, 1);
    assert.match(noImage.stderr, /sidecar ghost \(no\/such-image\) did not start: .*nothing changed/);
    assert.equal((await sidecarsOnAgent("ghost")).length, 0);
    const noVolume = await paas(["sidecars:attach", "vol", "--image", "stack/busybox", "--volume", "nope:/data", "-a", APP]);
    assert.equal(noVolume.code, 1);
    assert.match(noVolume.stderr, /sidey has no volume nope: add it first/);
    const detach = await paas(["sidecars:detach", "nosuch", "-a", APP]);
    assert.equal(detach.code, 1);
    assert.match(detach.stderr, /sidey has no sidecar nosuch/);
    assert.equal(await db.sidecar.count(), 1);
    assert.deepEqual(await appIdentity(), identity);
  });

  test("detach: the sidecar's containers go, the app's stay as they were", async () => {
    const r = await paas(["sidecars:detach", "probe", "-a", APP]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /Detached probe from sidey \(2 containers removed/);
    assert.deepEqual(await sidecarsOnAgent(), []);
    assert.deepEqual(await appIdentity(), identity);
    const none = await paas(["sidecars", "-a", APP]);
    assert.match(none.stdout, /sidey has no sidecars/);
  });
});
