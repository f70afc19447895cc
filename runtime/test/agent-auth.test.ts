/**
 * The agent's token (PAAS_AGENT_TOKEN): with one, every route refuses a request without it
 * (401, nothing changed); without one (the loopback default) no token is needed; off loopback
 * the agent does not start without one.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import fs from "node:fs";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";
import { AgentClient, AgentError } from "@paas/shared/agent-api";
import { createAgentServer } from "../src/agent/server.ts";
import { testRuntime } from "./helpers.ts";

const TOKEN = "t0ken-for-the-agent-test-0123456789";
let guarded: AgentClient;
let open: AgentClient;
let close: () => Promise<void>;

before(async () => {
  const { rt, cleanup } = await testRuntime("au", 74);
  const withToken = createAgentServer(rt, { token: TOKEN });
  const without = createAgentServer(rt);
  await new Promise<void>((r) => withToken.listen(0, "127.0.0.1", r));
  await new Promise<void>((r) => without.listen(0, "127.0.0.1", r));
  guarded = new AgentClient(`http://127.0.0.1:${(withToken.address() as AddressInfo).port}`, TOKEN);
  open = new AgentClient(`http://127.0.0.1:${(without.address() as AddressInfo).port}`);
  close = async () => {
    for (const s of [withToken, without]) {
      s.closeAllConnections();
      await new Promise((r) => s.close(r));
    }
    await cleanup();
  };
});
after(async () => close());

const spec = { image: "stack/busybox", cmd: ["true"], memoryBytes: 32 << 20, cgroupParent: "tau/app", network: "none" as const };

test("without the right bearer token every route answers 401 and changes nothing", async () => {
  const base = guarded.baseUrl;
  const was = { containers: await guarded.containers(), volumes: await guarded.volumes() };
  const attempts: [string, Record<string, string>][] = [
    ["no header", {}],
    ["a wrong token", { authorization: "Bearer wrong-token-of-the-same-length-xx" }],
    ["the token one character short", { authorization: `Bearer ${TOKEN.slice(0, -1)}` }],
    ["the token as Basic", { authorization: `Basic ${TOKEN}` }],
    ["the token without a scheme", { authorization: TOKEN }],
  ];
  for (const [what, headers] of attempts) {
    for (const [method, p, body] of [
      ["GET", "/v1/health", undefined],
      ["GET", "/v1/containers", undefined],
      ["POST", "/v1/containers", JSON.stringify(spec)],
      ["POST", "/v1/volumes", JSON.stringify({ name: "sneaky" })],
      ["PUT", "/v1/cgroups/tau", JSON.stringify({ pids: 5 })],
    ] as const) {
      const res = await fetch(base + p, { method, headers: { ...headers, "content-type": "application/json" }, body });
      assert.equal(res.status, 401, `${what}: ${method} ${p}`);
      assert.match(((await res.json()) as { error: string }).error, /needs its token: send Authorization: Bearer <PAAS_AGENT_TOKEN>/);
    }
  }
  await assert.rejects(new AgentClient(base).createContainer(spec), (e: AgentError) => e.status === 401);
  await assert.rejects(new AgentClient(base, "wrong-token-of-some-length").health(), (e: AgentError) => e.status === 401);
  assert.deepEqual({ containers: await guarded.containers(), volumes: await guarded.volumes() }, was);
  assert.deepEqual(await guarded.teamLimits("tau"), {});
});

test("the client with the token drives the agent as before", async () => {
  assert.equal((await guarded.health()).ok, true);
  const c = await guarded.createContainer(spec);
  await guarded.start(c.id);
  assert.deepEqual(await guarded.wait(c.id), { exitCode: 0, oomKilled: false });
  assert.deepEqual(await guarded.remove(c.id), { ok: true });
});

test("an agent without a token (the loopback default) needs none", async () => {
  assert.equal((await open.health()).ok, true);
  const c = await open.createContainer(spec);
  assert.deepEqual(await open.remove(c.id), { ok: true });
});

test("off loopback the agent refuses to start without a token, saying which setting to add", async () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "paas-auth-"));
  try {
    const p = spawn(process.execPath, ["--import", "tsx", "runtime/src/agent/main.ts"], {
      cwd: path.resolve(import.meta.dirname, "../.."),
      env: { ...process.env, PAAS_AGENT_HOST: "0.0.0.0", PAAS_AGENT_TOKEN: "", PAAS_DATA_DIR: dataDir, PAAS_AGENT_PORT: "1" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    p.stdout.on("data", (d) => (out += d));
    p.stderr.on("data", (d) => (out += d));
    const code = await new Promise<number | null>((resolve) => {
      const timer = setTimeout(() => p.kill("SIGKILL"), 30_000);
      p.on("exit", (c) => {
        clearTimeout(timer);
        resolve(c);
      });
    });
    assert.equal(code, 1, out);
    assert.match(out, /agent: PAAS_AGENT_HOST=0\.0\.0\.0 lets other machines reach the host agent, so it needs a token: set PAAS_AGENT_TOKEN/);
    assert.deepEqual(fs.readdirSync(dataDir), [], "it made nothing");
  } finally {
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
});
