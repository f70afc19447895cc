/**
 * Releases, config vars, rollback and the push experience, end to end: a
 * platform started by ./infra/up, real `git push`es, answers through the router.
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
import { ROOT, sh, startPlatform, viaRouter, type Platform } from "../helpers/platform.ts";
import { waitFor } from "../helpers/wait.ts";

const run = promisify(execFile);
let p: Platform;
let db: ReturnType<typeof createDb>;
const SECRET = `s3cr3t-${Math.random().toString(36).slice(2, 10)}`;

const paas = async (args: string[]) => {
  const r = await sh(path.join(ROOT, "apps/cli/bin/paas"), args, { cwd: ROOT, env: { ...p.env, PAAS_URL: p.webUrl, PAAS_TOKEN: p.adminToken } });
  // Said at once, so a command failing where it should not is explained in the test's output.
  if (r.code !== 0) console.log(`paas ${args.join(" ")} exited ${r.code}:\n${r.stderr}${r.stdout}`);
  return r;
};

/** Waits until a build of `app` is running (its push is past the queue). */
const building = (app: string) =>
  waitFor(async () => !!(await db.build.findFirst({ where: { app: { name: app }, status: "building" } })), `a build of ${app} is running`, 60_000);

const gitUrl = (app: string) => `http://git:${p.adminToken}@127.0.0.1:${p.env.PAAS_WEB_PORT}/git/${app}.git`;

async function push(dir: string, app: string, ref = "main", flags: string[] = []) {
  const t0 = Date.now();
  const r = await sh("git", ["push", ...flags, gitUrl(app), ref], {
    cwd: dir,
    env: { ...process.env, GIT_TERMINAL_PROMPT: "0" },
  });
  return { ...r, out: r.stderr + r.stdout, seconds: (Date.now() - t0) / 1000 };
}

/** GET / of `host` (without the domain) through the router. */
const get = (host: string) => viaRouter(p, host);

async function answer(host: string): Promise<{ code: string; greeting: string | null; release: string }> {
  const r = await get(host);
  assert.equal(r.status, 200, `router answered ${r.status} for ${host}: ${r.body.slice(0, 300)}`);
  return JSON.parse(r.body);
}

/** A Node app that answers its code version and the GREETING config var. */
async function appRepo(code: string, buildScript?: string): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), "releases-app-"));
  await writeApp(dir, code, buildScript);
  const git = (...a: string[]) => run("git", a, { cwd: dir });
  await git("init", "-q", "-b", "main");
  await git("config", "user.email", "dev@example.com");
  await git("config", "user.name", "Dev");
  await commit(dir, "first");
  return dir;
}

async function writeApp(dir: string, code: string, buildScript?: string) {
  const scripts: Record<string, string> = { start: "node server.js" };
  if (buildScript) scripts.build = buildScript;
  await fs.writeFile(path.join(dir, "package.json"), JSON.stringify({ name: "cfg", version: "1.0.0", private: true, scripts }, null, 2));
  await fs.writeFile(
    path.join(dir, "server.js"),
    `require("node:http").createServer((req, res) => res.end(JSON.stringify({ code: ${JSON.stringify(code)}, greeting: process.env.GREETING ?? null, release: process.env.PAAS_RELEASE }))).listen(Number(process.env.PORT));\n`,
  );
}

async function commit(dir: string, message: string) {
  await run("git", ["add", "-A"], { cwd: dir });
  await run("git", ["commit", "-qm", message], { cwd: dir });
}

const buildCount = async (app: string) => db.build.count({ where: { app: { name: app } } });

