/**
 * infra/up and infra/down as a user meets them: up refuses ports another process holds (it
 * had health-checked that process and printed "PaaS is up"), a foreground up ends when down
 * is run from another terminal, down leaves no bridge, cgroup node, firewall rule or ipset
 * of its platform behind, and both find an agent that listens on one non-loopback address.
 */
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { once } from "node:events";
import { AgentClient } from "@paas/shared";
import { ROOT, sh, startPlatform } from "../helpers/platform.ts";

/** Resolves with what `child` printed once `pattern` shows in its stdout; rejects on exit or after `ms`. */
function waitForOutput(child: ChildProcess, pattern: RegExp, ms: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => done(new Error(`no ${pattern} within ${ms / 1000} s:\n${out}`)), ms);
    const onData = (d: Buffer) => {
      out += d;
      if (pattern.test(out)) done();
    };
    const onExit = (code: number | null) => done(new Error(`exited (${code}) before ${pattern}:\n${out}`));
    const done = (err?: Error) => {
      clearTimeout(timer);
      child.stdout!.off("data", onData);
      child.stderr!.off("data", onData);
      child.off("exit", onExit);
      if (err) reject(err);
      else resolve(out);
    };
    child.stdout!.on("data", onData);
    child.stderr!.on("data", onData);
    child.on("exit", onExit);
  });
}

/** Everything a platform's agent puts on the host, for its bridge and cgroup root. */
function hostTraces(env: NodeJS.ProcessEnv) {
  const bridge = env.PAAS_BRIDGE!;
  const cgroupRoot = env.PAAS_CGROUP_ROOT!;
  const cgroups = [path.join("/sys/fs/cgroup", cgroupRoot)]
    .concat(fs.readdirSync("/sys/fs/cgroup").map((c) => path.join("/sys/fs/cgroup", c, cgroupRoot)))
    .filter((d) => fs.existsSync(d));
  const rules = [
    ...["filter", "nat"].map((table) => sh("iptables", ["-w", "-t", table, "-S"]).then((r) => r.stdout.split("\n").filter((l) => l.includes(bridge)))),
    // IPv6 from the bridge is dropped (network.ts): those rules go too.
    sh("ip6tables", ["-w", "-S"]).then((r) => r.stdout.split("\n").filter((l) => l.includes(bridge))),
  ];
  return Promise.all(rules).then(async (lists) => ({
    bridge: fs.existsSync(`/sys/class/net/${bridge}`),
    cgroups,
    rules: lists.flat(),
    ipsets: (await sh("ipset", ["list", "-n"])).stdout.split("\n").filter((s) => s === `pe-${bridge}` || s === `pl-${bridge}` || s.startsWith(`pt-${bridge}-`)),
  }));
}

