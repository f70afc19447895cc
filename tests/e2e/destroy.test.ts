/**
 * `paas apps:destroy`, end to end (a platform started by ./infra/up, real pushes): an app with
 * a preview app and a build cache is destroyed, and nothing of either is left: no containers,
 * mounts, cgroups, images, Redis keys, repository, data dir files or rows. Then an app of the
 * same name is created and pushed again. Refusals (no or a wrong --confirm, a team member who
 * is not an admin) change nothing.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import fs from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";
import { Redis } from "ioredis";
import { createDb } from "@paas/db";
import { AgentClient, generateToken } from "@paas/shared";
import { commitChange, fixtureRepo, ROOT, sh, startPlatform, viaRouter, type Platform, pushApp } from "../helpers/platform.ts";
import { waitFor } from "../helpers/wait.ts";

const run = promisify(execFile);
const APP = "doomed";
const PREVIEW = `${APP}--feature-x`;

let p: Platform;
let db: ReturnType<typeof createDb>;
let repo: string;

const paas = async (args: string[], token = p.adminToken) => {
  const r = await sh(path.join(ROOT, "apps/cli/bin/paas"), args, { cwd: ROOT, env: { ...p.env, PAAS_URL: p.webUrl, PAAS_TOKEN: token } });
  return { ...r, out: r.stderr + r.stdout };
};

const push = async (ref = "main") => {
  const r = await pushApp(p, APP, repo, { ref });
  return { ...r, out: r.stderr + r.stdout };
};

/** Everything of the app and its preview the checks look for, gathered while they exist. */
interface Traces {
  appIds: string[];
  buildIds: string[];
  containerIds: string[];
  imageNames: string[];
}

async function traces(): Promise<Traces> {
  const apps = await db.app.findMany({ where: { name: { in: [APP, PREVIEW] } } });
  const builds = await db.build.findMany({ where: { appId: { in: apps.map((a) => a.id) } } });
  const agent = new AgentClient(`http://127.0.0.1:${p.env.PAAS_AGENT_PORT}`);
  const containers = (await agent.containers()).filter((c) => [APP, PREVIEW].includes(c.labels["paas.app"] ?? ""));
  const imageNames = (await agent.images()).flatMap((i) => i.names).filter((n) => n.includes(`/${APP}`));
  return { appIds: apps.map((a) => a.id), buildIds: builds.map((b) => b.id), containerIds: containers.map((c) => c.id), imageNames };
}

/** Every Redis key with what it holds, as text (BullMQ's capped events streams aside: a log of past events). */
async function redisDump(): Promise<Map<string, string>> {
  const redis = new Redis(Number(p.env.PAAS_REDIS_PORT), "127.0.0.1");
  try {
    const out = new Map<string, string>();
    for await (const keys of redis.scanStream({ count: 1000 })) {
      for (const key of keys as string[]) {
        const type = await redis.type(key);
        let value = "";
        if (type === "string") value = (await redis.getBuffer(key))?.toString("latin1") ?? "";
        else if (type === "hash") value = JSON.stringify(await redis.hgetall(key));
        else if (type === "set") value = JSON.stringify(await redis.smembers(key));
        else if (type === "zset") value = JSON.stringify(await redis.zrange(key, 0, -1));
        else if (type === "list") value = JSON.stringify(await redis.lrange(key, 0, -1));
        else if (type === "stream" && !/^bull:.*:events$/.test(key)) value = JSON.stringify(await redis.xrange(key, "-", "+"));
        out.set(key, value);
      }
    }
    return out;
  } finally {
    redis.disconnect();
  }
}

async function filesUnder(dir: string): Promise<string[]> {
  const { stdout } = await run("find", [dir, "-xdev"], { maxBuffer: 256 << 20 });
  return stdout.split("\n").filter(Boolean);
}