describe("releases, config vars, rollback and the push", { timeout: 20 * 60_000 }, () => {
  let repo: string;
  before(async () => {
    // 3610, not 3600: startPlatform derives the subnet from base % 50, and 3600 would share push.test's (3400).
    p = await startPlatform("releases", 3610);
    db = createDb(`file:${path.join(p.dataDir, "paas.db")}`);
    repo = await appRepo("one");
    assert.equal((await paas(["apps:create", "cfg"])).code, 0);
  });
  after(async () => {
    await db?.$disconnect();
    await p?.stop();
  });

  test("the first push makes v1", async () => {
    const r = await push(repo, "cfg");
    assert.equal(r.code, 0, r.out);
    const a = await answer("cfg");
    assert.deepEqual([a.code, a.greeting, a.release], ["one", null, "v1"]);
  });

  test("config:set makes a release that answers with the value, without a build", async () => {
    const builds = await buildCount("cfg");
    const t0 = Date.now();
    const r = await paas(["config:set", `GREETING=${SECRET}`, "OTHER=x=y", "-a", "cfg"]);
    const seconds = (Date.now() - t0) / 1000;
    assert.equal(r.code, 0, r.stderr + r.stdout);
    assert.match(r.stderr, /v2/);
    console.log(`config:set to answering: ${seconds.toFixed(2)}s`);
    const a = await answer("cfg");
    assert.deepEqual([a.code, a.greeting, a.release], ["one", SECRET, "v2"]);
    assert.equal(await buildCount("cfg"), builds, "no new build");
    const rel = JSON.parse((await paas(["releases", "-a", "cfg", "--json"])).stdout);
    assert.equal(rel[0].version, 2);
    assert.equal(rel[0].description, "Set GREETING, OTHER");
    assert.equal(rel[0].status, "active");
    const info = JSON.parse((await paas(["releases:info", "v2", "-a", "cfg", "--json"])).stdout);
    assert.deepEqual(info.configKeys, ["GREETING", "OTHER"]);
    assert.ok(!JSON.stringify(info).includes(SECRET), "releases:info names keys, not values");
  });

  test("config prints the values; bad keys change nothing", async () => {
    const c = await paas(["config", "-a", "cfg", "--json"]);
    assert.equal(c.code, 0, c.stderr);
    assert.deepEqual(JSON.parse(c.stdout), { GREETING: SECRET, OTHER: "x=y" });
    const human = await paas(["config", "-a", "cfg"]);
    assert.match(human.stdout, new RegExp(`GREETING:\\s+${SECRET}`));

    const bad = await paas(["config:set", "GOOD=1", "bad-key=2", "-a", "cfg"]);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /"bad-key" is not a valid name/);
    const reserved = await paas(["config:set", "PORT=1", "-a", "cfg"]);
    assert.notEqual(reserved.code, 0);
    assert.match(reserved.stderr, /set by the platform/);
    assert.deepEqual(JSON.parse((await paas(["config", "-a", "cfg", "--json"])).stdout), { GREETING: SECRET, OTHER: "x=y" });
    assert.equal(JSON.parse((await paas(["releases", "-a", "cfg", "--json"])).stdout)[0].version, 2, "no release from bad input");
  });

  test("config:unset (through the API directly) makes a release without the var", async () => {
    // Timed without the CLI's own start-up: the API answers once the new release serves.
    const t0 = Date.now();
    const res = await fetch(`${p.webUrl}/api/trpc/config.unset`, {
      method: "POST",
      headers: { authorization: `Bearer ${p.adminToken}`, "content-type": "application/json" },
      body: JSON.stringify({ json: { app: "cfg", keys: ["OTHER"] } }),
    });
    assert.equal(res.status, 200, await res.clone().text());
    assert.equal((await answer("cfg")).release, "v3");
    console.log(`config:unset API call to answering: ${((Date.now() - t0) / 1000).toFixed(2)}s`);
    assert.deepEqual(JSON.parse((await paas(["config", "-a", "cfg", "--json"])).stdout), { GREETING: SECRET });
  });

  test("a push after config:set keeps the config; the value appears in no log", async () => {
    await writeApp(repo, "two");
    await commit(repo, "two");
    const r = await push(repo, "cfg");
    assert.equal(r.code, 0, r.out);
    const a = await answer("cfg");
    assert.deepEqual([a.code, a.greeting, a.release], ["two", SECRET, "v4"]);
    assert.ok(!r.out.includes(SECRET), "not in the push output");
    const logs = await paas(["builds:logs", "-a", "cfg"]);
    assert.equal(logs.code, 0);
    assert.ok(!logs.stdout.includes(SECRET), "not in the build log");
    const logDir = path.join(p.dataDir, "logs");
    for (const f of await fs.readdir(logDir)) {
      const text = await fs.readFile(path.join(logDir, f), "utf8");
      assert.ok(!text.includes(SECRET), `the value leaked into ${f}`);
    }
  });

  test("rollback v1 answers with the old image and the old config, as a new release", async () => {
    const builds = await buildCount("cfg");
    const r = await paas(["rollback", "v1", "-a", "cfg"]);
    assert.equal(r.code, 0, r.stderr);
    const a = await answer("cfg");
    assert.deepEqual([a.code, a.greeting, a.release], ["one", null, "v5"]);
    const rel = JSON.parse((await paas(["releases", "-a", "cfg", "--json"])).stdout);
    assert.equal(rel[0].description, "Rollback to v1");
    assert.deepEqual(JSON.parse((await paas(["config", "-a", "cfg", "--json"])).stdout), {});
    assert.equal(await buildCount("cfg"), builds);
    const missing = await paas(["rollback", "v99", "-a", "cfg"]);
    assert.notEqual(missing.code, 0);
    assert.match(missing.stderr, /v99 of cfg not found/);
  });

  test("a second push while a build runs waits for it; both finish in order", async () => {
    // The first build sleeps so the second push arrives while it runs.
    await writeApp(repo, "three", "sleep 4");
    await commit(repo, "three");
    const first = push(repo, "cfg");
    await building("cfg");
    const clone = await fs.mkdtemp(path.join(os.tmpdir(), "releases-clone-"));
    await fs.cp(repo, clone, { recursive: true });
    await writeApp(clone, "four");
    await commit(clone, "four");
    const second = await push(clone, "cfg", "main", ["--force"]);
    const r1 = await first;
    assert.equal(r1.code, 0, r1.out);
    assert.match(second.out, /Waiting: build \w+ of this app is running/);
    const builds = await db.build.findMany({ where: { app: { name: "cfg" } }, orderBy: { createdAt: "desc" }, take: 2 });
    assert.deepEqual(builds.map((b) => b.status), ["succeeded", "succeeded"]);
    assert.ok(builds[0].startedAt! >= builds[1].finishedAt!, "the second build started after the first ended");
    // The second commit is the one serving (git may report its ref as moved meanwhile).
    assert.equal((await answer("cfg")).code, "four");
  });

  test("a team with concurrentBuilds=1 queues the second app's build", async () => {
    assert.equal((await paas(["apps:create", "cfg-b"])).code, 0);
    const team = await db.app.findUniqueOrThrow({ where: { name: "cfg" } });
    await db.quota.upsert({ where: { teamId: team.teamId }, create: { teamId: team.teamId, concurrentBuilds: 1 }, update: { concurrentBuilds: 1 } });
    try {
      const a = await appRepo("a", "sleep 4");
      const b = await appRepo("b");
      const first = push(a, "cfg", "main", ["--force"]);
      await building("cfg");
      const second = await push(b, "cfg-b");
      const r1 = await first;
      assert.equal(r1.code, 0, r1.out);
      assert.equal(second.code, 0, second.out);
      assert.match(second.out, /Queued: 1 build ahead of yours/);
      assert.equal((await answer("cfg-b")).code, "b");
    } finally {
      await db.quota.update({ where: { teamId: team.teamId }, data: { concurrentBuilds: 2 } });
    }
  });

  test("a build over its time limit is stopped and the push rejected with the reason", async () => {
    assert.equal((await paas(["apps:update", "-a", "cfg-b", "--build-timeout", "3"])).code, 0);
    const dir = await appRepo("slow", "sleep 60");
    const t0 = Date.now();
    const r = await push(dir, "cfg-b", "main", ["--force"]);
    assert.notEqual(r.code, 0, r.out);
    assert.match(r.out, /\[remote rejected\]/);
    assert.match(r.out, /took longer than 3 seconds and was stopped/);
    assert.ok(Date.now() - t0 < 40_000, "stopped at its limit, not at the end of the script");
    assert.equal((await answer("cfg-b")).code, "b");
    // Following a failed build ends at once, non-zero.
    const f = await paas(["builds:logs", "-f", "-a", "cfg-b"]);
    assert.equal(f.code, 1, f.stderr);
    assert.match(f.stdout, /took longer than/);
  });

  test("with build mode supersede, a newer push cancels the running build and its push is rejected", async () => {
    assert.equal((await paas(["apps:update", "-a", "cfg-b", "--build-mode", "supersede", "--build-timeout", "default"])).code, 0);
    const older = await appRepo("older", "sleep 30");
    const first = push(older, "cfg-b", "main", ["--force"]);
    await building("cfg-b");
    const newer = await appRepo("newer");
    const t0 = Date.now();
    const second = await push(newer, "cfg-b", "main", ["--force"]);
    const r1 = await first;
    assert.notEqual(r1.code, 0, r1.out);
    assert.match(r1.out, /Superseded by [0-9a-f]{7}/);
    assert.match(r1.out, /\[remote rejected\]/);
    assert.equal(second.code, 0, second.out);
    assert.ok(Date.now() - t0 < 25_000, "the newer push did not wait for the older build's 30 s");
    assert.equal((await answer("cfg-b")).code, "newer");
  });

  test("the build log streams live: SSE for the dashboard, builds:logs -f for the CLI", async () => {
    await writeApp(repo, "live", "echo step-one && sleep 3 && echo step-two");
    await commit(repo, "live");
    const pushing = push(repo, "cfg", "main", ["--force"]);
    let buildId = "";
    await waitFor(async () => {
      const b = await db.build.findFirst({ where: { app: { name: "cfg" }, status: { in: ["pending", "building"] } } });
      buildId = b?.id ?? "";
      return !!buildId;
    }, "the push created a build", 30_000);
    const follow = paas(["builds:logs", buildId, "-f", "-a", "cfg"]);
    const res = await fetch(`${p.webUrl}/api/builds/${buildId}/events`, { headers: { authorization: `Bearer ${p.adminToken}` } });
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type") ?? "", /text\/event-stream/);
    // Events arrive while the build runs: step-one comes before the build ends.
    const reader = res.body!.getReader();
    const dec = new TextDecoder();
    let text = "";
    let sawStepOneAt = 0;
    let endedAt = 0;
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      text += dec.decode(value);
      if (!sawStepOneAt && text.includes("step-one")) sawStepOneAt = Date.now();
      if (/"status":"succeeded"/.test(text)) endedAt = Date.now();
    }
    assert.ok(sawStepOneAt && endedAt && endedAt - sawStepOneAt >= 2000, "step-one streamed live, seconds before the end");
    assert.match(text, /^id: \d+-\d+\ndata: \{"id":/m);
    const f = await follow;
    assert.equal(f.code, 0, f.stderr);
    assert.match(f.stdout, /step-one[\s\S]*step-two/);
    assert.equal((await pushing).code, 0);
  });

  test("a branch other than the deploy branch is refused with the command, unless previews are on", async () => {
    await run("git", ["checkout", "-qb", "feature-x"], { cwd: repo });
    await writeApp(repo, "preview");
    await commit(repo, "preview");
    const refused = await push(repo, "cfg", "feature-x");
    assert.notEqual(refused.code, 0);
    assert.match(refused.out, /git push paas feature-x:main/);

    assert.equal((await paas(["apps:update", "-a", "cfg", "--previews", "on"])).code, 0);
    const r = await push(repo, "cfg", "feature-x");
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /Preview: http:\/\/feature-x\.cfg\.localhost:3690\//);
    assert.equal((await answer("feature-x.cfg")).code, "preview");
    // And at the preview app's own one-label name, which a wildcard certificate covers.
    assert.equal((await answer("cfg--feature-x")).code, "preview");
    assert.equal((await answer("cfg")).code, "live", "the app itself is untouched");

    const del = await push(repo, "cfg", ":feature-x");
    assert.equal(del.code, 0, del.out);
    assert.match(del.out, /removed/);
    assert.equal((await get("feature-x.cfg")).status, 404);
    assert.equal(await db.app.count({ where: { name: "cfg--feature-x" } }), 0);
  });

  test("-o color colours the remote lines; plain by default", async () => {
    await run("git", ["checkout", "-q", "main"], { cwd: repo });
    await writeApp(repo, "five");
    await commit(repo, "five");
    const r = await push(repo, "cfg", "main", ["--force", "-o", "color"]);
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /remote: \x1b\[1m-----> /);
    await writeApp(repo, "six");
    await commit(repo, "six");
    const plain = await push(repo, "cfg");
    assert.equal(plain.code, 0, plain.out);
    assert.ok(!plain.out.includes("\x1b["), "no colour without -o color");
  });

  test("deploys keep the last 5 images of an app and remove older ones through the agent", async () => {
    const agent = new AgentClient(`http://127.0.0.1:${p.env.PAAS_AGENT_PORT}`);
    const releases = await db.release.findMany({ where: { app: { name: "cfg" } }, orderBy: { version: "desc" } });
    const recent = [...new Set(releases.map((r) => r.imageRef))].slice(0, 5);
    const oldest = releases[releases.length - 1].imageRef;
    assert.ok(!recent.includes(oldest), "the test pushed more than 5 images");
    let stored: string[] = [];
    // Collection runs after the old replicas retire, once the push has answered.
    await waitFor(async () => {
      stored = (await agent.images()).flatMap((img) => img.names).filter((n) => n.startsWith("app/cfg:"));
      return stored.length <= 5;
    }, "old images collected", 60_000);
    assert.deepEqual(stored.sort(), [...recent].sort());
    const r = await paas(["rollback", `v${releases[releases.length - 1].version}`, "-a", "cfg"]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /garbage-collected/);
  });
});
