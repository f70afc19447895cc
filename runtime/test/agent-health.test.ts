/**
 * POST /v1/containers/:id/health: the agent waits on its side of the bridge until a container
 * answers HTTP on a port, and tells "the process exited first" from "no answer in time".
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { AgentClient, AgentError, type ContainerSpec } from "@paas/shared/agent-api";
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
  await assert.rejects(client.healthCheck(created.id, { port: 0, timeoutMs: 100 }), (e: AgentError) => e.status === 400 && /check\.port: Too small/.test(e.message));
  await assert.rejects(client.healthCheck("nope", { port: 5000, timeoutMs: 100 }), (e: AgentError) => e.status === 404);
  const offBridge = await client.createContainer({ image: "stack/busybox", cmd: ["sleep", "100"], memoryBytes: 32 << 20, cgroupParent: "thc/app", network: "none" });
  await client.start(offBridge.id);
  await assert.rejects(client.healthCheck(offBridge.id, { port: 5000, timeoutMs: 100 }), (e: AgentError) => e.status === 409 && /no address on the bridge/.test(e.message));
  await client.remove(created.id, true);
  await client.remove(offBridge.id, true);
});
