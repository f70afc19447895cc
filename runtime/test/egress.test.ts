/**
 * Egress: a container with `egress: true` reaches a host beyond this one (through NAT);
 * one without it does not. "Beyond" is a test host of our own: a network namespace
 * with a veth to the host, on a subnet that is not the bridge's.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { after, before, test } from "node:test";
import type { Runtime } from "../src/containers.ts";
import { testRuntime } from "./helpers.ts";

const NS = "paas-t-outside";
let rt: Runtime;
let cleanup: () => Promise<void>;
let server: ChildProcess;

function sh(cmd: string) {
  const r = spawnSync("sh", ["-c", cmd], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`${cmd}: ${r.stderr}`);
}

before(async () => {
  ({ rt, cleanup } = await testRuntime("e", 5));
  spawnSync("ip", ["netns", "del", NS]);
  sh(`ip netns add ${NS} && ip link add vpt-out type veth peer name eth0 netns ${NS} && ip addr add 10.99.250.1/24 dev vpt-out && ip link set vpt-out up`);
  sh(`ip -n ${NS} addr add 10.99.250.2/24 dev eth0 && ip -n ${NS} link set eth0 up && ip -n ${NS} link set lo up`);
  server = spawn("ip", ["netns", "exec", NS, process.execPath, "-e", "require('net').createServer(s=>s.end('outside says hi\\n')).listen(9000,()=>console.log('up'))"], { stdio: ["ignore", "pipe", "inherit"] });
  await new Promise((r) => server.stdout!.once("data", r));
});

after(async () => {
  server.kill();
  spawnSync("ip", ["netns", "del", NS]);
  spawnSync("ip", ["link", "del", "vpt-out"]);
  await cleanup();
});

async function tryConnect(egress: boolean): Promise<string[]> {
  const c = rt.create({ image: "stack/busybox", cmd: ["sh", "-c", "nc -w 2 10.99.250.2 9000 </dev/null || echo failed"], memoryBytes: 32 << 20, cgroupParent: "t/e", network: "bridge", egress });
  await rt.start(c.id);
  await rt.wait(c.id);
  const lines: string[] = [];
  for await (const l of rt.logLines(c.id)) lines.push(JSON.parse(l).line);
  await rt.remove(c.id);
  return lines;
}

test("a container with egress reaches beyond the host", async () => {
  assert.deepEqual(await tryConnect(true), ["outside says hi"]);
});

test("a container without egress does not", async () => {
  const lines = await tryConnect(false);
  assert.equal(lines.at(-1), "failed");
  assert.ok(!lines.includes("outside says hi"));
});

// The build path: npm inside stack/node reaches the registry through NAT and the host's
// resolver, trusting the host's CA bundle. Needs the npm registry (CI has it).
test("npm install of a small package works in a container with egress", { skip: process.env.PAAS_TEST_OFFLINE ? "PAAS_TEST_OFFLINE set" : false, timeout: 120_000 }, async () => {
  const c = rt.create({ image: "stack/node", cmd: ["sh", "-c", "npm init -y >/dev/null && npm install --no-audit --no-fund is-number@7.0.0 2>&1 | tail -2 && node -e 'console.log(require(\"is-number\")(5))'"], memoryBytes: 512 << 20, cgroupParent: "t/build", network: "bridge", egress: true });
  await rt.start(c.id);
  const w = await rt.wait(c.id);
  const lines: string[] = [];
  for await (const l of rt.logLines(c.id)) lines.push(JSON.parse(l).line);
  assert.equal(w.exitCode, 0, lines.join("\n"));
  assert.equal(lines.at(-1), "true");
  await rt.remove(c.id);
});
