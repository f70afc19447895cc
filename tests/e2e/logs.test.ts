/**
 * The app log stream, end to end (a platform started by ./infra/up, real pushes, the agent's
 * collector shipping the replicas' captured output into Redis): `paas logs` shows the app's
 * lines with replica, type and stream and the platform's events beside them; `-t` follows new
 * lines; the filters filter; lines written while the collector restarts arrive once each.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { Redis } from "ioredis";
import { appLogKey, type AppLogEntry } from "@paas/shared/app-log";
import { AgentClient } from "@paas/shared";
import { ROOT, fixtureRepo, pushApp, sh, startPlatform, viaRouter, type Platform } from "../helpers/platform.ts";
import { waitFor } from "../helpers/wait.ts";

const APP = "logged";
let p: Platform;
let repo: string;
let redis: Redis;

const cli = path.join(ROOT, "apps/cli/bin/paas");
const cliEnv = () => ({ ...p.env, PAAS_URL: p.webUrl, PAAS_TOKEN: p.adminToken });
const paas = (args: string[]) => sh(cli, args, { cwd: ROOT, env: cliEnv() });

async function logs(args: string[]): Promise<AppLogEntry[]> {
  const r = await paas(["logs", "-a", APP, "--json", ...args]);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l) as AppLogEntry);
}

async function say(text: string, err = false) {
  const r = await viaRouter(p, APP, `/say?text=${encodeURIComponent(text)}${err ? "&err=1" : ""}`);
  assert.equal(r.status, 200, r.body);
}

/** The flood's sequence numbers found in the app's stream: how many, how many distinct, the highest. */
async function countFlood(id: string): Promise<{ lines: number; distinct: number; max: number }> {
  const seen = new Set<number>();
  let lines = 0;
  let max = 0;
  let from = "-";
  for (;;) {
    const chunk = (await redis.xrange(appLogKey(APP), from, "+", "COUNT", 10_000)) as [string, string[]][];
    for (const [, f] of chunk) {
      const line = f[f.indexOf("line") + 1];
      const m = /^flood (\S+) (\d+)$/.exec(line);
      if (!m || m[1] !== id) continue;
      const n = Number(m[2]);
      lines++;
      seen.add(n);
      if (n > max) max = n;
    }
    if (chunk.length < 10_000) break;
    from = `(${chunk[chunk.length - 1][0]}`;
  }
  return { lines, distinct: seen.size, max };
}

