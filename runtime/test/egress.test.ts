/**
 * Egress: a container with `egress: true` reaches a host beyond this one (through NAT);
 * one without it does not; one limited to listed destinations reaches those and nothing
 * else. None reaches the host itself (any of its addresses) or a link-local address.
 * "Beyond" is a test host of our own: a network namespace with a veth to the host, on a
 * subnet that is not the bridge's, answering on ports 9000 and 9001 (and 169.254.169.254:9000).
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import net from "node:net";
import { after, before, test } from "node:test";
import type { Runtime } from "../src/containers.ts";
import { parseSubnet, type EgressAllowRule } from "../src/network.ts";
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
  // A metadata-style address out there too, routed from the host like any other.
  sh(`ip -n ${NS} addr add 169.254.169.254/32 dev eth0 && ip route replace 169.254.169.254/32 via 10.99.250.2 dev vpt-out`);
  const listen = "for (const p of [9000, 9001]) require('net').createServer(s=>s.end('outside says hi on '+p+'\\n')).listen(p,()=>p===9001&&console.log('up'))";
  server = spawn("ip", ["netns", "exec", NS, process.execPath, "-e", listen], { stdio: ["ignore", "pipe", "inherit"] });
  await new Promise((r) => server.stdout!.once("data", r));
});

after(async () => {
  server.kill();
  spawnSync("ip", ["netns", "del", NS]);
  spawnSync("ip", ["route", "del", "169.254.169.254/32"]);
  spawnSync("ip", ["link", "del", "vpt-out"]);
  await cleanup();
});

/** What a container says after trying `nc` to each target ("host port"): the answer, or "failed <target>". */
async function tryConnect(egress: boolean, targets = ["10.99.250.2 9000"], egressAllow?: EgressAllowRule[]): Promise<string[]> {
  const script = targets.map((t) => `nc -w 2 ${t} </dev/null 2>/dev/null || echo "failed ${t}"`).join("; ");
  const c = rt.create({ image: "stack/busybox", cmd: ["sh", "-c", script], memoryBytes: 32 << 20, cgroupParent: "t/e", network: "bridge", egress, egressAllow });
  await rt.start(c.id);
  await rt.wait(c.id);
  const lines: string[] = [];
  for await (const l of rt.logLines(c.id)) lines.push(JSON.parse(l).line);
  await rt.remove(c.id);
  return lines;
}

test("a container with egress reaches beyond the host", async () => {
  assert.deepEqual(await tryConnect(true), ["outside says hi on 9000"]);
});

test("a container without egress does not", async () => {
  const lines = await tryConnect(false);
  assert.deepEqual(lines, ["failed 10.99.250.2 9000"]);
});

test("a container limited to listed destinations reaches those and no other port or address; its entries go with it", async () => {
  const lines = await tryConnect(false, ["10.99.250.2 9000", "10.99.250.2 9001", "169.254.169.254 9000"], [{ cidr: "10.99.250.2/32", port: 9000 }]);
  assert.deepEqual(lines, ["outside says hi on 9000", "failed 10.99.250.2 9001", "failed 169.254.169.254 9000"]);
  const net = spawnSync("ipset", ["list", `pl-${rt.opts.bridge}`], { encoding: "utf8" });
  assert.equal(net.status, 0, net.stderr);
  assert.doesNotMatch(net.stdout, /10\.99\.250\.2/, "the removed container's entries left the set");
});

test("a listed network: any address in it, on the listed port", async () => {
  const lines = await tryConnect(false, ["10.99.250.2 9001", "10.99.250.2 9000"], [{ cidr: "10.99.250.0/24", port: 9001 }]);
  assert.deepEqual(lines, ["outside says hi on 9001", "failed 10.99.250.2 9000"]);
});

test("a link-local (metadata) address is out of reach even with egress", async () => {
  assert.deepEqual(await tryConnect(true, ["169.254.169.254 9000", "10.99.250.2 9000"]), ["failed 169.254.169.254 9000", "outside says hi on 9000"]);
});

test("the host itself is out of reach on every address, with egress or limited to it", async () => {
  const listener = net.createServer((s) => s.end("host says hi\n"));
  await new Promise<void>((r) => listener.listen(0, "0.0.0.0", r));
  const port = (listener.address() as net.AddressInfo).port;
  try {
    // the gateway (the host on the bridge) and the host's address on another interface
    // (its 127.0.0.0/8 is a martian on the bridge: route_localnet stays off, network.ts)
    const gateway = parseSubnet(rt.opts.subnet).gateway;
    const targets = [`${gateway} ${port}`, `10.99.250.1 ${port}`];
    const allow = [{ cidr: `${gateway}/32`, port }, { cidr: "10.99.250.1/32", port }];
    for (const [egress, egressAllow] of [[true, undefined], [false, allow]] as const) {
      assert.deepEqual(await tryConnect(egress, targets, egressAllow), targets.map((t) => `failed ${t}`), `egress ${egress}, allow ${JSON.stringify(egressAllow)}`);
    }
  } finally {
    listener.close();
  }
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
