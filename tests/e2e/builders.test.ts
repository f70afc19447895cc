/**
 * Every builder end to end: real `git push`es of fixture apps to a platform of
 * their own, answers through the router. Ports 3500-3591.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs/promises";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import zlib from "node:zlib";
import { createDb } from "@paas/db";
import { AgentClient } from "@paas/shared";
import { ROOT, commitChange, fixtureRepo, sh, startPlatform, viaRouter, type Platform } from "../helpers/platform.ts";

let p: Platform;
let dockerRepo = "";

const paas = (args: string[]) =>
  sh(path.join(ROOT, "apps/cli/bin/paas"), args, { cwd: ROOT, env: { ...p.env, PAAS_URL: p.webUrl, PAAS_TOKEN: p.adminToken } });

async function createApp(name: string) {
  const r = await paas(["apps:create", name]);
  assert.equal(r.code, 0, r.stderr + r.stdout);
}

async function push(repo: string, app: string) {
  const t0 = Date.now();
  const url = `http://git:${p.adminToken}@127.0.0.1:${p.env.PAAS_WEB_PORT}/git/${app}.git`;
  const r = await sh("git", ["push", url, "main"], { cwd: repo, env: { ...process.env, GIT_TERMINAL_PROMPT: "0" } });
  return { ...r, out: r.stderr + r.stdout, seconds: (Date.now() - t0) / 1000 };
}

/** A GET through the router with headers, the raw body and the response headers. */
function get(app: string, urlPath: string, headers: Record<string, string> = {}) {
  return new Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }>((resolve, reject) => {
    const req = http.get(
      { host: "127.0.0.1", port: p.routerPort, path: urlPath, headers: { host: `${app}.localhost:${p.routerPort}`, ...headers }, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c) => chunks.push(c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      },
    );
    req.on("error", reject);
    req.setTimeout(10_000, () => req.destroy(new Error("timeout")));
  });
}

async function json(app: string, urlPath = "/") {
  const r = await viaRouter(p, app, urlPath);
  assert.equal(r.status, 200, `router answered ${r.status}: ${r.body.slice(0, 300)}`);
  return JSON.parse(r.body);
}

