/**
 * Test fixtures: a Runtime on its own data dir, bridge, subnet and cgroup root. Its cleanup
 * leaves the host as found: containers removed, the bridge and its firewall rules gone,
 * the disk pool emptied, every cgroup node below the test's root removed (by the driver the
 * runtime uses, v1 or v2), the data dir deleted.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { AgentClient } from "@paas/shared/agent-api";
import { createAgentServer } from "../src/agent/server.ts";
import { detectCgroupDriver } from "../src/cgroups.ts";
import { Runtime } from "../src/containers.ts";
import { Layout } from "../src/paths.ts";
import { runSyncOk } from "../src/util.ts";

/** The cgroup driver the runtime picks on this host (cgroups.ts): tests read cgroups through it. */
export const cgroups = detectCgroupDriver();

/** Removes what a test runtime made on the host (see the header), then its data dir. */
export async function cleanupRuntime(rt: Runtime) {
  for (const c of rt.list()) await rt.remove(c.id, { force: true }).catch(() => {});
  await rt.teardown();
  // the test's cgroup root, and the team/app levels below it
  cgroups.removeTree(rt.opts.cgroupRoot);
  fs.rmSync(rt.opts.dataDir, { recursive: true, force: true });
}

export async function testRuntime(tag: string, subnetOctet: number) {
  runSyncOk(path.resolve(import.meta.dirname, "../native/build.sh"), []);
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), `paas-rt-${tag}-`));
  const rt = new Runtime({ dataDir, bridge: `paast${tag}0`.slice(0, 15), subnet: `10.99.${subnetOctet}.0/24`, cgroupRoot: `paas-test-${tag}` });
  await rt.init();
  await rt.images.ensureStacks();
  const cleanup = () => cleanupRuntime(rt);
  // where the runtime keeps its files, and its cgroup driver: for tests that look at them
  return { rt, dataDir, cleanup, layout: new Layout(dataDir), cgroups };
}

/**
 * A test runtime behind the agent's HTTP API on a free loopback port, and a client of it (the
 * worker's own AgentClient). `close` stops the server and cleans the runtime up.
 */
export async function testAgent(tag: string, subnetOctet: number, opts: Parameters<typeof createAgentServer>[1] = {}) {
  const t = await testRuntime(tag, subnetOctet);
  const server = createAgentServer(t.rt, opts);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const close = async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
    await t.cleanup();
  };
  return { ...t, url, client: new AgentClient(url), close };
}

/** Until `cond` holds, checked every 20 ms; fails after `ms` naming what it waited for. */
export async function until(what: string, cond: () => boolean | Promise<boolean>, ms = 15_000) {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A tar (as a Buffer) of the given files, made with the system's tar. */
export function makeTar(files: Record<string, string>): Buffer {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "paas-tar-"));
  for (const [name, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    fs.writeFileSync(path.join(dir, name), text);
  }
  const out = spawnSync("tar", ["-C", dir, "-cf", "-", "."]);
  fs.rmSync(dir, { recursive: true, force: true });
  return out.stdout;
}

/** A TCP port nobody listens on now. */
export async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, "127.0.0.1", () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
}

/** The agent as production starts it, on `env`'s data dir; resolves once it listens. */
export function startAgent(env: NodeJS.ProcessEnv): Promise<ChildProcess> {
  // node itself (not the tsx wrapper), so that a SIGKILL hits the agent and nothing else.
  const p = spawn(process.execPath, ["--import", "tsx", "runtime/src/agent/main.ts"], { cwd: path.resolve(import.meta.dirname, "../.."), env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "inherit"] });
  return new Promise((resolve, reject) => {
    let out = "";
    p.stdout!.on("data", (d) => {
      out += d;
      if (out.includes("listening on")) resolve(p);
    });
    p.on("exit", (code) => reject(new Error(`agent exited (${code}): ${out}`)));
  });
}
