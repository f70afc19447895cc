/**
 * The agent process as started in production (`tsx runtime/src/agent/main.ts`): containers
 * keep running when it stops (SIGTERM), and a new agent re-adopts them.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";
import { AgentClient } from "@paas/shared/agent-api";
import { Runtime } from "../src/containers.ts";
import { cgroups, cleanupRuntime, freePort, startAgent } from "./helpers.ts";

/** What containers of one test runtime hold on the host, counted from the kernel's side. */
function holdings(dataDir: string, env: Record<string, string>, ids: string[]) {
  const sh = (cmd: string) => spawnSync("sh", ["-c", cmd], { encoding: "utf8" }).stdout;
  const lines = (t: string) => t.split("\n").filter(Boolean);
  // leaves <root>/t/a/<id>, counted in each hierarchy of the runtime's cgroup driver (v1: one per controller)
  const leaves = cgroups.dirs(env.PAAS_CGROUP_ROOT).map((dir) => lines(sh(`find ${dir} -mindepth 3 -maxdepth 3 -type d 2>/dev/null`)).length);
  const netns = lines(sh("ip netns list")).filter((l) => ids.some((id) => l.startsWith(`paas-${id.slice(0, 12)}`))).length;
  const veths = lines(sh(`ip -o link show master ${env.PAAS_BRIDGE} 2>/dev/null`)).length;
  const ipamFile = path.join(dataDir, "runtime/net", `${env.PAAS_BRIDGE}.json`);
  const ipam = fs.existsSync(ipamFile) ? JSON.parse(fs.readFileSync(ipamFile, "utf8")).addresses : {};
  const iptables = lines(sh(`iptables -w -S 2>/dev/null`)).filter((l) => l.includes(env.PAAS_BRIDGE)).length;
  // egress and team membership of each address (network.ts keeps them in ipsets)
  const sets = lines(sh("ipset list -n 2>/dev/null")).filter((n) => n === `pe-${env.PAAS_BRIDGE}` || n.startsWith(`pt-${env.PAAS_BRIDGE}-`));
  const ipsetMembers = sets.reduce((n, set) => n + lines(sh(`ipset list ${set} | sed '1,/^Members:/d'`)).length, 0);
  const mounts = lines(fs.readFileSync("/proc/self/mountinfo", "utf8")).filter((l) => l.includes(dataDir)).length;
  let monitors = 0;
  for (const pid of fs.readdirSync("/proc").filter((p) => /^\d+$/.test(p))) {
    try {
      if (fs.readFileSync(`/proc/${pid}/comm`, "utf8").trim() !== "paas-monitor") continue;
      if (fs.readdirSync(`/proc/${pid}/fd`).some((fd) => fs.readlinkSync(`/proc/${pid}/fd/${fd}`).startsWith(dataDir))) monitors++;
    } catch {}
  }
  return { cgroups: leaves, netns, veths, ipam: Object.keys(ipam).length, iptables, ipsetMembers, mounts, monitors };
}

async function reachable(ip: string, port: number): Promise<string> {
  const res = await fetch(`http://${ip}:${port}/i`, { signal: AbortSignal.timeout(3000) });
  return (await res.text()).trim();
}

