/**
 * Zero-downtime deploys, end to end (a platform started by ./infra/up, real pushes and config
 * changes, requests through the router): the checks an app declares (its CHECKS file) gate
 * each release, a release that fails them is abandoned with the check's words while the old one
 * keeps serving, and under steady load 20 deploys in a row drop no request, a slow request in
 * flight at the switch included (the old replica drains before it stops).
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs/promises";
import http from "node:http";
import path from "node:path";
import { AgentClient } from "@paas/shared";
import { commitChange, fixtureRepo, ROOT, sh, startPlatform, type Platform, pushApp } from "../helpers/platform.ts";
import { waitFor } from "../helpers/wait.ts";

const APP = "checked";
let p: Platform;
let repo: string;

const paas = (args: string[]) => sh(path.join(ROOT, "apps/cli/bin/paas"), args, { cwd: ROOT, env: { ...p.env, PAAS_URL: p.webUrl, PAAS_TOKEN: p.adminToken } });

async function push() {
  const r = await pushApp(p, APP, repo);
  return { ...r, out: r.stderr + r.stdout };
}

interface Answer {
  code: string;
  release: string;
  n: string | null;
}

/** GET through the router, on `agent`'s connections (default: a connection of its own). */
function get(urlPath = "/", agent: http.Agent | false = false): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: "127.0.0.1", port: p.routerPort, path: urlPath, headers: { host: `${APP}.localhost` }, agent }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (c) => (body += c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
      res.on("error", reject);
    });
    req.on("error", reject);
    req.setTimeout(20_000, () => req.destroy(new Error("no answer within 20 s")));
  });
}

async function answer(urlPath = "/"): Promise<Answer> {
  const r = await get(urlPath);
  assert.equal(r.status, 200, `router answered ${r.status}: ${r.body.slice(0, 300)}`);
  return JSON.parse(r.body) as Answer;
}

const releases = async () => {
  const r = await paas(["releases", "-a", APP, "--json"]);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as { version: number; status: string; description: string; error: string | null }[];
};

