/**
 * An app's outbound network, end to end (a platform started by ./infra/up, real pushes, the
 * app probing from its own replica): on by default it reaches a server beyond the host (in a
 * network namespace this test makes, never an outside address); `--egress off` closes it;
 * `--egress-allow` opens the listed port and no other; a bad list changes nothing. Whatever
 * the setting, the host's agent, Redis and dashboard are out of reach, and so is another
 * team's replica.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { type ChildProcess, execFile, spawn, spawnSync } from "node:child_process";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { createDb } from "@paas/db";
import { addTeamWithToken, ROOT, sh, startPlatform, viaRouter, type Platform, pushApp } from "../helpers/platform.ts";

const run = promisify(execFile);
const NS = "paas-eg-out";
const OUT = "10.99.251.2";
const HOST_SIDE = "10.99.251.1";

let p: Platform;
let db: ReturnType<typeof createDb>;
let server: ChildProcess;
let otherToken: string;

const paas = async (args: string[], token = p.adminToken) => {
  const r = await sh(path.join(ROOT, "apps/cli/bin/paas"), args, { cwd: ROOT, env: { ...p.env, PAAS_URL: p.webUrl, PAAS_TOKEN: token } });
  return { ...r, out: r.stderr + r.stdout };
};

/** A Node app whose /probe?host=H&port=P says what a TCP connection from its replica got. */
async function probeRepo(): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), "egress-probe-"));
  await fs.writeFile(path.join(dir, "package.json"), JSON.stringify({ name: "probe", version: "1.0.0", private: true, scripts: { start: "node server.js" } }));
  await fs.writeFile(
    path.join(dir, "server.js"),
    `const net = require("node:net");
require("node:http").createServer((req, res) => {
  const u = new URL(req.url, "http://x");
  if (u.pathname !== "/probe") return res.end("probe " + process.env.PAAS_RELEASE);
  // Connected is reached: what the other side says at once (if anything) comes along.
  const s = net.connect({ host: u.searchParams.get("host"), port: Number(u.searchParams.get("port")) });
  let said = "", done = false;
  const end = (r) => { if (done) return; done = true; clearTimeout(limit); s.destroy(); res.end(JSON.stringify({ ...r, release: process.env.PAAS_RELEASE })); };
  const limit = setTimeout(() => end({ ok: false, error: "timeout" }), 3000);
  s.on("connect", () => setTimeout(() => end({ ok: true, said: said.trim() }), 300));
  s.on("data", (d) => (said += d));
  s.on("end", () => end({ ok: true, said: said.trim() }));
  s.on("error", (e) => end({ ok: false, error: e.code }));
}).listen(Number(process.env.PORT));
`,
  );
  const git = (...a: string[]) => run("git", a, { cwd: dir });
  await git("init", "-q", "-b", "main");
  await git("config", "user.email", "dev@example.com");
  await git("config", "user.name", "Dev");
  await git("add", "-A");
  await git("commit", "-qm", "probe");
  return dir;
}

async function deployed(dir: string, app: string, token: string) {
  const r = await pushApp(p, app, dir, { token });
  assert.equal(r.code, 0, r.stderr + r.stdout);
}

interface Probe {
  ok: boolean;
  said?: string;
  error?: string;
  release: string;
}

async function probe(host: string, port: number | string, app = "probe"): Promise<Probe> {
  const r = await viaRouter(p, app, `/probe?host=${host}&port=${port}`);
  assert.equal(r.status, 200, r.body);
  return JSON.parse(r.body) as Probe;
}

const gateway = () => p.env.PAAS_SUBNET!.replace(/\.0\/\d+$/, ".1");