test("SIGKILL of the agent: live containers re-adopted, one that died meanwhile cleaned, nothing leaks", { timeout: 120_000 }, async () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "paas-rt-kill-"));
  const port = await freePort();
  const env = { PAAS_DATA_DIR: dataDir, PAAS_AGENT_PORT: String(port), PAAS_BRIDGE: "paastk0", PAAS_SUBNET: "10.99.61.0/24", PAAS_CGROUP_ROOT: "paas-test-k" };
  const client = new AgentClient(`http://127.0.0.1:${port}`);
  let agent = await startAgent(env);
  try {
    const base = holdings(dataDir, env, []);
    const cs = [];
    for (let i = 0; i < 3; i++) {
      const c = await client.createContainer({
        image: "stack/busybox",
        cmd: ["sh", "-c", `echo c${i} > /tmp/i; exec httpd -f -p 8080 -h /tmp`],
        memoryBytes: 32 << 20,
        cgroupParent: "t/a",
        network: "bridge",
        egress: true, // an iptables rule per container, to count
        // the one that will die has a volume: its root and the volume are mounted on the host
        ...(i === 2 ? { volumes: [{ name: "surv", path: "/data" }] } : {}),
      });
      cs.push(await client.start(c.id));
    }
    const ids = cs.map((c) => c.id);
    for (let i = 0; i < 3; i++) assert.equal(await reachable(cs[i].ip!, 8080), `c${i}`);
    const three = holdings(dataDir, env, ids);
    console.log("before:", JSON.stringify(base), "\nthree running:", JSON.stringify(three));
    assert.deepEqual(three.cgroups, three.cgroups.map(() => 3));
    assert.equal(three.netns, 3);
    assert.equal(three.veths, 3);
    assert.equal(three.ipam, 3);
    assert.equal(three.ipsetMembers, 6); // egress set + team set, per container
    assert.equal(three.monitors, 3);
    assert.equal(three.mounts, base.mounts + 2); // overlay root + volume of the third

    agent.kill("SIGKILL");
    await new Promise((r) => agent.once("exit", r));
    // The third container dies while no agent watches.
    process.kill(cs[2].pid!, "SIGKILL");
    for (let i = 0; i < 100 && !fs.existsSync(path.join(dataDir, "runtime/containers", ids[2], "status.json")); i++) await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(holdings(dataDir, env, ids), { ...three, monitors: 2 }); // nobody has cleaned yet

    agent = await startAgent(env);
    for (const c of cs.slice(0, 2)) {
      const info = await client.container(c.id);
      assert.equal(info.state, "running");
      assert.equal(info.pid, c.pid);
      assert.equal(info.ip, c.ip);
    }
    assert.equal(await reachable(cs[0].ip!, 8080), "c0");
    assert.equal(await reachable(cs[1].ip!, 8080), "c1");
    const dead = await client.container(ids[2]);
    assert.equal(dead.state, "exited");
    assert.equal(dead.exitCode, 137);
    const after = holdings(dataDir, env, ids);
    console.log("after restart:", JSON.stringify(after));
    assert.deepEqual(after, { cgroups: three.cgroups.map(() => 2), netns: 2, veths: 2, ipam: 2, iptables: three.iptables, ipsetMembers: 4, mounts: base.mounts, monitors: 2 });
    assert.deepEqual(fs.readdirSync(path.join(dataDir, "runtime/containers", ids[2], "work")), []);

    for (const id of ids) await client.remove(id, true);
    await client.removeVolume("surv");
    const end = holdings(dataDir, env, ids);
    console.log("all removed:", JSON.stringify(end));
    // the team's one iptables rule stays with the bridge; nothing per container does
    assert.deepEqual(end, { ...base, iptables: three.iptables });
  } finally {
    agent.kill("SIGTERM");
    await new Promise((r) => (agent.exitCode !== null || agent.signalCode !== null ? r(null) : agent.once("exit", r)));
    // containers a failed assertion left behind, the bridge, cgroup nodes, the data dir
    await cleanupRuntime(new Runtime({ dataDir, bridge: env.PAAS_BRIDGE, subnet: env.PAAS_SUBNET, cgroupRoot: env.PAAS_CGROUP_ROOT }));
  }
});

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
    await cleanupRuntime(new Runtime({ dataDir, bridge: env.PAAS_BRIDGE, subnet: env.PAAS_SUBNET, cgroupRoot: env.PAAS_CGROUP_ROOT }));
  }
});

test("a monitor that dies without recording the exit: the agent's scan records it (255) and frees the container; with no agent up, the next agent's adoption does", { timeout: 120_000 }, async () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "paas-rt-lost-"));
  const port = await freePort();
  const env = { PAAS_DATA_DIR: dataDir, PAAS_AGENT_PORT: String(port), PAAS_BRIDGE: "paastl0", PAAS_SUBNET: "10.99.76.0/24", PAAS_CGROUP_ROOT: "paas-test-lost" };
  const client = new AgentClient(`http://127.0.0.1:${port}`);
  const dir = (id: string) => path.join(dataDir, "runtime/containers", id);
  // the monitor first (so nobody writes status.json), then the container's init
  const killBoth = (id: string, pid: number) => {
    process.kill(Number(fs.readFileSync(path.join(dir(id), "monitor.pid"), "utf8")), "SIGKILL");
    process.kill(pid, "SIGKILL");
  };
  const exitedLost = async (id: string, ms: number) => {
    for (const end = Date.now() + ms; ; await new Promise((r) => setTimeout(r, 50))) {
      const c = await client.container(id);
      if (c.state === "exited") return c;
      if (Date.now() > end) throw new Error(`container ${id} still reads ${c.state} ${ms} ms after its monitor died`);
    }
  };
  let agent = await startAgent(env);
  try {
    const spec = { image: "stack/busybox", cmd: ["sleep", "600"], memoryBytes: 32 << 20, cgroupParent: "t/a", network: "none" as const };
    const [a, b] = [await client.start((await client.createContainer(spec)).id), await client.start((await client.createContainer(spec)).id)];
    killBoth(a.id, a.pid!);
    // the scan runs every second; its check reads the pid once, then the exit watch fires
    const lost = await exitedLost(a.id, 5000);
    assert.equal(lost.exitCode, 255);
    assert.equal(cgroups.exists(`paas-test-lost/t/a/${a.id}`), false, "its cgroup freed");

    agent.kill("SIGKILL");
    await new Promise((r) => agent.once("exit", r));
    killBoth(b.id, b.pid!);
    assert.equal(fs.existsSync(path.join(dir(b.id), "status.json")), false, "nothing recorded the exit");
    agent = await startAgent(env);
    // adopted at start, before the agent answers: exited at its first answer
    const adopted = await client.container(b.id);
    assert.equal(adopted.state, "exited");
    assert.equal(adopted.exitCode, 255);
    assert.equal(cgroups.exists(`paas-test-lost/t/a/${b.id}`), false, "its cgroup freed");
  } finally {
    agent.kill("SIGTERM");
    await new Promise((r) => (agent.exitCode !== null || agent.signalCode !== null ? r(null) : agent.once("exit", r)));
    await cleanupRuntime(new Runtime({ dataDir, bridge: env.PAAS_BRIDGE, subnet: env.PAAS_SUBNET, cgroupRoot: env.PAAS_CGROUP_ROOT }));
  }
});