describe("checks and zero-downtime deploys", { timeout: 20 * 60_000 }, () => {
  before(async () => {
    p = await startPlatform("checks", 4620);
    repo = await fixtureRepo("node-checks");
    assert.equal((await paas(["apps:create", APP])).code, 0);
  });
  after(async () => {
    await p?.stop();
  });

  test("a push with a CHECKS file deploys once /health answers 'ok', and says which checks it ran", async () => {
    const r = await push();
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /remote: +Checks from CHECKS:/);
    assert.match(r.out, /remote: +GET \/health expecting 'ok' \(2 attempts, 3s each\)/);
    assert.match(r.out, /Waiting for the new replicas to start and web to pass its check/);
    assert.deepEqual(await answer(), { code: "v1", release: "v1", n: null });
  });

  test("a check that fails keeps the old release: the push is rejected with what the check got", async () => {
    const server = await fs.readFile(path.join(repo, "server.js"), "utf8");
    await commitChange(repo, "server.js", server.replace('const CODE = "v1"', 'const CODE = "v2"').replace("process.env.HEALTH_STATUS || 200", "500"), "health fails");
    const r = await push();
    assert.notEqual(r.code, 0, r.out);
    assert.match(r.out, /\[remote rejected\]/);
    assert.match(r.out, /the new release v2 failed its check: web\.1: GET \/health answered 500, expected 2xx or 3xx \(2 attempts\)/);
    assert.deepEqual(await answer(), { code: "v1", release: "v1", n: null }, "v1 keeps serving");
    const [failed, live] = await releases();
    assert.deepEqual([failed.version, failed.status, live.version, live.status], [2, "failed", 1, "active"]);
    assert.match(failed.error ?? "", /failed its check: web\.1: GET \/health answered 500/);
    await sh("git", ["reset", "-q", "--hard", "HEAD~1"], { cwd: repo });
  });

  test("a config change that makes the check fail is not applied; the release keeps serving", async () => {
    const r = await paas(["config:set", "HEALTH_STATUS=503", "-a", APP]);
    assert.notEqual(r.code, 0, r.stdout);
    assert.match(r.stderr, /the new release v3 failed its check: web\.1: GET \/health answered 503, expected 2xx or 3xx \(2 attempts\)/);
    assert.deepEqual(await answer(), { code: "v1", release: "v1", n: null });
    const vars = JSON.parse((await paas(["config", "-a", APP, "--json"])).stdout) as Record<string, string>;
    assert.equal(vars.HEALTH_STATUS, undefined, "the var was not saved");
  });

  test("a malformed CHECKS file fails the build naming the line, and changes nothing", async () => {
    await commitChange(repo, "CHECKS", "WAIT=1\nATTEMPTS=none\n/health ok\n", "bad CHECKS");
    const r = await push();
    assert.notEqual(r.code, 0, r.out);
    assert.match(r.out, /CHECKS line 2: ATTEMPTS=none must be a whole number from 1 to 100/);
    assert.deepEqual(await answer(), { code: "v1", release: "v1", n: null });
    await sh("git", ["reset", "-q", "--hard", "HEAD~1"], { cwd: repo });
  });

  test("under steady load, 20 deploys in a row drop no request; one in flight at a switch finishes on the old replica", async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
    const failures: string[] = [];
    let ok = 0;
    let running = true;
    // Bounded: 8 clients on keep-alive connections, one request at a time each; every 4th waits 100 ms in the app.
    const load = Promise.all(
      Array.from({ length: 8 }, async (_, client) => {
        for (let i = 0; running; i++) {
          try {
            const r = await get((client + i) % 4 === 0 ? "/?ms=100" : "/", agent);
            if (r.status === 200 && (JSON.parse(r.body) as Answer).code === "v1") ok++;
            else failures.push(`${r.status} ${r.body.slice(0, 120)}`);
          } catch (err) {
            failures.push((err as Error).message);
          }
        }
      }),
    );
    const t0 = Date.now();
    let slow: Promise<{ status: number; body: string }> | undefined;
    try {
      for (let n = 1; n <= 20; n++) {
        // A request that takes 3 s, sent just before the first switch: the old replica answers it.
        if (n === 1) {
          slow = get("/?ms=3000").catch((err: Error) => ({ status: 0, body: err.message }));
          await new Promise((r) => setTimeout(r, 200));
        }
        const r = await paas(["config:set", `N=${n}`, "-a", APP]);
        assert.equal(r.code, 0, `deploy ${n}: ${r.stderr}${r.stdout}`);
      }
    } finally {
      running = false;
      await load;
      agent.destroy();
    }
    const seconds = (Date.now() - t0) / 1000;
    console.log(`20 deploys in ${seconds.toFixed(1)}s under load: ${ok} requests answered, ${failures.length} failed`);
    assert.deepEqual(failures.slice(0, 5), []);
    assert.ok(ok > 200, `only ${ok} requests ran`);
    const slowAnswer = await slow!;
    assert.equal(slowAnswer.status, 200, `the slow request in flight at the first switch: ${slowAnswer.body.slice(0, 200)}`);
    assert.equal((JSON.parse(slowAnswer.body) as Answer).release, "v1", "the slow request was answered by the release live before the first change");
    const now = await answer();
    assert.equal(now.n, "20");

    // The old replicas drained and stopped: one replica left, the live one.
    const agentApi = new AgentClient(`http://127.0.0.1:${p.env.PAAS_AGENT_PORT}`);
    const running_ = async () => (await agentApi.containers()).filter((c) => c.labels["paas.app"] === APP && c.state === "running");
    await waitFor(async () => (await running_()).length === 1, "the old replicas to stop after their drain", 60_000, 250);
    assert.equal((await running_())[0].labels["paas.release"], now.release);
  });
});
