/**
 * Metrics, end to end (a platform started by ./infra/up, with its Prometheus from Debian's
 * package, and a real push): an app that serves /metrics of its own (PAAS_METRICS_PATH) is
 * scraped; Prometheus answers for its metric, for its replica's cgroup memory, and for the
 * router's figures of it; GET /metrics/apps/APP and GET /metrics answer the owner and the
 * operator in the text format and nobody else; and a second, independent Prometheus scrapes
 * both endpoints with a bearer token, as an outside monitoring system would.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { AgentClient } from "@paas/shared";
import { ROOT, addTeamWithToken, fixtureRepo, pushApp, sh, startPlatform, viaRouter, type Platform } from "../helpers/platform.ts";

const APP = "metered";
const BASE = 5400;

let p: Platform;
let otherToken: string;
let promUrl: string;

const paas = (args: string[]) => sh(path.join(ROOT, "apps/cli/bin/paas"), args, { cwd: ROOT, env: { ...p.env, PAAS_URL: p.webUrl, PAAS_TOKEN: p.adminToken } });

/** An instant query's result (the platform's Prometheus unless `url`). */
async function query(expr: string, url = promUrl): Promise<{ metric: Record<string, string>; value: [number, string] }[]> {
  const r = await fetch(`${url}/api/v1/query?${new URLSearchParams({ query: expr })}`);
  const body = (await r.json()) as { status: string; data: { result: { metric: Record<string, string>; value: [number, string] }[] } };
  assert.equal(body.status, "success", JSON.stringify(body));
  return body.data.result;
}

/** Until `expr` has a series whose value passes `ok` (Prometheus scrapes every 10 s). */
async function eventually(expr: string, ok: (v: number) => boolean, url = promUrl, timeoutMs = 90_000) {
  const deadline = Date.now() + timeoutMs;
  let last: unknown = [];
  while (Date.now() < deadline) {
    // A Prometheus just started refuses connections for a moment.
    const r = await query(expr, url).catch((err: Error) => ((last = err.message), []));
    if (r.length) last = r;
    const hit = r.find((s) => ok(Number(s.value[1])));
    if (hit) return hit;
    await new Promise((res) => setTimeout(res, 2000));
  }
  assert.fail(`no series of ${expr} passed within ${timeoutMs / 1000} s; last: ${JSON.stringify(last)}`);
}

const get = (urlPath: string, token?: string) => fetch(`${p.webUrl}${urlPath}`, { headers: token ? { authorization: `Bearer ${token}` } : {} });

