/**
 * Named volumes (outlive containers, read-only mounts, in-use refusal, optional quota) and
 * pods: a sidecar joins a running app's network namespace (localhost) and its volumes,
 * leaves without disturbing it, and the namespace outlives its first container while
 * members still use it.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import { after, before, test } from "node:test";
import type { AddressInfo } from "node:net";
import { AgentClient, type AgentError, type ContainerSpec } from "@paas/shared/agent-api";
import { createAgentServer } from "../src/agent/server.ts";
import type { Runtime } from "../src/containers.ts";
import { testRuntime } from "./helpers.ts";

let rt: Runtime;
let dataDir: string;
let cleanup: () => Promise<void>;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

before(async () => {
  ({ rt, dataDir, cleanup } = await testRuntime("p", 63));
});
after(async () => {
  for (const c of rt.list()) await rt.remove(c.id, { force: true }).catch(() => {});
  for (const v of rt.volumeList()) await rt.removeVolume(v.name).catch(() => {});
  await cleanup();
});

const busybox = (cmd: string, more: Partial<ContainerSpec> = {}): ContainerSpec => ({ image: "stack/busybox", cmd: ["sh", "-c", cmd], memoryBytes: 32 << 20, cgroupParent: "t/p", network: "none", ...more });

async function output(id: string): Promise<string> {
  const lines: string[] = [];
  for await (const l of rt.logLines(id)) lines.push(JSON.parse(l).line);
  return lines.join("\n");
}

async function runToEnd(spec: ContainerSpec): Promise<{ code: number; out: string; id: string }> {
  const c = rt.create(spec);
  await rt.start(c.id);
  const r = await rt.wait(c.id);
  return { code: r.exitCode, out: await output(c.id), id: c.id };
}

/** Mounts on the host for containers (volume roots); quota volumes' own filesystems are not counted. */
const hostMounts = () => fs.readFileSync("/proc/self/mountinfo", "utf8").split("\n").filter((l) => l.includes(path.join(dataDir, "runtime/containers"))).length;