describe("app logs", { timeout: 15 * 60_000 }, () => {
  before(async () => {
    p = await startPlatform("logsxa", 5000);
    redis = new Redis(`redis://127.0.0.1:${p.env.PAAS_REDIS_PORT}`);
    repo = await fixtureRepo("node-logs");
    assert.equal((await paas(["apps:create", APP])).code, 0);
    const push = await pushApp(p, APP, repo);
    assert.equal(push.code, 0, push.stderr + push.stdout);
  });
  after(async () => {
    redis?.disconnect();
    await p?.stop();
  });

  test("paas logs shows each replica's lines with type, replica and stream, and the deploy's events", async () => {
    await say("hello from the test");
    await say("oops on stderr", true);
    await waitFor(async () => (await logs(["-n", "200"])).some((e) => e.line === "oops on stderr"), "the stderr line in paas logs", 20_000, 300);
    const all = await logs(["-n", "200"]);
    const out = all.find((e) => e.line === "hello from the test")!;
    assert.deepEqual([out.src, out.type, out.replica, out.stream], ["app", "web", "1", "stdout"]);
    const err = all.find((e) => e.line === "oops on stderr")!;
    assert.equal(err.stream, "stderr");
    assert.ok(all.some((e) => e.src === "app" && e.type === "web" && e.line === "web listening as web.1"), "the web replica's first line");
    assert.ok(all.some((e) => e.src === "app" && e.type === "worker" && e.replica === "1" && /^tick \d+$/.test(e.line)), "the worker's lines");
    assert.ok(all.some((e) => e.src === "platform" && e.type === "deploy" && e.line.startsWith("Deploying v1")), "the deploy's start");
    assert.ok(all.some((e) => e.src === "platform" && e.type === "deploy" && /^Deployed v1: .*web\.1/.test(e.line)), "the deploy's end");
    // in time order, as the stream has them
    const ids = all.map((e) => e.id);
    assert.deepEqual(ids, [...ids].sort((a, b) => (BigInt(a.split("-")[0]) === BigInt(b.split("-")[0]) ? Number(a.split("-")[1]) - Number(b.split("-")[1]) : Number(BigInt(a.split("-")[0]) - BigInt(b.split("-")[0])))));

    // Heroku's line format without --json
    const text = await paas(["logs", "-a", APP, "--grep", "hello from the test"]);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z app\[web\.1\]: hello from the test$/m);
  });

  test("filters: --type, --grep, -n, --since, --source", async () => {
    const workers = await logs(["--type", "worker", "-n", "20"]);
    assert.ok(workers.length > 0 && workers.every((e) => e.type === "worker"), JSON.stringify(workers.slice(0, 3)));
    const grep = await logs(["--grep", "hello from the"]);
    assert.deepEqual(grep.map((e) => e.line), ["hello from the test"]);
    const three = await logs(["-n", "3"]);
    assert.equal(three.length, 3);
    await new Promise((r) => setTimeout(r, 8000));
    await say("fresh line");
    await waitFor(async () => (await logs(["--grep", "fresh line"])).length === 1, "the fresh line", 20_000, 300);
    const since = await logs(["--since", "6s", "--source", "app", "--type", "web"]);
    assert.ok(since.some((e) => e.line === "fresh line"), "the fresh line is within --since 6s");
    assert.ok(!since.some((e) => e.line === "hello from the test"), "an older line is not");
    const platform = await logs(["--source", "platform"]);
    assert.ok(platform.length > 0 && platform.every((e) => e.src === "platform"));
    const bad = await paas(["logs", "-a", APP, "--since", "yesterday"]);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /--since yesterday: say a duration like 30s, 10m, 2h or 1d/);
    assert.equal(bad.stderr.trim().split("\n").length, 1);
  });

  test("paas logs -t follows new lines of every replica as they come", async () => {
    const child = spawn(cli, ["logs", "-t", "-a", APP, "-n", "1"], { cwd: ROOT, env: cliEnv() });
    let out = "";
    child.stdout.on("data", (c) => (out += c));
    try {
      await waitFor(() => out.length > 0, "the first line of paas logs -t", 20_000);
      await say("live line one");
      await waitFor(() => /app\[web\.1\]: live line one$/m.test(out), "the live line in paas logs -t", 20_000);
      await waitFor(() => /app\[worker\.1\]: tick \d+$/m.test(out.slice(out.indexOf("live line one"))), "a worker line after it", 20_000);
      await say("live line two");
      await waitFor(() => /app\[web\.1\]: live line two$/m.test(out), "the second live line", 20_000);
      assert.equal(out.match(/live line one/g)?.length, 1, "no line twice");
    } finally {
      child.kill();
    }
  });

  test("platform events: scaling and a crash with its exit code appear as the platform's", async () => {
    const scale = await paas(["ps:scale", "web=2", "-a", APP]);
    assert.equal(scale.code, 0, scale.stderr);
    await waitFor(async () => (await logs(["--source", "platform"])).some((e) => e.type === "scale" && e.line === "Scaling web=2: done (v1)"), "the scaling event", 30_000, 300);
    assert.ok((await logs(["--source", "platform"])).some((e) => e.line === "Scaling web=2: starting"));
    await waitFor(async () => (await logs(["--type", "web"])).some((e) => e.replica === "2" && e.line === "web listening as web.2"), "web.2's first line", 30_000, 300);

    // a crash: the replica exits with 3, the reconcile loop records it and the log says so
    await viaRouter(p, APP, "/crash").catch(() => undefined);
    await waitFor(async () => (await logs(["--source", "platform", "--grep", "exited with code 3"])).length > 0, "the crash event", 60_000, 500);
    const crash = (await logs(["--source", "platform", "--grep", "exited with code 3"]))[0];
    assert.equal(crash.type, "web");
    assert.match(crash.replica, /^[12]$/);
    const text = await paas(["logs", "-a", APP, "--source", "platform", "--grep", "exited with code 3"]);
    assert.match(text.stdout, /paas\[web\.[12]\]: Process exited with code 3/);
  });

  test("lines written while the collector (the agent) restarts arrive once each, none lost", async () => {
    const id = `r${Date.now()}`;
    const rate = 2000;
    const secs = 8;
    await viaRouter(p, APP, `/flood?id=${id}&rate=${rate}&secs=${secs}`);
    await new Promise((r) => setTimeout(r, 2000));
    // the supervisor starts it again; the replicas keep running (their monitors hold them)
    const pid = Number(fs.readFileSync(path.join(p.dataDir, "run/agent.pid"), "utf8"));
    process.kill(pid, "SIGKILL");
    await waitFor(async () => (await countFlood(id)).distinct === rate * secs, `all ${rate * secs} lines of the flood in the store`, 60_000, 500);
    const c = await countFlood(id);
    assert.deepEqual(c, { lines: rate * secs, distinct: rate * secs, max: rate * secs });
  });

  test("the logging sidecar ships the files the app writes under /var/log/app as its replicas' lines; attaching it restarts nothing", async () => {
    const agent = new AgentClient(`http://127.0.0.1:${p.env.PAAS_AGENT_PORT}`, p.env.PAAS_AGENT_TOKEN);
    // The app containers' host pid and start time: the same before and after.
    const identity = async () => {
      const webs = (await agent.containers()).filter((c) => c.labels["paas.app"] === APP && c.labels["paas.process"] && c.state === "running");
      return (await Promise.all(webs.map(async (c) => ((i) => `${c.id} ${i.pid} ${i.startedAt}`)(await agent.container(c.id))))).sort();
    };
    const before = await identity();
    // There before the sidecar: read from its end, so this line is not shipped.
    assert.equal((await viaRouter(p, APP, "/write?file=app.log&text=before-the-sidecar")).body, "written");
    const attach = await paas(["sidecars:attach", "logging", "-a", APP]);
    assert.equal(attach.code, 0, attach.stderr);
    const t0 = Date.now();
    const shipped = async (text: string) => (await logs(["--grep", text])).filter((e) => e.stream.startsWith("file:"));
    let n = 0;
    // Its tails start a moment after it does: write until a line arrives.
    await waitFor(
      async () => {
        await viaRouter(p, APP, `/write?file=app.log&text=after-the-sidecar-${++n}`);
        return (await shipped("after-the-sidecar")).length > 0;
      },
      "a line of app.log in the app's log",
      60_000,
      1000,
    );
    console.log(`logging sidecar: attached and its first line shipped in ${Date.now() - t0} ms`);
    const [line] = await shipped("after-the-sidecar");
    assert.equal(line!.stream, "file:/var/log/app/app.log");
    assert.equal(line!.src, "app");
    assert.equal(line!.type, "web");
    assert.match(line!.replica, /^[12]$/);
    // A file that appears later is read from its first line.
    await viaRouter(p, APP, "/write?file=jobs.log&text=a-new-file-line");
    await waitFor(async () => (await shipped("a-new-file-line")).some((e) => e.stream === "file:/var/log/app/jobs.log"), "jobs.log's first line", 30_000, 500);
    assert.deepEqual(await shipped("before-the-sidecar"), []);
    const text = await paas(["logs", "-a", APP, "--grep", "a-new-file-line"]);
    assert.match(text.stdout, /app\[web\.[12] \/var\/log\/app\/jobs\.log\]: a-new-file-line/);
    assert.deepEqual(await identity(), before, "the app's containers were not restarted");
    const detach = await paas(["sidecars:detach", "logging", "-a", APP]);
    assert.equal(detach.code, 0, detach.stderr);
    assert.deepEqual(await identity(), before);
  });
});
