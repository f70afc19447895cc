/**
 * POST /v1/containers/:id/health: the agent waits on its side of the bridge until a container
 * answers HTTP on a port, and tells "the process exited first" from "no answer in time".
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { AgentClient, AgentError, type ContainerSpec, type HttpCheck } from "@paas/shared/agent-api";
import { testAgent } from "./helpers.ts";

let client: AgentClient;
let close: () => Promise<void>;

before(async () => {
  ({ client, close } = await testAgent("hc", 73, { keepaliveMs: 100 }));
});
after(async () => close());

async function run(cmd: string, more: Partial<ContainerSpec> = {}) {
  const c = await client.createContainer({ image: "stack/node", cmd: ["sh", "-c", cmd], memoryBytes: 128 << 20, cgroupParent: "thc/app", network: "bridge", ...more });
  await client.start(c.id);
  return c.id;
}

test("healthy once the app answers, however late within the time", async () => {
  const id = await run(`node -e "setTimeout(() => require('http').createServer((q, s) => { s.statusCode = 503; s.end() }).listen(5000), 600)"`);
  const r = await client.healthCheck(id, { port: 5000, timeoutMs: 10_000 });
  assert.equal(r.healthy, true, JSON.stringify(r));
  assert.ok(r.afterMs >= 500, `answered after ${r.afterMs} ms, it listens after 600 ms`);
  await client.remove(id, true);
});

test("a process that exits before answering is reported as exited, with its code, at once", async () => {
  const id = await run("sleep 0.3; exit 3");
  const r = await client.healthCheck(id, { port: 5000, timeoutMs: 20_000 });
  assert.deepEqual({ ...r, afterMs: 0 }, { healthy: false, reason: "exited", exitCode: 3, afterMs: 0 });
  assert.ok(r.afterMs < 5000, `seen ${r.afterMs} ms after the check began`);
  await client.remove(id, true);
});

test("no answer within the time is a timeout (the keepalives of a long answer do not spoil it)", async () => {
  const id = await run("sleep 100");
  const r = await client.healthCheck(id, { port: 5000, timeoutMs: 700 });
  assert.equal(r.healthy, false);
  assert.equal(r.healthy === false && r.reason, "timeout");
  assert.ok(r.afterMs >= 700 && r.afterMs < 3000, `gave up after ${r.afterMs} ms`);
  await client.remove(id, true);
});

test("checks that cannot run are refused before they start", async () => {
  const created = await client.createContainer({ image: "stack/busybox", cmd: ["sleep", "100"], memoryBytes: 32 << 20, cgroupParent: "thc/app", network: "bridge" });
  await assert.rejects(client.healthCheck(created.id, { port: 5000, timeoutMs: 100 }), (e: AgentError) => e.status === 409 && /never started/.test(e.message));
  await assert.rejects(client.healthCheck(created.id, { port: 0, timeoutMs: 100 }), (e: AgentError) => e.status === 400 && /check\.port: must be a whole number from 1 to 65535, got 0/.test(e.message));
  await assert.rejects(client.healthCheck("nope", { port: 5000, timeoutMs: 100 }), (e: AgentError) => e.status === 404);
  const offBridge = await client.createContainer({ image: "stack/busybox", cmd: ["sleep", "100"], memoryBytes: 32 << 20, cgroupParent: "thc/app", network: "none" });
  await client.start(offBridge.id);
  await assert.rejects(client.healthCheck(offBridge.id, { port: 5000, timeoutMs: 100 }), (e: AgentError) => e.status === 409 && /no address on the bridge/.test(e.message));
  await client.remove(created.id, true);
  await client.remove(offBridge.id, true);
});

// The app's declared checks (CHECKS / app.json), run by the agent once the port answers.
const check = (more: Partial<HttpCheck> & { path: string }): HttpCheck => ({ initialDelayMs: 0, timeoutMs: 2000, attempts: 3, waitMs: 50, ...more });
const app = (js: string) => run(`node -e ${JSON.stringify(`require('http').createServer(${js}).listen(5000)`)}`);

test("a declared check passes on the status and content it expects, after the attempts it needs", async () => {
  // /health fails twice (503), then answers 200 "ok"; / always answers.
  const id = await app(`(() => { let n = 0; return (q, s) => { if (q.url !== '/health') return s.end('home'); if (++n <= 2) { s.statusCode = 503; return s.end('starting') } s.end('all ok ' + q.headers.host) } })()`);
  const r = await client.healthCheck(id, { port: 5000, timeoutMs: 10_000, checks: [check({ path: "/", content: "home" }), check({ path: "/health", status: 200, content: "ok" })] });
  assert.equal(r.healthy, true, JSON.stringify(r));
  const withHost = await client.healthCheck(id, { port: 5000, timeoutMs: 10_000, checks: [check({ path: "/health", content: "all ok admin.example.com", host: "admin.example.com" })] });
  assert.equal(withHost.healthy, true, JSON.stringify(withHost));
  await client.remove(id, true);
});

test("a failing check names what it got: the status, the content, the time", async () => {
  const id = await app(`(q, s) => { if (q.url === '/slow') return; if (q.url === '/health') { s.statusCode = 500; return s.end('db down') } s.end('welcome') }`);
  const cases: [HttpCheck, string][] = [
    [check({ path: "/health", status: 200 }), "GET /health answered 500, expected 200"],
    [check({ path: "/health" }), "GET /health answered 500, expected 2xx or 3xx"],
    [check({ path: "/", content: "ok" }), "GET / answered 200 but the content did not contain 'ok'"],
    [check({ path: "/slow", timeoutMs: 300, attempts: 2 }), "GET /slow did not answer within 0.3s"],
  ];
  for (const [c, problem] of cases) {
    const r = await client.healthCheck(id, { port: 5000, timeoutMs: 10_000, checks: [c] });
    assert.deepEqual({ ...r, afterMs: 0 }, { healthy: false, reason: "check", problem, attempts: c.attempts, afterMs: 0 });
  }
  await assert.rejects(
    client.healthCheck(id, { port: 5000, timeoutMs: 100, checks: [check({ path: "health" })] }),
    (e: AgentError) => e.status === 400 && /check\.checks\[0\]\.path: must start with \/, got "health"/.test(e.message),
  );
  await client.remove(id, true);
});