async function until(what: string, cond: () => boolean | Promise<boolean>, ms = 10_000) {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

test("a named volume outlives its container; read-only mounts; removal refused while in use", { timeout: 60_000 }, async () => {
  await rt.createVolume("v1");
  const w = await runToEnd(busybox("echo kept > /data/f && mkdir -p /data/sub && echo deep > /data/sub/g && echo written", { volumes: [{ name: "v1", path: "/data" }] }));
  assert.equal(w.code, 0, w.out);
  assert.equal(w.out, "written");
  await rt.remove(w.id);
  assert.equal(hostMounts(), 0, "no host mounts left after the container");

  const r = await runToEnd(busybox("cat /mnt/v/f /mnt/v/sub/g; { echo x > /mnt/v/f; } 2>&1 || echo refused", { volumes: [{ name: "v1", path: "/mnt/v", readOnly: true }] }));
  assert.equal(r.code, 0, r.out);
  assert.match(r.out, /^kept\ndeep\n.*Read-only file system\nrefused$/s);
  await assert.rejects(rt.removeVolume("v1"), (e: Error & { status: number }) => e.status === 409 && /used by/.test(e.message));
  await rt.remove(r.id);
  await rt.removeVolume("v1");
  assert.equal(fs.existsSync(path.join(dataDir, "runtime/volumes/v1")), false);
  assert.deepEqual(rt.volumeList(), []);
});

test("volumes through the agent's API", { timeout: 30_000 }, async () => {
  const server = createAgentServer(rt);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const client = new AgentClient(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
  try {
    const v = await client.createVolume({ name: "api1", labels: { app: "x" } });
    assert.equal(v.name, "api1");
    assert.ok(fs.existsSync(v.path));
    await assert.rejects(client.createVolume({ name: "api1" }), (e: AgentError) => e.status === 409);
    await assert.rejects(client.createVolume({ name: "../x" }), (e: AgentError) => e.status === 400);
    assert.deepEqual((await client.volumes()).map((x) => x.name), ["api1"]);
    assert.equal((await client.volume("api1")).labels.app, "x");
    const c = await client.createContainer(busybox("true", { volumes: [{ name: "api1", path: "/v" }] }));
    await assert.rejects(client.removeVolume("api1"), (e: AgentError) => e.status === 409);
    await client.remove(c.id);
    await client.removeVolume("api1");
    await assert.rejects(client.volume("api1"), (e: AgentError) => e.status === 404);
  } finally {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  }
});

test("a volume mount that would follow a symlink out of the root is refused", { timeout: 30_000 }, async () => {
  // An image whose /escape is a symlink to the host's idea of "/" (made by a container, committed).
  const c = rt.create(busybox("ln -s / /escape && ln -s /tmp /tmplink"));
  await rt.start(c.id);
  assert.equal((await rt.wait(c.id)).exitCode, 0);
  await rt.commit(c.id, "test/with-link:1");
  await rt.remove(c.id);
  for (const target of ["/escape/etc/x", "/tmplink"]) {
    const bad = rt.create({ ...busybox("true"), image: "test/with-link:1", volumes: [{ name: "v2", path: target }] });
    await assert.rejects(rt.start(bad.id), /is a symlink in the image/);
    assert.equal(hostMounts(), 0);
    await rt.remove(bad.id);
  }
  assert.equal(fs.existsSync("/etc/x"), false, "nothing made on the host");
  const notDir = rt.create(busybox("true", { volumes: [{ name: "v2", path: "/bin/sh/x" }] }));
  await assert.rejects(rt.start(notDir.id), /not a directory in the image|symlink/);
  await rt.remove(notDir.id);
  rt.images.remove("test/with-link:1");
  await rt.removeVolume("v2");
});

test("a volume with a size cap: writes beyond it get ENOSPC; its use is what it holds", { timeout: 60_000, skip: !fs.existsSync(path.resolve(import.meta.dirname, "../src/limits/disk.ts")) && "no limits/disk.ts" }, async () => {
  await rt.createVolume("small", { sizeBytes: 16 << 20 });
  const r = await runToEnd(busybox("dd if=/dev/zero of=/q/big bs=1M count=64 2>&1; ls -l /q/big | awk '{print $5}'", { volumes: [{ name: "small", path: "/q" }] }));
  assert.match(r.out, /No space left on device/);
  const size = Number(r.out.split("\n").pop());
  assert.ok(size < 16 << 20, `wrote ${size} bytes into a 16 MiB volume`);
  const used = rt.volume("small").usedBytes ?? 0;
  assert.ok(used >= size && used <= 32 << 20, `usedBytes ${used} for a file of ${size} bytes`);
  await rt.remove(r.id);
  await rt.removeVolume("small");
});

const APP = `
const fs = require("fs");
require("http").createServer((q, r) => {
  let msg = "none";
  try { msg = fs.readFileSync("/shared/msg", "utf8").trim(); } catch {}
  r.end("app:" + msg + "\\n");
}).listen(8080, "127.0.0.1", () => console.log("listening"));
`;

function connectRefused(ip: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host: ip, port, timeout: 2000 });
    s.on("connect", () => (s.destroy(), resolve(false)));
    s.on("error", () => resolve(true));
    s.on("timeout", () => (s.destroy(), resolve(true)));
  });
}

