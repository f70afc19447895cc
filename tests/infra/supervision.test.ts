/**
 * The platform's services are supervised (infra/supervise, started by infra/up): with an app
 * deployed and a light load on it through the router, each service is killed with SIGKILL in
 * turn. Each is back (its own process on its port, answering) and the time is printed, the
 * app's replica is the same container throughout (the agent adopts it), the failed requests
 * of each kill are counted (a router restart may fail some: the new router stops the HAProxy the
 * dead one left before it starts its own), and each restart is logged and counted. Then
 * ./infra/down leaves no supervisor behind and nothing was restarted while it stopped.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import fs from "node:fs";
import path from "node:path";
import { AgentClient } from "@paas/shared";
import { ROOT, fixtureRepo, sh, startPlatform, type Platform, pushApp } from "../helpers/platform.ts";
import { waitFor } from "../helpers/wait.ts";

const SERVICES = ["redis", "agent", "web", "router", "worker"] as const;
type Service = (typeof SERVICES)[number];

let p: Platform;
const runDir = () => path.join(p.dataDir, "run");
const pidOf = (name: string) => Number(fs.readFileSync(path.join(runDir(), `${name}.pid`), "utf8"));
const logOf = (name: string) => fs.readFileSync(path.join(p.dataDir, "logs", `${name}.log`), "utf8");
const sessionOf = (pid: number) => {
  try {
    return Number(fs.readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ")[3]);
  } catch {
    return 0;
  }
};
const session = (sid: number) => fs.readdirSync("/proc").filter((d) => /^\d+$/.test(d)).map(Number).filter((pid) => sessionOf(pid) === sid);

/** One GET through the router with the app's Host; its status, or the error's code. */
function get(port: number, host: string, urlPath = "/"): Promise<number | string> {
  return new Promise((resolve) => {
    const req = http.get({ host: "127.0.0.1", port, path: urlPath, headers: { host }, agent: false }, (res) => {
      res.resume();
      res.on("end", () => resolve(res.statusCode ?? 0));
      res.on("error", (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
    });
    req.on("error", (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
    req.setTimeout(10_000, () => req.destroy(Object.assign(new Error("timeout"), { code: "TIMEOUT" })));
  });
}

/** Whether one of the processes listening on `port` is in `sid`'s session (a service's own, or a child of it: HAProxy). */
async function listensIn(port: number, sid: number): Promise<boolean> {
  const out = (await sh("ss", ["-Hltnp", `sport = :${port}`])).stdout;
  return [...out.matchAll(/pid=(\d+)/g)].some((m) => sessionOf(Number(m[1])) === sid);
}

/** Whether `name`, running as `pid`, is back: its port is its own and answers (the worker: it says it waits for jobs). */
async function isBack(name: Service, pid: number, workerLines: number): Promise<boolean> {
  if (sessionOf(pid) !== pid) return false;
  const e = p.env;
  switch (name) {
    case "redis":
      return (await listensIn(Number(e.PAAS_REDIS_PORT), pid)) && (await sh("redis-cli", ["-p", e.PAAS_REDIS_PORT!, "ping"])).stdout.trim() === "PONG";
    case "agent":
      return (await listensIn(Number(e.PAAS_AGENT_PORT), pid)) && (await get(Number(e.PAAS_AGENT_PORT), "127.0.0.1", "/v1/health")) === 200;
    case "web": {
      const s = await get(Number(e.PAAS_WEB_PORT), "127.0.0.1", "/login");
      return (await listensIn(Number(e.PAAS_WEB_PORT), pid)) && typeof s === "number" && s < 500;
    }
    case "router":
      return (await listensIn(p.routerPort, pid)) && (await get(p.routerPort, `hello.localhost:${p.routerPort}`)) === 200;
    case "worker":
      return logOf("worker").split("waiting for jobs").length - 1 > workerLines;
  }
}

describe("supervision of the platform's services", { timeout: 15 * 60_000 }, () => {
  before(async () => {
    p = await startPlatform("superv", 4550);
    const repo = await fixtureRepo("node-hello");
    const env = { ...p.env, PAAS_URL: p.webUrl, PAAS_TOKEN: p.adminToken };
    const create = await sh(path.join(ROOT, "apps/cli/bin/paas"), ["apps:create", "hello"], { cwd: ROOT, env });
    assert.equal(create.code, 0, create.stderr);
    const push = await pushApp(p, "hello", repo);
    assert.equal(push.code, 0, push.stderr + push.stdout);
    await waitFor(async () => (await get(p.routerPort, `hello.localhost:${p.routerPort}`)) === 200, "hello answers through the router");
  });
  after(async () => {
    await p?.stop();
  });

  test("each service killed with SIGKILL is back, logged and counted; the app answers throughout", async () => {
    const agent = new AgentClient(`http://127.0.0.1:${p.env.PAAS_AGENT_PORT}`);
    const replicas = async () => (await agent.containers()).filter((c) => c.state === "running").map((c) => c.id).sort();
    const before = await replicas();
    assert.ok(before.length > 0, "hello's replica runs");

    // A light load: one request at a time, 50 a second, each on a new connection.
    let phase = "before";
    const tally = new Map<string, { ok: number; failed: string[] }>();
    let loading = true;
    const load = (async () => {
      while (loading) {
        const s = await get(p.routerPort, `hello.localhost:${p.routerPort}`);
        const t = tally.get(phase) ?? { ok: 0, failed: [] };
        if (s === 200) t.ok++;
        else t.failed.push(String(s));
        tally.set(phase, t);
        await new Promise((r) => setTimeout(r, 20));
      }
    })();

    const backIn: Record<string, number> = {};
    try {
      await new Promise((r) => setTimeout(r, 1000));
      for (const name of SERVICES) {
        phase = name;
        const old = pidOf(name);
        const workerLines = logOf("worker").split("waiting for jobs").length - 1;
        const t0 = Date.now();
        process.kill(old, "SIGKILL");
        let pid = 0;
        await waitFor(async () => {
          pid = pidOf(name);
          return pid !== old && (await isBack(name, pid, workerLines));
        }, `${name} is back`, 60_000, 20);
        backIn[name] = Date.now() - t0;
        // The supervisor's own word: at once (it had run for more than 10 s), with the signal.
        assert.match(logOf(name), new RegExp(`supervise: ${name} \\(pid ${old}\\) was killed by SIGKILL after [\\d.]+ s; restart 1, at once`));
        await new Promise((r) => setTimeout(r, 1000)); // the load runs on a while after each
      }
      phase = "after";
      await new Promise((r) => setTimeout(r, 1000));
    } finally {
      loading = false;
      await load;
    }

    console.log("service  back in (ms)  requests ok  failed");
    for (const name of SERVICES) {
      const t = tally.get(name)!;
      console.log(`${name.padEnd(8)} ${String(backIn[name]).padStart(12)}  ${String(t.ok).padStart(11)}  ${t.failed.length}${t.failed.length ? ` (${[...new Set(t.failed)].join(", ")})` : ""}`);
    }
    for (const name of ["before", ...SERVICES.filter((s) => s !== "router"), "after"]) {
      const t = tally.get(name)!;
      assert.ok(t.ok > 0, `requests answered while ${name}`);
      assert.deepEqual(t.failed, [], `no request failed while ${name} restarted`);
    }
    assert.ok(tally.get("router")!.ok > 0, "the app answered again after the router's restart");
    assert.deepEqual(await replicas(), before, "the app's replica is the same container: the agent adopted it");

    const status = JSON.parse(fs.readFileSync(path.join(runDir(), "services.json"), "utf8"));
    for (const name of SERVICES) {
      assert.equal(status.services[name].state, "running", name);
      assert.equal(status.services[name].pid, pidOf(name), name);
      assert.equal(status.services[name].restarts, 1, name);
      assert.equal(status.services[name].lastExit.signal, "SIGKILL", name);
    }
    const shown = await sh(path.join(ROOT, "infra/status"), [], { env: p.env });
    assert.equal(shown.code, 0, shown.stderr);
    assert.match(shown.stdout, /^router +running +\d+ +1 +SIGKILL at /m);
  });

  test("./infra/down stops the supervisor first: it leaves none behind and nothing is restarted", async () => {
    const supervisor = pidOf("supervise");
    const pids = Object.fromEntries(SERVICES.map((name) => [name, pidOf(name)]));
    assert.ok(session(supervisor).length > 0, "the supervisor runs");
    const down = await sh(path.join(ROOT, "infra/down"), [], { env: p.env, cwd: ROOT });
    assert.equal(down.code, 0, down.stderr);
    assert.deepEqual(session(supervisor), [], "no process of the supervisor's session is left");
    for (const name of SERVICES) {
      assert.deepEqual(session(pids[name]), [], `nothing of ${name} is left`);
      assert.doesNotMatch(logOf(name), /restart 2/, `${name} was not restarted while down stopped it`);
    }
  });
});
