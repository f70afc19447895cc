/**
 * End to end, on the real parts: a platform started by ./infra/up, an app
 * created with the CLI, real `git push`es, answers through the router from a
 * container of our runtime.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { AgentClient } from "@paas/shared";
import { ROOT, addTeamWithToken, commitChange, fixtureRepo, sh, startPlatform, stopService, viaRouter, type Platform } from "../helpers/platform.ts";
import { waitFor } from "../helpers/wait.ts";

/** A small push limit, so a test can go over it. */
const MAX_PUSH_BYTES = 2 * 2 ** 20;

let p: Platform;
let repo: string;

const paas = async (args: string[], token = p.adminToken) => {
  const r = await sh(path.join(ROOT, "apps/cli/bin/paas"), args, { cwd: ROOT, env: { ...p.env, PAAS_URL: p.webUrl, PAAS_TOKEN: token } });
  // Said at once, so a command failing where it should not is explained in the test's output.
  if (r.code !== 0) console.log(`paas ${args.join(" ")} exited ${r.code}:\n${r.stderr}${r.stdout}`);
  return r;
};

const builds = async () => {
  const r = await paas(["builds", "-a", "hello", "--json"]);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as { id: string; status: string; commit: string }[];
};

const gitUrl = (token: string, app = "hello") =>
  `http://git:${token}@127.0.0.1:${p.env.PAAS_WEB_PORT}/git/${app}.git`;

const push = async (token = p.adminToken, ref = "main") => {
  const t0 = Date.now();
  const r = await sh("git", ["push", gitUrl(token), ref], { cwd: repo, env: { ...process.env, GIT_TERMINAL_PROMPT: "0" } });
  return { ...r, seconds: (Date.now() - t0) / 1000 };
};

const answer = async () => {
  const r = await viaRouter(p, "hello");
  assert.equal(r.status, 200, `router answered ${r.status}: ${r.body.slice(0, 300)}`);
  return JSON.parse(r.body) as { message: string; pid: number; hostname: string; release: string; uid: number; processes: number };
};

