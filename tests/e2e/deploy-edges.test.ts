/**
 * Release and deploy edge cases, end to end (a platform started by ./infra/up,
 * real pushes, answers through the router): config changes racing a build,
 * failed config changes and rollbacks changing nothing (and in the audit log as failed),
 * preview apps against the team's app quota and a deploy-branch change that takes the new
 * deploy branch's preview app away, and devDependencies pruned from Node images.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { createDb } from "@paas/db";
import { AgentClient } from "@paas/shared";
import { commitChange, fixtureRepo, ROOT, sh, startPlatform, viaRouter, type Platform } from "../helpers/platform.ts";

const run = promisify(execFile);
let p: Platform;
let db: ReturnType<typeof createDb>;
const APP = "edge";

const paas = (args: string[]) =>
  sh(path.join(ROOT, "apps/cli/bin/paas"), args, { cwd: ROOT, env: { ...p.env, PAAS_URL: p.webUrl, PAAS_TOKEN: p.adminToken } });

async function push(dir: string, app: string, ref = "main", flags: string[] = []) {
  const r = await sh("git", ["push", ...flags, `http://git:${p.adminToken}@127.0.0.1:${p.env.PAAS_WEB_PORT}/git/${app}.git`, ref], {
    cwd: dir,
    env: { ...process.env, GIT_TERMINAL_PROMPT: "0" },
  });
  return { ...r, out: r.stderr + r.stdout };
}

interface Answer {
  code: string;
  greeting: string | null;
  release: string;
}

async function answer(host: string): Promise<Answer> {
  const r = await viaRouter(p, host);
  assert.equal(r.status, 200, `router answered ${r.status} for ${host}: ${r.body.slice(0, 300)}`);
  return JSON.parse(r.body);
}

interface AppOptions {
  buildScript?: string;
  /** The server listens only after this long: a deploy whose health check takes a while. */
  startDelayMs?: number;
  /** The server exits at start unless it runs as this release (so a rollback to it fails). */
  onlyRelease?: string;
}

/** A Node app that answers its code version, GREETING and its release; exits at start when CRASH is set. */
async function writeApp(dir: string, code: string, o: AppOptions = {}) {
  const scripts: Record<string, string> = { start: "node server.js" };
  if (o.buildScript) scripts.build = o.buildScript;
  await fs.writeFile(path.join(dir, "package.json"), JSON.stringify({ name: "edge", version: "1.0.0", private: true, scripts }, null, 2));
  const server = [
    `if (process.env.CRASH) { console.error("CRASH is set: exiting"); process.exit(3); }`,
    o.onlyRelease ? `if (process.env.PAAS_RELEASE !== ${JSON.stringify(o.onlyRelease)}) { console.error("only runs as ${o.onlyRelease}"); process.exit(4); }` : "",
    `const server = require("node:http").createServer((req, res) => res.end(JSON.stringify({ code: ${JSON.stringify(code)}, greeting: process.env.GREETING ?? null, release: process.env.PAAS_RELEASE })));`,
    `setTimeout(() => server.listen(Number(process.env.PORT)), ${o.startDelayMs ?? 0});`,
  ];
  await fs.writeFile(path.join(dir, "server.js"), server.filter(Boolean).join("\n") + "\n");
}

async function commitApp(dir: string, code: string, o: AppOptions = {}) {
  await writeApp(dir, code, o);
  await run("git", ["add", "-A"], { cwd: dir });
  await run("git", ["commit", "-qm", code], { cwd: dir });
}

async function newRepo(): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), "deploy-edges-"));
  const git = (...a: string[]) => run("git", a, { cwd: dir });
  await git("init", "-q", "-b", "main");
  await git("config", "user.email", "dev@example.com");
  await git("config", "user.name", "Dev");
  return dir;
}