describe("apps:destroy", { timeout: 20 * 60_000 }, () => {
  let before_: Traces;

  before(async () => {
    p = await startPlatform("destroy", 4650);
    db = createDb(`file:${path.join(p.dataDir, "paas.db")}`);
    repo = await fixtureRepo("node-deps");
  });
  after(async () => {
    await db?.$disconnect();
    await p?.stop();
  });

  test("an app with a preview app and a build cache serves", async () => {
    assert.equal((await paas(["apps:create", APP])).code, 0);
    assert.equal((await paas(["apps:update", "-a", APP, "--previews", "on"])).code, 0);
    const main = await push();
    assert.equal(main.code, 0, main.out);
    await run("git", ["checkout", "-qb", "feature-x"], { cwd: repo });
    await commitChange(repo, "server.js", (await fs.readFile(path.join(repo, "server.js"), "utf8")).replace("deps v1", "deps preview"), "preview");
    const preview = await push("feature-x");
    assert.equal(preview.code, 0, preview.out);
    assert.equal((await viaRouter(p, APP)).status, 200);
    assert.equal((await viaRouter(p, `feature-x.${APP}`)).status, 200);

    before_ = await traces();
    assert.equal(before_.appIds.length, 2, "the app and its preview");
    assert.ok(before_.containerIds.length >= 2, "a replica each");
    assert.ok(before_.imageNames.some((n) => n.startsWith(`app/${APP}:`)), `the app's image: ${before_.imageNames}`);
    assert.ok(before_.imageNames.some((n) => n.startsWith(`cache/${APP}/node-deps:`)), `the build cache: ${before_.imageNames}`);
  });

  test("without --confirm, with a wrong one, or by a team member who is not an admin: refused, nothing changes", async () => {
    const none = await paas(["apps:destroy", APP]);
    assert.notEqual(none.code, 0);
    assert.match(none.out, /--confirm doomed/);
    const wrong = await paas(["apps:destroy", APP, "--confirm", "doome"]);
    assert.notEqual(wrong.code, 0);
    assert.match(wrong.out, /confirm with --confirm doomed/);

    const app = await db.app.findUniqueOrThrow({ where: { name: APP } });
    const user = await db.user.create({ data: { email: "member@example.com" } });
    await db.membership.create({ data: { teamId: app.teamId, userId: user.id, role: "member" } });
    const t = generateToken();
    await db.apiToken.create({ data: { userId: user.id, name: "test", hash: t.hash, prefix: t.prefix } });
    const member = await paas(["apps:destroy", APP, "--confirm", APP], t.token);
    assert.notEqual(member.code, 0);
    assert.match(member.out, /only admins of team .* may delete apps/);

    assert.deepEqual(await traces(), before_);
    assert.equal((await viaRouter(p, APP)).status, 200);
  });

  test("destroyed: nothing of the app or its preview is left", async () => {
    const r = await paas(["apps:destroy", APP, "--confirm", APP]);
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /Destroyed doomed/);

    // Routes
    assert.equal((await viaRouter(p, APP)).status, 404);
    assert.equal((await viaRouter(p, `feature-x.${APP}`)).status, 404);

    // Containers, images (the build cache too)
    const agent = new AgentClient(`http://127.0.0.1:${p.env.PAAS_AGENT_PORT}`);
    const left = (await agent.containers()).filter((c) => before_.containerIds.includes(c.id) || [APP, PREVIEW].includes(c.labels["paas.app"] ?? ""));
    assert.deepEqual(left.map((c) => c.name), []);
    assert.deepEqual((await agent.images()).flatMap((i) => i.names).filter((n) => n.includes(`/${APP}`)), []);

    // Mounts of its containers
    const mountinfo = await fs.readFile("/proc/self/mountinfo", "utf8");
    assert.deepEqual(mountinfo.split("\n").filter((l) => before_.containerIds.some((id) => l.includes(id))), []);

    // Cgroups: nothing named after the apps or their containers under any hierarchy
    const cgroups = await filesUnder("/sys/fs/cgroup").then((all) => all.filter((f) => /\/paas-destroy(\/|$)/.test(f)));
    const named = cgroups.filter((f) => f.split("/").some((part) => part === APP || part === PREVIEW || before_.containerIds.includes(part)));
    assert.deepEqual(named, []);

    // Redis: no key names them, and no key holds their ids or builds (the routes and figures: not their names)
    const needles = [...before_.appIds, ...before_.buildIds, ...before_.containerIds];
    const dump = await redisDump();
    const mentions = [...dump].filter(([k, v]) => needles.some((n) => k.includes(n) || v.includes(n)) || k.includes(APP));
    assert.deepEqual(mentions.map(([k]) => k), []);
    for (const k of ["paas:routes", "paas:router:figures"]) assert.ok(!(dump.get(k) ?? "").includes(`"${APP}`), `${k}: ${dump.get(k)}`);

    // Data dir: the repository, sources, containers' dirs, image names
    await assert.rejects(fs.stat(path.join(p.dataDir, "repos", `${APP}.git`)), "the repository is gone");
    // (a removed container's dir goes to the runtime's trash/ at once and is deleted in the background)
    const named2 = async () => (await filesUnder(p.dataDir)).filter((f) => [APP, ...needles].some((n) => path.basename(f).includes(n)));
    await waitFor(async () => (await named2()).length === 0, "no file in the data dir named after the app, its builds or containers", 30_000, 500).catch(async (err) => {
      assert.deepEqual(await named2(), [], (err as Error).message);
    });
    const names = await fs.readFile(path.join(p.dataDir, "runtime", "names.json"), "utf8");
    assert.ok(!names.includes(`/${APP}`), "no image name of it");

    // Rows
    assert.equal(await db.app.count({ where: { OR: [{ name: { in: [APP, PREVIEW] } }, { id: { in: before_.appIds } }] } }), 0);
    assert.equal(await db.build.count({ where: { id: { in: before_.buildIds } } }), 0);
    assert.equal(await db.release.count({ where: { appId: { in: before_.appIds } } }), 0);
    assert.equal(await db.container.count({ where: { appId: { in: before_.appIds } } }), 0);
    assert.equal(await db.formation.count({ where: { appId: { in: before_.appIds } } }), 0);
    assert.equal(await db.configVar.count({ where: { appId: { in: before_.appIds } } }), 0);
  });

  test("the name can be used again: create and push", async () => {
    const c = await paas(["apps:create", APP]);
    assert.equal(c.code, 0, c.out);
    await run("git", ["checkout", "-q", "main"], { cwd: repo });
    const r = await push();
    assert.equal(r.code, 0, r.out);
    const a = await viaRouter(p, APP);
    assert.equal(a.status, 200, a.body);
    assert.equal(JSON.parse(a.body).release, "v1", "a new app: its first release");
    const again = await paas(["apps:destroy", "-a", APP, "--confirm", APP]);
    assert.equal(again.code, 0, again.out);
  });

  test("a destroy during a build stops the build: its container, image, job and rows are gone, and the push ends", async () => {
    assert.equal((await paas(["apps:create", "busy"])).code, 0);
    const dir = await fixtureRepo("node-slow-build");
    const pushing = pushApp(p, "busy", dir);
    const agent = new AgentClient(`http://127.0.0.1:${p.env.PAAS_AGENT_PORT}`);
    const buildContainers = async () => (await agent.containers()).filter((c) => c.labels["paas.app"] === "busy");
    await waitFor(async () => (await buildContainers()).some((c) => c.labels["paas.step"] !== undefined || c.state === "running"), "the build's container to run", 120_000, 200);
    const [build] = await db.build.findMany({ where: { app: { name: "busy" } } });
    assert.equal(build.status, "building");

    const r = await paas(["apps:destroy", "busy", "--confirm", "busy"]);
    assert.equal(r.code, 0, r.out);
    const pushed = await pushing;
    assert.notEqual(pushed.code, 0, "the push does not deploy a destroyed app");
    assert.deepEqual((await buildContainers()).map((c) => c.name), []);
    assert.deepEqual((await agent.images()).flatMap((i) => i.names).filter((n) => n.startsWith("app/busy:") || n.startsWith("cache/busy/")), []);
    assert.equal(await db.app.count({ where: { name: "busy" } }), 0);
    assert.equal(await db.build.count({ where: { id: build.id } }), 0);
    await waitFor(async () => [...(await redisDump())].every(([k, v]) => !k.includes(build.id) && !v.includes(build.id)), "no Redis key holding the build", 30_000, 500);
  });
});