describe("git push to a live app", { timeout: 15 * 60_000 }, () => {
  before(async () => {
    p = await startPlatform("e2e", 3400, { PAAS_MAX_PUSH_BYTES: String(MAX_PUSH_BYTES) });
    repo = await fixtureRepo("node-hello");
  });
  after(async () => {
    await p?.stop();
  });

  test("the CLI creates an app", async () => {
    const r = await paas(["apps:create", "hello"]);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    const list = await paas(["apps", "--json"]);
    assert.equal(list.code, 0, list.stderr);
    assert.ok(JSON.stringify(JSON.parse(list.stdout)).includes('"hello"'));
  });

  test("an unknown host gets the router's 404 page", async () => {
    const r = await viaRouter(p, "nope");
    assert.equal(r.status, 404);
    assert.match(r.body, /No such app/);
  });

  test("the first push builds, deploys, and the app answers from its own container", async () => {
    const r = await push();
    const out = r.stderr + r.stdout;
    assert.equal(r.code, 0, out);
    assert.match(out, /remote: -----> /);
    assert.match(out, /remote: .*http:\/\/hello\.localhost:3480\//);
    console.log(`first push: ${r.seconds.toFixed(1)}s`);
    const a = await answer();
    assert.equal(a.message, "hello from v1");
    assert.equal(a.release, "v1");
    // npm start -> sh -> node: a few pids in, never a host pid (thousands here).
    assert.ok(a.pid < 50, `the app should see itself as a low pid in its own pid namespace, saw ${a.pid}`);
    assert.ok(a.processes < 10, `the app should see only its own processes, saw ${a.processes}`);
    assert.notEqual(a.uid, 0, "the app does not run as root");
    assert.equal(a.hostname, "hello-web-1");
  });

  test("the app runs under a memory limit in its team's cgroup, with its output captured", async () => {
    const agent = new AgentClient(`http://127.0.0.1:${p.env.PAAS_AGENT_PORT}`);
    const [c] = (await agent.containers()).filter((c) => c.labels["paas.app"] === "hello" && c.state === "running");
    assert.ok(c, "a running container of hello");
    const cgroup = `/sys/fs/cgroup/memory/${p.env.PAAS_CGROUP_ROOT}/main/hello/${c.id}`;
    assert.equal(Number(await fs.readFile(`${cgroup}/memory.limit_in_bytes`, "utf8")), 256 * 2 ** 20);
    const procs = (await fs.readFile(`${cgroup}/cgroup.procs`, "utf8")).trim().split("\n");
    assert.ok(procs.includes(String(c.pid)), "the container's init is in its cgroup");
    const lines: string[] = [];
    for await (const l of agent.logs(c.id)) lines.push(l.line);
    assert.ok(lines.includes("listening on 5000"), `stdout captured: ${lines.join(" | ")}`);
  });

  test("a push with a broken package.json is rejected and v1 keeps answering", async () => {
    await commitChange(repo, "package.json", '{ "scripts": { "start": ', "break package.json");
    const r = await push();
    const out = r.stderr + r.stdout;
    assert.notEqual(r.code, 0, out);
    assert.match(out, /\[remote rejected\]/);
    assert.match(out, /package\.json is not valid JSON/);
    assert.equal((await answer()).message, "hello from v1");
    await sh("git", ["reset", "-q", "--hard", "HEAD~1"], { cwd: repo });
  });

  test("a push whose build script fails is rejected with the failing lines", async () => {
    const pkg = JSON.parse(await fs.readFile(path.join(repo, "package.json"), "utf8"));
    pkg.scripts.build = "echo compiling && echo 'error TS2322: boom' >&2 && exit 3";
    await commitChange(repo, "package.json", JSON.stringify(pkg, null, 2), "failing build");
    const r = await push();
    const out = r.stderr + r.stdout;
    assert.notEqual(r.code, 0, out);
    assert.match(out, /\[remote rejected\]/);
    assert.match(out, /remote: .*error TS2322: boom/);
    assert.equal((await answer()).message, "hello from v1");
    await sh("git", ["reset", "-q", "--hard", "HEAD~1"], { cwd: repo });
  });

  test("a second push replaces v1 with v2", async () => {
    const server = await fs.readFile(path.join(repo, "server.js"), "utf8");
    await commitChange(repo, "server.js", server.replace("hello from v1", "hello from v2"), "v2");
    const r = await push();
    assert.equal(r.code, 0, r.stderr + r.stdout);
    console.log(`second push: ${r.seconds.toFixed(1)}s`);
    const a = await answer();
    assert.equal(a.message, "hello from v2");
    assert.equal(a.release, "v2");
    const releases = await paas(["releases", "-a", "hello", "--json"]);
    assert.equal(releases.code, 0, releases.stderr);
    assert.match(releases.stdout, /"version":\s*2/);
  });

  test("a finished build's source tarball is removed from the web app's data dir", async () => {
    // Four builds so far (two deployed, two rejected): the worker drops each source once the
    // build is final, just after the pusher has its answer.
    const sources = path.join(p.dataDir, "sources");
    const left = async () => (await fs.readdir(sources)).filter((f) => f.endsWith(".tar")); // throws (and so waits) while the dir is absent
    await waitFor(async () => (await left()).length === 0, `no source tarball left in ${sources}`, 10_000);
  });

  test("a build queued while no worker runs is built once a worker is back", async () => {
    await stopService(p, "worker");
    const server = await fs.readFile(path.join(repo, "server.js"), "utf8");
    await commitChange(repo, "server.js", server.replace("hello from v2", "hello from v3"), "v3");
    const head = (await sh("git", ["rev-parse", "HEAD"], { cwd: repo })).stdout.trim();
    const pushing = push();
    // The build is queued (its row pending) with no worker to take it: nothing is deployed meanwhile.
    await waitFor(async () => (await builds()).some((b) => b.commit === head && b.status === "pending"), "the v3 build is queued", 60_000);
    assert.equal((await answer()).message, "hello from v2", "nothing deployed without a worker");
    // Its source is served as stored, not gzipped on the fly for a client that would take it
    // (a 150 MB push took minutes, and the worker held the undecoded rest in memory).
    const pending = (await builds()).find((b) => b.commit === head)!;
    const workerToken = (await fs.readFile(path.join(p.dataDir, "worker-token"), "utf8")).trim();
    const source = await fetch(`${p.webUrl}/internal/builds/${pending.id}/source`, {
      headers: { "x-paas-worker-token": workerToken, "accept-encoding": "gzip, deflate, br" },
    });
    assert.equal(source.status, 200);
    assert.equal(source.headers.get("content-encoding"), null);
    const stored = (await fs.stat(path.join(p.dataDir, "sources", `${pending.id}.tar`))).size;
    assert.equal((await source.arrayBuffer()).byteLength, stored);
    const up = await sh(path.join(ROOT, "infra/up"), ["--detach"], { cwd: ROOT, env: p.env });
    assert.equal(up.code, 0, up.stderr);
    const r = await pushing;
    assert.equal(r.code, 0, r.stderr + r.stdout);
    assert.equal((await answer()).message, "hello from v3");
  });

  describe("auth", () => {
    let otherToken = "";
    before(async () => {
      otherToken = await addTeamWithToken(p.dataDir);
    });

    const refsOf = async () => (await sh("git", ["ls-remote", gitUrl(p.adminToken)], { env: { ...process.env, GIT_TERMINAL_PROMPT: "0" } })).stdout;

    test("the git endpoint refuses no token, a wrong token and another team's token, and nothing changes", async () => {
      const before = await refsOf();
      assert.match(before, /refs\/heads\/main/);
      await commitChange(repo, "server.js", "// intruder\n", "intruder");
      const anon = await sh("git", ["push", `http://127.0.0.1:${p.env.PAAS_WEB_PORT}/git/hello.git`, "main"], {
        cwd: repo,
        env: { ...process.env, GIT_TERMINAL_PROMPT: "0" },
      });
      assert.notEqual(anon.code, 0);
      for (const token of ["paas_wrong", otherToken]) {
        const r = await push(token);
        assert.notEqual(r.code, 0, r.stderr);
        const read = await sh("git", ["ls-remote", gitUrl(token)], { env: { ...process.env, GIT_TERMINAL_PROMPT: "0" } });
        assert.notEqual(read.code, 0, "reading another team's repo must fail too");
        // Another team's app reads as no app at all, and the pusher is told what to check.
        if (token === otherToken) assert.match(r.stderr, /no app named "hello" in your teams: check the remote's URL/);
      }
      assert.equal(await refsOf(), before);
      assert.equal((await answer()).message, "hello from v3");
      await sh("git", ["reset", "-q", "--hard", "HEAD~1"], { cwd: repo });
    });

    test("the API refuses no token and a wrong token, and hides other teams' apps", async () => {
      const anon = await fetch(`${p.webUrl}/api/trpc/apps.list`);
      assert.equal(anon.status, 401);
      const wrong = await fetch(`${p.webUrl}/api/trpc/apps.list`, { headers: { authorization: "Bearer paas_wrong" } });
      assert.equal(wrong.status, 401);
      const info = await paas(["apps:info", "-a", "hello"], otherToken);
      assert.notEqual(info.code, 0);
      assert.match(info.stderr + info.stdout, /not found/i);
      const list = await paas(["apps", "--json"], otherToken);
      assert.equal(list.code, 0, list.stderr);
      assert.doesNotMatch(list.stdout, /hello/);
      const create = await paas(["apps:create", "hello"], otherToken);
      assert.notEqual(create.code, 0, "a taken name cannot be created again");
    });
  });

  test("a push over PAAS_MAX_PUSH_BYTES is refused with the limit, and nothing changes", async () => {
    const before = await builds();
    await fs.writeFile(path.join(repo, "big.bin"), randomBytes(MAX_PUSH_BYTES + 2 ** 20));
    await commitChange(repo, "server.js", (await fs.readFile(path.join(repo, "server.js"), "utf8")).replace("hello from v3", "hello from big"), "too big");
    const r = await push();
    const out = r.stderr + r.stdout;
    assert.notEqual(r.code, 0, out);
    assert.match(out, /\[remote rejected\]/);
    assert.match(out, /over this platform's limit of 2 MB \(PAAS_MAX_PUSH_BYTES\)/);
    assert.deepEqual(await builds(), before, "no build was made");
    assert.equal((await answer()).message, "hello from v3");
    const sources = await fs.readdir(path.join(p.dataDir, "sources"));
    assert.equal(sources.filter((f) => f.startsWith("incoming-")).length, 0, "the refused upload is not left on disk");
    await sh("git", ["reset", "-q", "--hard", "HEAD~1"], { cwd: repo });
  });

  test("the worker runs with its own data directory, apart from the web app's, and a push still deploys", async () => {
    // Stop the platform's worker (its supervisor told first): only ours can take the build.
    await stopService(p, "worker");
    const own = await fs.mkdtemp(path.join(os.tmpdir(), "paas-own-worker-"));
    const worker = spawn(path.join(ROOT, "node_modules/.bin/tsx"), ["worker/src/main.ts"], {
      cwd: ROOT,
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
      env: {
        ...p.env,
        PAAS_DATA_DIR: own,
        // What it shares with the web app is named, not found in the web app's data dir.
        PAAS_DATABASE_URL: `file:${path.join(p.dataDir, "paas.db")}`,
        PAAS_WORKER_TOKEN: (await fs.readFile(path.join(p.dataDir, "worker-token"), "utf8")).trim(),
      },
    });
    let output = "";
    worker.stdout.on("data", (d) => (output += d));
    worker.stderr.on("data", (d) => (output += d));
    try {
      await waitFor(async () => output.includes("waiting for jobs"), `the second worker is up (${output})`, 60_000);
      const server = await fs.readFile(path.join(repo, "server.js"), "utf8");
      await commitChange(repo, "server.js", server.replace("hello from v3", "hello from v4"), "v4");
      const r = await push();
      assert.equal(r.code, 0, r.stderr + r.stdout + output);
      assert.equal((await answer()).message, "hello from v4");
      // It says so once it has retired the old replicas, after the push has its answer.
      await waitFor(() => /build \S+ succeeded/.test(output), `the second worker ran the build (${output})`, 60_000);
        assert.deepEqual(await fs.readdir(own), [], "the worker wrote nothing to its data dir");
    } finally {
      process.kill(-worker.pid!, "SIGKILL");
      await fs.rm(own, { recursive: true, force: true });
    }
  });
});