test("pod: a sidecar joins the app's netns and volumes, leaves, and the app keeps answering", { timeout: 90_000 }, async () => {
  const app = rt.create({ image: "stack/node", cmd: ["node", "-e", APP], memoryBytes: 128 << 20, cgroupParent: "t/p", network: "bridge", volumes: [{ name: "shared", path: "/shared" }] });
  const appInfo = await rt.start(app.id);
  await until("the app listening", async () => (await output(app.id)).includes("listening"));
  // Only on localhost: not reachable at its bridge address.
  assert.ok(appInfo.ip);
  assert.equal(await connectRefused(appInfo.ip!, 8080), true);

  const sidecar = rt.create(busybox("echo from-sidecar > /shared/msg; wget -qO- http://127.0.0.1:8080/; ip -o -4 addr show 2>/dev/null | wc -l; sleep 60", { network: `container:${app.name}`, volumesFrom: app.id }));
  const sideInfo = await rt.start(sidecar.id);
  assert.equal(sideInfo.networkOf, app.id);
  assert.equal(sideInfo.ip, undefined, "the sidecar has no address of its own");
  assert.deepEqual(sideInfo.volumes, [{ name: "shared", path: "/shared", readOnly: false }]);
  await until("the sidecar's request", async () => (await output(sidecar.id)).includes("app:"));
  assert.match(await output(sidecar.id), /^app:from-sidecar$/m);

  await rt.remove(sidecar.id, { force: true });
  assert.equal(rt.get(app.id).state, "running");
  assert.equal(rt.get(app.id).ip, appInfo.ip);
  // A probe joins later (the app kept running all along) and still gets an answer.
  const probe = await runToEnd(busybox("wget -qO- http://127.0.0.1:8080/", { network: `container:${app.id}` }));
  assert.equal(probe.out, "app:from-sidecar");
  await rt.remove(probe.id);

  // The app (owner of the netns) goes first while a member runs: the namespace stays.
  const member = rt.create(busybox("httpd -f -p 127.0.0.1:9090 -h /etc", { network: `container:${app.id}` }));
  await rt.start(member.id);
  await rt.remove(app.id, { force: true });
  const ns = `paas-${app.id.slice(0, 12)}`;
  assert.ok(spawnSync("ip", ["netns", "list"], { encoding: "utf8" }).stdout.includes(ns), "netns kept for the member");
  assert.equal(rt.get(member.id).state, "running");
  const late = await runToEnd(busybox("wget -qO- http://127.0.0.1:9090/hostname", { network: `container:${member.id}` }));
  assert.equal(late.code, 0, late.out);
  await rt.remove(late.id);
  // The last member leaves: namespace, veth and address go with it.
  await rt.remove(member.id, { force: true });
  assert.equal(spawnSync("ip", ["netns", "list"], { encoding: "utf8" }).stdout.includes(ns), false);
  assert.equal(rt.addressOf(app.id), undefined);
  assert.equal(fs.existsSync(`/sys/class/net/vp${app.id.slice(0, 12)}`), false);
  assert.equal(hostMounts(), 0);
  await rt.removeVolume("shared");
});

test("the pod's first container, stopped and started again, comes back into its kept namespace", { timeout: 60_000 }, async () => {
  const owner = rt.create(busybox("sleep 1000", { network: "bridge" }));
  const first = await rt.start(owner.id);
  const member = rt.create(busybox("httpd -f -p 9191 -h /etc", { network: `container:${owner.id}` }));
  await rt.start(member.id);
  await rt.stop(owner.id, 0);
  assert.equal(rt.get(member.id).state, "running");
  const again = await rt.start(owner.id);
  assert.equal(again.ip, first.ip, "address kept");
  // the member's server, in the same namespace, at the pod's address from the host and on localhost from a probe
  const res = await fetch(`http://${again.ip}:9191/hostname`, { signal: AbortSignal.timeout(3000) });
  assert.equal(res.status, 200);
  const probe = await runToEnd(busybox("wget -qO- http://127.0.0.1:9191/hostname", { network: `container:${owner.id}` }));
  assert.equal(probe.code, 0, probe.out);
  await rt.remove(probe.id);
  await rt.remove(owner.id, { force: true });
  await rt.remove(member.id, { force: true });
  assert.equal(spawnSync("ip", ["netns", "list"], { encoding: "utf8" }).stdout.includes(`paas-${owner.id.slice(0, 12)}`), false);
  assert.equal(rt.addressOf(owner.id), undefined);
});
