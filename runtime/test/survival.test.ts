/**
 * The agent process as started in production (`tsx runtime/src/agent/main.ts`): containers
 * keep running when it stops (SIGTERM), and a new agent re-adopts them.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";
import { AgentClient } from "@paas/shared/agent-api";
import { BridgeNetwork } from "../src/network.ts";
import { Layout } from "../src/paths.ts";

const repo = path.resolve(import.meta.dirname, "../..");

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, "127.0.0.1", () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
}

function startAgent(env: NodeJS.ProcessEnv): Promise<ChildProcess> {
  const p = spawn(path.join(repo, "node_modules/.bin/tsx"), ["runtime/src/agent/main.ts"], { cwd: repo, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "inherit"] });
  return new Promise((resolve, reject) => {
    let out = "";
    p.stdout!.on("data", (d) => {
      out += d;
      if (out.includes("listening on")) resolve(p);
    });
    p.on("exit", (code) => reject(new Error(`agent exited (${code}): ${out}`)));
  });
}

test("containers outlive the agent and are re-adopted", { timeout: 120_000 }, async () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "paas-rt-surv-"));
  const port = await freePort();
  const env = { PAAS_DATA_DIR: dataDir, PAAS_AGENT_PORT: String(port), PAAS_BRIDGE: "paastc0", PAAS_SUBNET: "10.99.3.0/24", PAAS_CGROUP_ROOT: "paas-test-c" };
  const client = new AgentClient(`http://127.0.0.1:${port}`);
  let agent = await startAgent(env);
  try {
    const c = await client.createContainer({ image: "stack/busybox", cmd: ["sh", "-c", "i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.2; done"], memoryBytes: 32 << 20, cgroupParent: "t/a", network: "bridge" });
    const started = await client.start(c.id);
    agent.kill("SIGTERM");
    await new Promise((r) => agent.once("exit", r));
    process.kill(started.pid!, 0); // still alive without the agent
    await new Promise((r) => setTimeout(r, 500));
    agent = await startAgent(env);
    const info = await client.container(c.id);
    assert.equal(info.state, "running");
    assert.equal(info.pid, started.pid);
    assert.equal(info.ip, started.ip);
    const seen: string[] = [];
    for await (const l of client.logs(c.id, { follow: true })) {
      seen.push(l.line);
      if (seen.length === 6) break;
    }
    assert.match(seen[5], /^tick \d+$/);
    await client.remove(c.id, true);
    assert.deepEqual(await client.containers(), []);
  } finally {
    agent.kill("SIGTERM");
    await new Promise((r) => agent.once("exit", r));
    await new BridgeNetwork(new Layout(dataDir), { bridge: env.PAAS_BRIDGE, subnet: env.PAAS_SUBNET }).teardownHost();
    for (const ctrl of ["memory", "cpu", "pids"]) {
      const root = `/sys/fs/cgroup/${ctrl}/${env.PAAS_CGROUP_ROOT}`;
      if (fs.existsSync(root)) spawnSync("find", [root, "-depth", "-type", "d", "-exec", "rmdir", "{}", ";"]);
    }
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
});