async function until<T>(what: string, f: () => Promise<T | null | undefined>, ms = 60_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const config = async (app: string) => JSON.parse((await paas(["config", "-a", app, "--json"])).stdout) as Record<string, string>;
const releases = async (app: string) =>
  JSON.parse((await paas(["releases", "-a", app, "--json"])).stdout) as { version: number; status: string; description: string; error: string | null }[];
const latestVersion = async (app: string) => (await db.release.findFirst({ where: { app: { name: app } }, orderBy: { version: "desc" } }))?.version ?? 0;

describe("release and deploy edge cases", { timeout: 20 * 60_000 }, () => {
  let repo: string;
  before(async () => {
    p = await startPlatform("edges", 3860);
    db = createDb(`file:${path.join(p.dataDir, "paas.db")}`);
    assert.equal((await paas(["apps:create", APP])).code, 0);
    repo = await newRepo();
    await commitApp(repo, "one");
    const r = await push(repo, APP);
    assert.equal(r.code, 0, r.out);
  });
  after(async () => {
    await db?.$disconnect();
    await p?.stop();
  });

  test("config:set while a slow build runs: the final release has the new code and the new var", async () => {
    await commitApp(repo, "two", { buildScript: "sleep 6" });
    const pushing = push(repo, APP);
    await until("the build to run", () => db.build.findFirst({ where: { app: { name: APP }, status: "building" } }));
    const set = await paas(["config:set", "GREETING=during-build", "-a", APP]);
    assert.equal(set.code, 0, set.stderr);
    const pushed = await pushing;
    assert.equal(pushed.code, 0, pushed.out);
    const a = await answer(APP);
    assert.deepEqual([a.code, a.greeting], ["two", "during-build"]);
    const rel = await releases(APP);
    assert.equal(`v${rel[0].version}`, a.release, "the newest release is the one serving");
    assert.equal(rel[0].status, "active");
  });

  test("config:set while a build's release is deploying waits for it, then releases the new code with the new var", async () => {
    const before = await latestVersion(APP);
    // Slow to answer: the build's release sits in its health check for seconds.
    await commitApp(repo, "three", { startDelayMs: 5000 });
    const pushing = push(repo, APP);
    const deploying = await until("the build's release to deploy", () =>
      db.release.findFirst({ where: { app: { name: APP }, version: { gt: before }, buildId: { not: null }, status: "deploying" } }),
    );
    const set = await paas(["config:set", "GREETING=during-deploy", "-a", APP]);
    assert.equal(set.code, 0, set.stderr);
    const pushed = await pushing;
    assert.equal(pushed.code, 0, pushed.out);
    const a = await answer(APP);
    assert.deepEqual([a.code, a.greeting], ["three", "during-deploy"]);
    // In order, one at a time: the build's release, then the config change's on top of it.
    const rel = await db.release.findMany({ where: { app: { name: APP }, version: { gt: before } }, orderBy: { version: "asc" } });
    assert.deepEqual(
      rel.map((r) => [r.version, r.status, r.description.startsWith("Set") ? "config" : "build"]),
      [
        [deploying.version, "superseded", "build"],
        [deploying.version + 1, "active", "config"],
      ],
    );
    assert.equal(rel[1].imageRef, rel[0].imageRef, "the config release runs the build's image");
    assert.equal(a.release, `v${deploying.version + 1}`);
    const containers = await db.container.findMany({ where: { releaseId: { in: rel.map((r) => r.id) } }, orderBy: { createdAt: "asc" } });
    assert.equal(containers[0].releaseId, rel[0].id, "the config release started no replica before the build's did");
  });

  test("a failed config change changes nothing: the release keeps serving, the vars stay, the failure is listed", async () => {
    const serving = await answer(APP);
    const vars = await config(APP);
    const r = await paas(["config:set", "CRASH=1", "-a", APP]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /the config change was not applied \(release v\d+ failed\): the new release v\d+ did not start/);
    assert.deepEqual(await answer(APP), serving);
    assert.deepEqual(await config(APP), vars, "CRASH was not saved");
    const [failed] = await releases(APP);
    assert.equal(failed.status, "failed");
    assert.equal(failed.description, "Set CRASH");
    assert.match(failed.error ?? "", /did not start/);
    const human = await paas(["releases", "-a", APP]);
    assert.match(human.stdout, /Set CRASH \(failed: the new release v\d+ did not start/);
    // The audit log has the change as tried and failed, with the reason, in `paas audit`'s OUTCOME column.
    const audit = await db.auditEvent.findFirstOrThrow({ where: { action: "config.set", app: APP }, orderBy: [{ createdAt: "desc" }, { id: "desc" }] });
    assert.match(audit.outcome, /^failed: the config change was not applied \(release v\d+ failed\): the new release v\d+ did not start/);
    const shown = await paas(["audit", "-t", audit.team!, "-n", "5"]);
    assert.equal(shown.code, 0, shown.stderr);
    assert.match(shown.stdout, /config\.set\s+edge\s+failed\s.*the config change was not applied/);
  });

  test("a failed rollback changes nothing: the release keeps serving, the vars stay, the failure is listed", async () => {
    // A release whose code only runs as itself: rolled back to, it runs as a new version and exits.
    const pinned = `v${(await latestVersion(APP)) + 1}`;
    await commitApp(repo, "pinned", { onlyRelease: pinned });
    assert.equal((await push(repo, APP)).code, 0);
    assert.equal((await answer(APP)).release, pinned);
    await commitApp(repo, "after");
    assert.equal((await push(repo, APP)).code, 0);
    assert.equal((await paas(["config:set", "GREETING=kept", "-a", APP])).code, 0);
    const serving = await answer(APP);
    assert.deepEqual([serving.code, serving.greeting], ["after", "kept"]);
    const vars = await config(APP);

    const r = await paas(["rollback", pinned, "-a", APP]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, new RegExp(`rollback to ${pinned} failed \\(release v\\d+\\): the new release v\\d+ did not start`));
    assert.match(r.stderr, /the running release and the config vars are as they were/);
    assert.deepEqual(await answer(APP), serving);
    assert.deepEqual(await config(APP), vars, "the config is not reset to the rollback target's");
    const [failed] = await releases(APP);
    assert.deepEqual([failed.status, failed.description], ["failed", `Rollback to ${pinned}`]);
    assert.match(failed.error ?? "", /did not start: .*exit/);
    const audit = await db.auditEvent.findFirstOrThrow({ where: { action: "releases.rollback", app: APP }, orderBy: [{ createdAt: "desc" }, { id: "desc" }] });
    assert.match(audit.outcome, new RegExp(`^failed: rollback to ${pinned} failed`));
  });

  test("a preview app counts against the team's app quota: the push is refused with the quota, the count and what to do", async () => {
    assert.equal((await paas(["apps:update", "-a", APP, "--previews", "on"])).code, 0);
    const app = await db.app.findUniqueOrThrow({ where: { name: APP } });
    const count = await db.app.count({ where: { teamId: app.teamId } });
    await db.quota.upsert({ where: { teamId: app.teamId }, create: { teamId: app.teamId, apps: count }, update: { apps: count } });
    await run("git", ["checkout", "-qb", "feature-q"], { cwd: repo });
    await commitApp(repo, "preview");
    const refused = await push(repo, APP, "feature-q");
    assert.notEqual(refused.code, 0);
    assert.match(refused.out, /\[remote rejected\]/);
    assert.match(refused.out, new RegExp(`quota of ${count} apps? \\(it has ${count} apps?, preview apps included\\)`));
    assert.match(refused.out, /destroy an app it no longer needs .*or ask the platform's operator to raise the team's quota \(paas quotas:set\)/);
    assert.equal(await db.app.count({ where: { name: `${APP}--feature-q` } }), 0, "no preview app was made");

    await db.quota.update({ where: { teamId: app.teamId }, data: { apps: count + 1 } });
    const ok = await push(repo, APP, "feature-q");
    assert.equal(ok.code, 0, ok.out);
    assert.equal((await answer(`feature-q.${APP}`)).code, "preview");
    // A push to an existing preview creates no app: allowed at the quota.
    await commitApp(repo, "preview-2");
    const again = await push(repo, APP, "feature-q");
    assert.equal(again.code, 0, again.out);
    assert.equal((await answer(`feature-q.${APP}`)).code, "preview-2");

    // feature-q made the deploy branch: its preview app goes (it would serve a copy nobody
    // updates), the CLI says so, and a push of feature-q deploys the app itself.
    const moved = await paas(["apps:update", "-a", APP, "--deploy-branch", "feature-q"]);
    assert.equal(moved.code, 0, moved.stderr);
    assert.match(moved.stdout, new RegExp(`The preview app ${APP}--feature-q \\(http://feature-q\\.${APP}\\.localhost:\\d+/\\) was removed: feature-q deploys ${APP} itself now`));
    assert.equal(await db.app.count({ where: { name: `${APP}--feature-q` } }), 0);
    assert.equal((await viaRouter(p, `feature-q.${APP}`)).status, 404);
    await commitApp(repo, "from-feature-q");
    const deployed = await push(repo, APP, "feature-q");
    assert.equal(deployed.code, 0, deployed.out);
    assert.equal((await answer(APP)).code, "from-feature-q");
    assert.equal(await db.app.count({ where: { previewOfId: app.id } }), 0, "the push deployed the app, not a preview");
    // Back to main, which has no preview app: nothing is removed.
    const back = await paas(["apps:update", "-a", APP, "--deploy-branch", "main"]);
    assert.equal(back.code, 0, back.stderr);
    assert.doesNotMatch(back.stdout, /removed/);

    const del = await push(repo, APP, ":feature-q");
    assert.equal(del.code, 0, del.out);
    assert.equal(await db.app.count({ where: { name: `${APP}--feature-q` } }), 0);
    await run("git", ["checkout", "-q", "main"], { cwd: repo });
  });

  test("Node: devDependencies serve the build and are pruned from the image; a warm push reuses the dependency layer", async () => {
    assert.equal((await paas(["apps:create", "devdeps"])).code, 0);
    const dir = await fixtureRepo("node-devdeps");
    const cold = await push(dir, "devdeps");
    assert.equal(cold.code, 0, cold.out);
    assert.match(cold.out, /Installing dependencies \(npm ci\)/);
    assert.match(cold.out, /built dist\/built\.json/);
    assert.match(cold.out, /Pruning devDependencies/);
    const a = JSON.parse((await viaRouter(p, "devdeps")).body);
    assert.deepEqual(a.built, { checked: true }, "the build script ran with its devDependency");
    assert.equal(a.devDependency, false, "is-number (a devDependency) is not in the running app");
    assert.equal(a.dependency, true, "ms (a dependency) is");

    await commitChange(dir, "server.js", (await fs.readFile(path.join(dir, "server.js"), "utf8")).replace("devdeps v1", "devdeps v2"), "v2");
    const warm = await push(dir, "devdeps");
    assert.equal(warm.code, 0, warm.out);
    assert.match(warm.out, /Reusing dependencies \(lockfile unchanged\)/);
    assert.doesNotMatch(warm.out, /Installing dependencies/);
    const b = JSON.parse((await viaRouter(p, "devdeps")).body);
    assert.deepEqual([b.message, b.devDependency, b.dependency, b.built.checked], ["devdeps v2", false, true, true]);

    // Both images stand on the same cached dependency layer (it still holds the devDependency).
    const agent = new AgentClient(`http://127.0.0.1:${p.env.PAAS_AGENT_PORT}`);
    const deps = (await agent.images()).filter((i) => i.names.some((n) => n.startsWith("cache/devdeps/node-deps:")));
    assert.equal(deps.length, 1);
    const depsTop = deps[0].layers.at(-1)!;
    const builds = await db.build.findMany({ where: { app: { name: "devdeps" } }, orderBy: { createdAt: "asc" } });
    for (const build of builds) assert.ok((await agent.image(build.imageRef!)).layers.includes(depsTop), `${build.imageRef} uses the cached layer`);
  });
});
