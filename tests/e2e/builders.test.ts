/**
 * Every builder end to end: real `git push`es of fixture apps to a platform of
 * their own, answers through the router. Ports 3500-3591.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs/promises";
import http from "node:http";
import path from "node:path";
import zlib from "node:zlib";
import { ROOT, commitChange, fixtureRepo, sh, startPlatform, viaRouter, type Platform } from "../helpers/platform.ts";

let p: Platform;

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
    // Its own subnet: 3500 % 50 would give the e2e test's 10.200.0.0/24.
    p = await startPlatform("builders", 3500, { PAAS_SUBNET: "10.235.0.0/24" });
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
});