describe("builders", { timeout: 15 * 60_000 }, () => {
  before(async () => {
    p = await startPlatform("builders", 3500);
  });
  after(async () => {
    await p?.stop();
  });

  test("Node: dependencies from the registry in a cached layer; a code-only push reuses it", async () => {
    await createApp("deps");
    const repo = await fixtureRepo("node-deps");
    const cold = await push(repo, "deps");
    assert.equal(cold.code, 0, cold.out);
    assert.match(cold.out, /remote: -----> Installing dependencies \(npm ci\)/);
    assert.deepEqual(await json("deps"), { message: "deps v1", uptime: "1m", release: "v1" });

    const server = await fs.readFile(path.join(repo, "server.js"), "utf8");
    await commitChange(repo, "server.js", server.replace("deps v1", "deps v2"), "code only");
    const warm = await push(repo, "deps");
    assert.equal(warm.code, 0, warm.out);
    assert.match(warm.out, /remote: -----> Reusing dependencies \(lockfile unchanged\)/);
    assert.doesNotMatch(warm.out, /Installing dependencies/);
    assert.equal((await json("deps")).message, "deps v2");
    console.log(`node-deps push: cold ${cold.seconds.toFixed(1)}s, warm ${warm.seconds.toFixed(1)}s`);
  });

  test("Python: a virtualenv layer (cached), no network needed, served by python app.py", async () => {
    await createApp("py");
    const repo = await fixtureRepo("python-hello");
    const r = await push(repo, "py");
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /remote: -----> Python app detected/);
    assert.match(r.out, /remote: -----> Creating a virtualenv/);
    assert.deepEqual(await json("py"), { message: "hello from python", venv: "/app/.venv", release: "v1" });
    await commitChange(repo, "app.py", (await fs.readFile(path.join(repo, "app.py"), "utf8")).replace("hello from python", "python v2"), "v2");
    const again = await push(repo, "py");
    assert.equal(again.code, 0, again.out);
    assert.match(again.out, /remote: -----> Reusing the virtualenv \(requirements unchanged\)/);
    assert.equal((await json("py")).message, "python v2");
  });

  test("static: gzip, content types and cache headers through the router", async () => {
    await createApp("site");
    const repo = await fixtureRepo("static-site");
    const r = await push(repo, "site");
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /remote: -----> Static site app detected/);
    assert.match(r.out, /gzipped 1 file/);
    const home = await get("site", "/");
    assert.equal(home.status, 200);
    assert.match(home.body.toString(), /hello from a static site/);
    assert.equal(home.headers["cache-control"], "no-cache");
    assert.equal(home.headers["content-type"], "text/html; charset=utf-8");
    const css = await get("site", "/assets/app.3f9c2b1a.css", { "accept-encoding": "gzip" });
    assert.equal(css.status, 200);
    assert.equal(css.headers["content-encoding"], "gzip");
    assert.equal(css.headers["content-type"], "text/css; charset=utf-8");
    assert.equal(css.headers["cache-control"], "public, max-age=31536000, immutable");
    const plain = await fs.readFile(path.join(repo, "dist/assets/app.3f9c2b1a.css"), "utf8");
    assert.equal(zlib.gunzipSync(css.body).toString(), plain);
    const etag = String(css.headers.etag);
    assert.equal((await get("site", "/assets/app.3f9c2b1a.css", { "if-none-match": etag })).status, 304);
    assert.match((await get("site", "/about")).body.toString(), /about this site/, "clean_urls from static.json");
    assert.equal((await get("site", "/missing")).status, 404);
  });

  test("Procfile with web and worker: both run, only web is routed", async () => {
    await createApp("multi");
    const repo = await fixtureRepo("procfile-multi");
    const r = await push(repo, "multi");
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /Process types: web \(node web\.js\), worker \(node worker\.js\)/);
    assert.deepEqual(await json("multi"), { process: "web" });
    const db = createDb(`file:${path.join(p.dataDir, "paas.db")}`);
    const release = await db.release.findFirstOrThrow({ where: { app: { name: "multi" } }, orderBy: { version: "desc" } });
    await db.$disconnect();
    assert.deepEqual(JSON.parse(release.processTypes), { web: "node web.js", worker: "node worker.js" });
    const agent = new AgentClient(`http://127.0.0.1:${p.env.PAAS_AGENT_PORT}`);
    const running = (await agent.containers()).filter((c) => c.labels["paas.app"] === "multi" && c.state === "running");
    assert.deepEqual(running.map((c) => c.labels["paas.process"]).sort(), ["web", "worker"]);
    assert.match(r.out, /Starting 1 web replica, 1 worker replica of v1/);
  });

  test("an app of no known type is refused with the list of what is supported", async () => {
    await createApp("nothing");
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), "fixture-nothing-"));
    await fs.writeFile(path.join(dir, "README.md"), "just words\n");
    await sh("git", ["init", "-q", "-b", "main"], { cwd: dir });
    await sh("git", ["config", "user.email", "dev@example.com"], { cwd: dir });
    await sh("git", ["config", "user.name", "Dev"], { cwd: dir });
    await commitChange(dir, "README.md", "just words\n", "readme");
    const r = await push(dir, "nothing");
    assert.notEqual(r.code, 0, r.out);
    assert.match(r.out, /\[remote rejected\]/);
    assert.match(r.out, /could not detect how to build this app; supported: a Dockerfile, a Node\.js app \(package\.json\), a Python app/);
  });

  test("a multi-stage Dockerfile: COPY --from, .dockerignore, config from the image, cached layers", async () => {
    await createApp("docker");
    const repo = (dockerRepo = await fixtureRepo("dockerfile-multi"));
    const r = await push(repo, "docker");
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /remote: -----> Dockerfile app detected/);
    assert.match(r.out, /Step \d+\/\d+ : COPY --from=build \/src\/out\.json/);
    assert.deepEqual(await json("docker"), {
      message: "hello from a multi-stage Dockerfile",
      version: "v1",
      cwd: "/srv/app",
      nodeEnv: "production",
      uid: 1000,
      ignored: ["build.js"],
    });
    const server = await fs.readFile(path.join(repo, "server.js"), "utf8");
    await commitChange(repo, "server.js", server.replace('version: "v1"', 'version: "v2"'), "v2");
    const again = await push(repo, "docker");
    assert.equal(again.code, 0, again.out);
    // The build stage and the final stage up to COPY . . come from the cache.
    // COPY, RUN of the build stage and the COPY --from hit; COPY . . has new content.
    assert.equal((again.out.match(/---> Using cache/g) ?? []).length, 3, again.out);
    assert.equal((await json("docker")).version, "v2");
  });

  test("a bad Dockerfile line rejects the push with its line number; the old release keeps serving", async () => {
    const repo = dockerRepo;
    const text = await fs.readFile(path.join(repo, "Dockerfile"), "utf8");
    await commitChange(repo, "Dockerfile", text.replace("EXPOSE 5000", "FROBNICATE 5000"), "bad line");
    const r = await push(repo, "docker");
    assert.notEqual(r.code, 0, r.out);
    assert.match(r.out, /\[remote rejected\]/);
    const line = text.split("\n").findIndex((l) => l.startsWith("EXPOSE")) + 1;
    assert.match(r.out, new RegExp(`Dockerfile line ${line}: unknown or unsupported instruction FROBNICATE`));
    assert.equal((await json("docker")).version, "v2");

    await sh("git", ["reset", "-q", "--hard", "HEAD~1"], { cwd: repo });
    await commitChange(repo, "Dockerfile", text.replace("FROM stack/node\n", "FROM ruby:3.3\n"), "bad FROM");
    const bad = await push(repo, "docker");
    assert.notEqual(bad.code, 0, bad.out);
    const fromLine = text.split("\n").findIndex((l) => l === "FROM stack/node") + 1;
    assert.match(bad.out, new RegExp(`Dockerfile line ${fromLine}: FROM ruby:3.3: no such image here; use debian:.*, node:.*, python:.*, stack/node:latest, `));
  });
});