describe("infra/up and infra/down", { timeout: 10 * 60_000 }, () => {
  const cleanups: (() => Promise<unknown>)[] = [];
  after(async () => {
    for (const c of cleanups.reverse()) await c().catch(() => {});
  });

  test("up refuses a port another process holds, naming it, and starts nothing", async () => {
    const agentPort = 4141;
    // Another platform's agent, as far as a health check can tell: 200 to everything.
    const other = spawn(process.execPath, ["-e", `require("http").createServer((q, s) => s.end("{}")).listen(${agentPort}, "127.0.0.1", () => console.log("listening"))`], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    cleanups.push(async () => other.kill());
    await waitForOutput(other, /listening/, 10_000);

    await assert.rejects(startPlatform("ports", 4050, { PAAS_AGENT_PORT: String(agentPort) }), (err: Error) => {
      assert.doesNotMatch(err.message, /PaaS is up/);
      assert.match(err.message, new RegExp(`port ${agentPort} \\(PAAS_AGENT_PORT, for the agent\\) is in use by \\S*node .*\\(pid ${other.pid}\\)`));
      return true;
    });
    // Nothing of ours was started: Redis's, the dashboard's and the router's ports are free.
    for (const port of [4050 + 79, 4050, 4050 + 80]) {
      const r = await sh("ss", ["-Hltn", `sport = :${port}`]);
      assert.equal(r.stdout.trim(), "", `port ${port} should be free`);
    }
    assert.equal(other.exitCode, null, "the other process is left alone");
  });

  test("a platform's stop() leaves no bridge, cgroup node, iptables rule, ipset or data dir", async () => {
    const p = await startPlatform("down", 4150);
    cleanups.push(() => p.stop());
    // A running container: its team's cgroup nodes, its address in the egress ipset.
    const agent = new AgentClient(`http://127.0.0.1:${p.env.PAAS_AGENT_PORT}`);
    const { id } = await agent.createContainer({
      image: "stack/busybox",
      cmd: ["sleep", "600"],
      memoryBytes: 32 << 20,
      cgroupParent: "someteam/someapp",
      network: "bridge",
      egress: true,
    });
    await agent.start(id);
    const before = await hostTraces(p.env);
    assert.ok(before.bridge && before.cgroups.length > 0 && before.rules.length > 0 && before.ipsets.length > 0, `the platform should have made them: ${JSON.stringify(before)}`);

    await p.stop();
    assert.deepEqual(await hostTraces(p.env), { bridge: false, cgroups: [], rules: [], ipsets: [] });
    assert.equal(fs.existsSync(p.dataDir), false, "the data dir goes too");
  });

  test("up and down reach an agent that listens on one non-loopback address (PAAS_AGENT_HOST)", async () => {
    // A bridge of our own (no ports) gives the host an address that is not loopback, ours to remove.
    const ifname = "paasagt0";
    const addr = "10.231.250.1";
    cleanups.push(() => sh("ip", ["link", "del", ifname]));
    for (const args of [["link", "add", ifname, "type", "bridge"], ["addr", "add", `${addr}/32`, "dev", ifname], ["link", "set", ifname, "up"]]) {
      const r = await sh("ip", args);
      assert.equal(r.code, 0, `ip ${args.join(" ")}: ${r.stderr}`);
    }
    const token = randomBytes(16).toString("hex");
    // Before the fix up health-checked 127.0.0.1 and gave up after 300 s; down's removal of the
    // containers failed quietly, and their cgroup nodes stayed.
    const p = await startPlatform("agenthost", 4450, { PAAS_AGENT_HOST: addr, PAAS_AGENT_TOKEN: token });
    cleanups.push(() => p.stop());
    const port = p.env.PAAS_AGENT_PORT!;
    const listening = (await sh("ss", ["-Hltn", `sport = :${port}`])).stdout;
    assert.match(listening, new RegExp(`${addr.replaceAll(".", "\\.")}:${port}\\b`), "the agent listens on that address");
    assert.doesNotMatch(listening, /127\.0\.0\.1:/, "and not on loopback");

    const agent = new AgentClient(`http://${addr}:${port}`, token);
    const { id } = await agent.createContainer({ image: "stack/busybox", cmd: ["sleep", "600"], memoryBytes: 32 << 20, cgroupParent: "someteam/someapp", network: "none" });
    await agent.start(id);
    assert.ok((await hostTraces(p.env)).cgroups.length > 0, "the running container has its cgroup nodes");

    await p.stop();
    assert.deepEqual(await hostTraces(p.env), { bridge: false, cgroups: [], rules: [], ipsets: [] });
  });

  test("a foreground up ends when ./infra/down is run from another terminal", async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "paas-fg-"));
    const env = {
      ...process.env,
      PAAS_DATA_DIR: dataDir,
      PAAS_WEB_PORT: "4250",
      PAAS_HTTP_PORT: "4330",
      PAAS_HTTPS_PORT: "4343",
      PAAS_AGENT_PORT: "4341",
      PAAS_REDIS_PORT: "4329",
      PAAS_BRIDGE: "paasfg0",
      PAAS_SUBNET: "10.201.165.0/24",
      PAAS_CGROUP_ROOT: "paas-fg",
    };
    const up = spawn(path.join(ROOT, "infra/up"), [], { env, cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
    cleanups.push(async () => {
      await sh(path.join(ROOT, "infra/down"), [], { env, cwd: ROOT });
      fs.rmSync(dataDir, { recursive: true, force: true });
    });
    await waitForOutput(up, /running in the foreground/, 5 * 60_000);

    const exited = once(up, "exit");
    const down = await sh(path.join(ROOT, "infra/down"), [], { env, cwd: ROOT });
    assert.equal(down.code, 0, down.stderr);
    const [code] = (await Promise.race([exited, new Promise((r) => setTimeout(() => r(["still running 30 s after down"]), 30_000))])) as [unknown];
    assert.equal(code, 0);
  });
});