describe("an app's outbound network", { timeout: 20 * 60_000 }, () => {
  before(async () => {
    spawnSync("ip", ["netns", "del", NS]);
    spawnSync("ip", ["link", "del", "vpeg-out"]);
    const shell = (cmd: string) => {
      const r = spawnSync("sh", ["-c", cmd], { encoding: "utf8" });
      if (r.status !== 0) throw new Error(`${cmd}: ${r.stderr}`);
    };
    shell(`ip netns add ${NS} && ip link add vpeg-out type veth peer name eth0 netns ${NS} && ip addr add ${HOST_SIDE}/24 dev vpeg-out && ip link set vpeg-out up`);
    shell(`ip -n ${NS} addr add ${OUT}/24 dev eth0 && ip -n ${NS} link set eth0 up && ip -n ${NS} link set lo up && ip -n ${NS} route add default via ${HOST_SIDE}`);
    const listen = "for (const p of [9000, 9001]) require('net').createServer(s=>s.end('outside says hi on '+p+'\\n')).listen(p,()=>p===9001&&console.log('up'))";
    server = spawn("ip", ["netns", "exec", NS, process.execPath, "-e", listen], { stdio: ["ignore", "pipe", "inherit"] });
    await new Promise((r) => server.stdout!.once("data", r));

    p = await startPlatform("egress", 4750);
    db = createDb(`file:${path.join(p.dataDir, "paas.db")}`);
    const dir = await probeRepo();
    assert.equal((await paas(["apps:create", "probe"])).code, 0);
    await deployed(dir, "probe", p.adminToken);
    otherToken = await addTeamWithToken(p.dataDir);
    assert.equal((await paas(["apps:create", "neighbour", "--team", "other"], otherToken)).code, 0);
    await deployed(dir, "neighbour", otherToken);
  });
  after(async () => {
    server?.kill();
    spawnSync("ip", ["netns", "del", NS]);
    spawnSync("ip", ["link", "del", "vpeg-out"]);
    await db?.$disconnect();
    await p?.stop();
  });

  test("on by default: a replica reaches a server beyond the host", async () => {
    assert.deepEqual(await probe(OUT, 9000), { ok: true, said: "outside says hi on 9000", release: "v1" });
    const info = JSON.parse((await paas(["apps:info", "-a", "probe", "--json"])).stdout);
    assert.equal(info.settings.egress, "on");
  });

  test("never the host's own services (agent, Redis, dashboard) on any of its addresses, nor another team's replica", async () => {
    const ports = { agent: p.env.PAAS_AGENT_PORT, redis: p.env.PAAS_REDIS_PORT, dashboard: p.env.PAAS_WEB_PORT };
    for (const host of [gateway(), HOST_SIDE]) {
      for (const [what, port] of Object.entries(ports)) {
        const r = await probe(host, port!);
        assert.equal(r.ok, false, `${what} at ${host}:${port} answered: ${JSON.stringify(r)}`);
      }
    }
    const neighbour = await db.container.findFirstOrThrow({ where: { app: { name: "neighbour" }, state: "running" } });
    const [ip, port] = neighbour.address!.split(":");
    const self = await probe(ip, port, "neighbour");
    assert.equal(self.ok, true, `the neighbour reaches itself (the probe works): ${JSON.stringify(self)}`);
    const r = await probe(ip, port);
    assert.equal(r.ok, false, `another team's replica answered: ${JSON.stringify(r)}`);
  });

  test("--egress off: a new release whose replica reaches nothing beyond the host", async () => {
    const r = await paas(["apps:update", "-a", "probe", "--egress", "off"]);
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /outbound network off: released v2/);
    const got = await probe(OUT, 9000);
    assert.equal(got.release, "v2");
    assert.equal(got.ok, false, JSON.stringify(got));
  });

  test("--egress-allow: the listed port is reached, another port is not", async () => {
    const r = await paas(["apps:update", "-a", "probe", "--egress-allow", `${OUT}:9000`]);
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, new RegExp(`outbound network limited to ${OUT.replace(/\./g, "\\.")}:9000: released v3`));
    assert.deepEqual(await probe(OUT, 9000), { ok: true, said: "outside says hi on 9000", release: "v3" });
    const other = await probe(OUT, 9001);
    assert.equal(other.ok, false, JSON.stringify(other));
    // the host stays out of reach, listed or not
    assert.equal((await paas(["apps:update", "-a", "probe", "--egress-allow", `${OUT}:9000,${HOST_SIDE}:${p.env.PAAS_AGENT_PORT}`])).code, 0);
    assert.equal((await probe(HOST_SIDE, p.env.PAAS_AGENT_PORT!)).ok, false);
    assert.equal((await probe(OUT, 9000)).ok, true);
  });

  test("a bad allow list, or a name that does not resolve: refused, the setting and the release as they were", async () => {
    const before = (await probe(OUT, 9000)).release;
    const bad = await paas(["apps:update", "-a", "probe", "--egress-allow", `${OUT}`]);
    assert.notEqual(bad.code, 0);
    assert.match(bad.out, /no port; write DEST:PORT/);
    const unresolved = await paas(["apps:update", "-a", "probe", "--egress-allow", "no-such-host.invalid:443"]);
    assert.notEqual(unresolved.code, 0);
    assert.match(unresolved.out, /no-such-host\.invalid .*does not resolve/);
    assert.match(unresolved.out, /the setting and the running release are as they were/i);
    const app = await db.app.findUniqueOrThrow({ where: { name: "probe" } });
    assert.equal(app.egress, "limited");
    assert.equal(app.egressAllow, `${OUT}:9000,${HOST_SIDE}:${p.env.PAAS_AGENT_PORT}`);
    const after = await probe(OUT, 9000);
    assert.deepEqual([after.ok, after.release], [true, before]);
  });

  test("--egress on again: every port beyond the host", async () => {
    const r = await paas(["apps:update", "-a", "probe", "--egress", "on"]);
    assert.equal(r.code, 0, r.out);
    assert.equal((await probe(OUT, 9001)).said, "outside says hi on 9001");
  });
});