describe("metrics", { timeout: 15 * 60_000 }, () => {
  before(async () => {
    p = await startPlatform("metric", BASE);
    promUrl = `http://127.0.0.1:${p.env.PAAS_PROMETHEUS_PORT}`;
    otherToken = await addTeamWithToken(p.dataDir, "rivals", "rival@example.com");
    assert.equal((await paas(["apps:create", APP])).code, 0);
    const set = await paas(["config:set", "PAAS_METRICS_PATH=/metrics", "-a", APP]);
    assert.equal(set.code, 0, set.stderr);
    const repo = await fixtureRepo("node-metrics");
    const push = await pushApp(p, APP, repo);
    assert.equal(push.code, 0, push.stderr + push.stdout);
    for (let i = 0; i < 20; i++) assert.equal((await viaRouter(p, APP, i % 2 ? "/slow" : "/")).status, 200);
    assert.equal((await viaRouter(p, APP, "/fail")).status, 500);
  });

  after(async () => {
    await p?.stop();
  });

  test("Prometheus runs on loopback with 10 s scrapes and a bounded history", async () => {
    const flags = (await (await fetch(`${promUrl}/api/v1/status/flags`)).json()) as { data: Record<string, string> };
    assert.equal(flags.data["storage.tsdb.retention.time"], "2d");
    assert.equal(flags.data["storage.tsdb.retention.size"], "512MiB");
    assert.equal(flags.data["web.listen-address"], `127.0.0.1:${p.env.PAAS_PROMETHEUS_PORT}`);
    const cfg = (await (await fetch(`${promUrl}/api/v1/status/config`)).json()) as { data: { yaml: string } };
    assert.match(cfg.data.yaml, /scrape_interval: 10s/);
  });

  test("the app's own /metrics is scraped, labelled with its app and replica", async () => {
    const s = await eventually(`fixture_requests_total{app="${APP}",path="/slow"}`, (v) => v === 10);
    assert.equal(s.metric.process, "web");
    assert.equal(s.metric.replica, "1");
    assert.equal(s.metric.job, "app");
  });

  test("the replica's cgroup figures: memory, CPU, pids, OOM kills, network bytes", async () => {
    const mem = await eventually(`paas_container_memory_bytes{app="${APP}",process="web"}`, (v) => v > 1 << 20);
    assert.equal(mem.metric.replica, "1");
    assert.equal(mem.metric.team, "main");
    await eventually(`paas_container_cpu_seconds_total{app="${APP}"}`, (v) => v > 0);
    await eventually(`paas_container_pids{app="${APP}"}`, (v) => v >= 1);
    await eventually(`paas_container_oom_kills_total{app="${APP}"}`, (v) => v === 0);
    await eventually(`paas_container_network_receive_bytes_total{app="${APP}"}`, (v) => v > 1000);
    await eventually(`paas_container_memory_limit_bytes{app="${APP}"}`, (v) => v === 256 * 2 ** 20);
  });

  test("the router's figures: requests by status class and a latency histogram", async () => {
    await eventually(`paas_router_requests_total{app="${APP}",code="2xx"}`, (v) => v >= 20);
    await eventually(`paas_router_requests_total{app="${APP}",code="5xx"}`, (v) => v === 1);
    // Half the requests took >= 50 ms: the p99 is above 50 ms.
    await eventually(`histogram_quantile(0.99, sum by (le) (paas_router_request_duration_seconds_bucket{app="${APP}"}))`, (v) => v >= 0.05);
  });

  test("GET /metrics/apps/APP: the app's figures to its team and the operator, nothing to anyone else", async () => {
    const noToken = await get(`/metrics/apps/${APP}`);
    assert.equal(noToken.status, 401);
    const noBody = await noToken.text();
    assert.doesNotMatch(noBody, /paas_|fixture_/);
    assert.match(noBody, /API token/);
    const badToken = await get(`/metrics/apps/${APP}`, "paas_not-a-real-token");
    assert.equal(badToken.status, 401);
    assert.doesNotMatch(await badToken.text(), /paas_container|fixture_/);

    const rival = await get(`/metrics/apps/${APP}`, otherToken);
    assert.equal(rival.status, 404, "another team learns nothing, not even that the app exists");
    assert.doesNotMatch(await rival.text(), /paas_container|fixture_/);
    // An app that does not exist reads the same as one the caller may not read.
    const unknown = await get(`/metrics/apps/nope-${APP}`, otherToken);
    assert.equal(unknown.status, 404);

    const own = await get(`/metrics/apps/${APP}`, p.adminToken);
    assert.equal(own.status, 200);
    assert.match(own.headers.get("content-type") ?? "", /^text\/plain; version=0\.0\.4/);
    const text = await own.text();
    assert.match(text, new RegExp(`^fixture_requests_total\\{.*app="${APP}".*\\} \\d+`, "m"));
    assert.match(text, new RegExp(`^paas_container_memory_bytes\\{.*app="${APP}".*\\} \\d+`, "m"));
    assert.match(text, new RegExp(`^paas_router_requests_total\\{.*app="${APP}".*code="2xx".*\\} \\d+`, "m"));
    assert.doesNotMatch(text, /app="(?!metered")/, "only this app's series");
  });

  test("GET /metrics: the whole platform's, to operators only", async () => {
    assert.equal((await get("/metrics")).status, 401);
    const rival = await get("/metrics", otherToken);
    assert.equal(rival.status, 403);
    assert.doesNotMatch(await rival.text(), /paas_container|fixture_/);
    const op = await get("/metrics", p.adminToken);
    assert.equal(op.status, 200);
    const text = await op.text();
    assert.match(text, /^paas_container_memory_bytes\{/m);
    assert.match(text, /^up\{.*job="router".*\} 1/m);
  });

  test("another Prometheus scrapes both endpoints with a bearer token", async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), "metrics-outside-"));
    const port = BASE + 98; // (base + 97 is the platform's own Prometheus: tests/helpers/platform.ts)
    await fs.writeFile(path.join(dir, "token"), p.adminToken, { mode: 0o600 });
    await fs.writeFile(
      path.join(dir, "prometheus.yml"),
      `global: { scrape_interval: 2s }
scrape_configs:
  - job_name: app
    metrics_path: /metrics/apps/${APP}
    authorization: { credentials_file: ${dir}/token }
    static_configs: [{ targets: ["127.0.0.1:${BASE}"] }]
  - job_name: platform
    metrics_path: /metrics
    authorization: { credentials_file: ${dir}/token }
    static_configs: [{ targets: ["127.0.0.1:${BASE}"] }]
`,
    );
    const outside: ChildProcess = spawn("prometheus", [`--config.file=${dir}/prometheus.yml`, `--storage.tsdb.path=${dir}/data`, `--web.listen-address=127.0.0.1:${port}`, "--log.level=warn"], { stdio: ["ignore", "ignore", "pipe"] });
    // What it says, for the failure message: an outside Prometheus that stopped says why there.
    let said = "";
    outside.stderr!.on("data", (d: Buffer) => (said = (said + d.toString()).slice(-4000)));
    const exited = new Promise<string>((r) => outside.once("exit", (code, signal) => r(`exited (${code ?? signal})`)));
    try {
      const url = `http://127.0.0.1:${port}`;
      await eventually(`fixture_requests_total{app="${APP}",path="/slow"}`, (v) => v === 10, url, 60_000);
      await eventually(`paas_router_requests_total{app="${APP}",code="2xx"}`, (v) => v >= 20, url, 60_000);
      // The outside Prometheus's own "up" of each job (the federated ones carry exported_job).
      for (const job of ["app", "platform"]) await eventually(`up{instance="127.0.0.1:${BASE}",job="${job}",exported_job=""}`, (v) => v === 1, url, 30_000);
    } catch (err) {
      const state = outside.exitCode ?? outside.signalCode;
      throw new Error(`${(err as Error).message}\nthe outside Prometheus ${state === null ? "still runs" : `exited (${state})`}; its stderr:\n${said}`);
    } finally {
      outside.kill("SIGTERM");
      await exited;
      await fs.rm(dir, { recursive: true, force: true });
    }
  });

  test("the metrics sidecar: attached without a restart, it serves the app's /metrics to Prometheus from the replica's namespace", async () => {
    const agent = new AgentClient(`http://127.0.0.1:${p.env.PAAS_AGENT_PORT}`, p.env.PAAS_AGENT_TOKEN);
    const identity = async () =>
      Promise.all(
        (await agent.containers())
          .filter((c) => c.labels["paas.app"] === APP && c.labels["paas.process"] === "web" && c.state === "running")
          .map(async (c) => ((i) => `${c.id} ${i.pid} ${i.startedAt}`)(await agent.container(c.id))),
      );
    const before = await identity();
    const bad = await paas(["sidecars:attach", "metrics", "-e", "METRICS_PORT=9102", "-a", APP]);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /METRICS_PORT "9102": give the port the app serves its metrics on/);
    const attach = await paas(["sidecars:attach", "metrics", "-a", APP]);
    assert.equal(attach.code, 0, attach.stderr);
    // Through the agent, as Prometheus scrapes it: the app's own series.
    const [sc] = (await agent.containers()).filter((c) => c.labels["paas.app"] === APP && c.labels["paas.sidecar"] === "metrics");
    assert.ok(sc, "a metrics container beside the replica");
    const relayed = await fetch(`http://127.0.0.1:${p.env.PAAS_AGENT_PORT}/v1/containers/${sc.id}/metrics`, { headers: p.env.PAAS_AGENT_TOKEN ? { authorization: `Bearer ${p.env.PAAS_AGENT_TOKEN}` } : {} });
    assert.equal(relayed.status, 200);
    assert.match(await relayed.text(), /^fixture_requests_total\{/m);
    // Scraped by the platform's Prometheus, labelled as the replica's, and as the sidecar's.
    const s = await eventually(`fixture_requests_total{app="${APP}",sidecar="metrics",path="/slow"}`, (v) => v >= 10);
    assert.deepEqual([s.metric.process, s.metric.replica, s.metric.job], ["web", "1", "app"]);
    assert.deepEqual(await identity(), before, "the app's container was not restarted");
    assert.equal((await paas(["sidecars:detach", "metrics", "-a", APP])).code, 0);
    assert.deepEqual(await identity(), before);
  });
});
