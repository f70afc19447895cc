/**
 * User namespaces: root in a container is an unprivileged uid on the host, each team in a
 * range of its own; layers, commits, volumes and exports keep the ids the container sees;
 * exec joins the container's user namespace with the same cuts as its init.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { Readable } from "node:stream";
import { after, before, test } from "node:test";
import type { Runtime } from "../src/containers.ts";
import { Layout } from "../src/paths.ts";
import { USERNS_KEEP_DIR, USERNS_SIZE } from "../src/userns.ts";
import { run } from "../src/util.ts";
import { makeTar, testRuntime } from "./helpers.ts";

let rt: Runtime;
let cleanup: () => Promise<void>;
let dataDir: string;

before(async () => {
  ({ rt, cleanup, dataDir } = await testRuntime("u", 70));
});
after(async () => {
  await cleanup?.();
});

const spec = (team: string, cmd: string[], extra: object = {}) => ({ image: "stack/busybox", memoryBytes: 64 << 20, cgroupParent: `${team}/app`, network: "none" as const, cmd, ...extra });

async function output(id: string): Promise<string> {
  await rt.wait(id);
  const lines: string[] = [];
  for await (const l of rt.logLines(id)) lines.push((JSON.parse(l) as { line: string }).line);
  return lines.join("\n");
}

function hostUid(pid: number): number {
  const line = fs.readFileSync(`/proc/${pid}/status`, "utf8").split("\n").find((l) => l.startsWith("Uid:"))!;
  return Number(line.split(/\s+/)[1]);
}

function cli(args: string[]) {
  const bin = path.resolve(import.meta.dirname, "../bin/paas-runtime");
  const env = { ...process.env, PAAS_DATA_DIR: dataDir, PAAS_BRIDGE: rt.opts.bridge, PAAS_SUBNET: rt.opts.subnet, PAAS_CGROUP_ROOT: rt.opts.cgroupRoot };
  // no agent here: the test's own Runtime holds the state, so the CLI reads it with --local
  return spawnSync(bin, ["--local", ...args], { env, encoding: "utf8" });
}

test("root in a container is an unprivileged host uid, and each team has its own range", async () => {
  const a = rt.create(spec("team1", ["sleep", "60"]));
  const b = rt.create(spec("team2", ["sleep", "60"]));
  const pa = (await rt.start(a.id)).pid!;
  const pb = (await rt.start(b.id)).pid!;
  const [ua, ub] = [hostUid(pa), hostUid(pb)];
  assert.ok(ua >= 100_000 && ub >= 100_000, `host uids ${ua} ${ub}`);
  assert.ok(Math.abs(ua - ub) >= USERNS_SIZE, "teams' ranges do not overlap");
  // the same team keeps its range
  const a2 = rt.create(spec("team1", ["sh", "-c", "id -u; cat /proc/self/uid_map; ls -ln /etc/passwd"]));
  await rt.start(a2.id);
  const out = (await output(a2.id)).split("\n");
  assert.equal(out[0], "0", "root inside");
  assert.deepEqual(out[1].trim().split(/\s+/).map(Number), [0, ua, USERNS_SIZE]);
  assert.match(out[2], /^-\S+\s+\d+\s+0\s+0\s/, "image files are root's inside");
  for (const c of [a, b, a2]) await rt.remove(c.id, { force: true });
});

test("a container's files: commit, export and volumes hold the container's ids, not the host's", async () => {
  const c = rt.create(spec("team1", ["sh", "-c", "echo r > /etc/by-root; echo u > /home/by-app; chown 1000:1000 /home/by-app; echo v > /data/r; echo w > /data/u; chown 1000:1000 /data/u"], { volumes: [{ name: "uvol", path: "/data" }] }));
  await rt.putArchive(c.id, "/srv", Readable.from(makeTar({ "put.txt": "p" })));
  await rt.start(c.id);
  const res = await rt.wait(c.id);
  assert.equal(res.exitCode, 0);
  // on the host: the upper dir holds host ids
  const upper = rt.inspect(c.id).upperDir;
  assert.ok(fs.statSync(path.join(upper, "etc/by-root")).uid >= 100_000);
  // the volume keeps container ids (idmapped): any team reads it as written
  const volDir = rt.volume("uvol").path;
  assert.equal(fs.statSync(path.join(volDir, "r")).uid, 0);
  assert.equal(fs.statSync(path.join(volDir, "u")).uid, 1000);
  // commit: the layer has container ids
  const img = await rt.commit(c.id, "userns/test:v1");
  const layer = new Layout(rt.opts.dataDir).layer(img.layers[img.layers.length - 1]);
  assert.equal(fs.statSync(path.join(layer, "etc/by-root")).uid, 0);
  assert.equal(fs.statSync(path.join(layer, "home/by-app")).uid, 1000);
  assert.equal(fs.statSync(path.join(layer, "srv/put.txt")).uid, 0);
  // export: so does the tar
  const file = path.join(dataDir, "export.tar");
  await rt.export(c.id, fs.createWriteStream(file));
  const listing = spawnSync("tar", ["-tvf", file, "--numeric-owner"], { encoding: "utf8" }).stdout;
  assert.match(listing, /0\/0 .* \.\/etc\/by-root\n/);
  assert.match(listing, /1000\/1000 .* \.\/home\/by-app\n/);
  assert.doesNotMatch(listing, /\b1\d{5}\/\d+ /, "no host ids in the export");
  // a container of the committed image sees the files as they were made
  const d = rt.create({ ...spec("team2", ["sh", "-c", "ls -ln /etc/by-root /home/by-app"]), image: "userns/test:v1" });
  await rt.start(d.id);
  const ls = (await output(d.id)).split("\n");
  assert.match(ls[0], /\s0\s+0\s/);
  assert.match(ls[1], /\s1000\s+1000\s/);
  for (const x of [c, d]) await rt.remove(x.id, { force: true });
});

test("root in the user namespace still binds low ports; spec.userns=false runs with host ids", async () => {
  const c = rt.create(spec("team1", ["sh", "-c", "nc -l -p 80 & sleep 0.3; netstat -ltn | grep -c ':80 '; kill $!"]));
  await rt.start(c.id);
  assert.equal((await output(c.id)).trim(), "1");
  const off = rt.create(spec("team1", ["cat", "/proc/self/uid_map"], { userns: false }));
  await rt.start(off.id);
  assert.deepEqual((await output(off.id)).trim().split(/\s+/).map(Number), [0, 0, 2 ** 32 - 1]);
  for (const x of [c, off]) await rt.remove(x.id, { force: true });
});

test("exec joins the container's user namespace with its capability cut, no_new_privs and seccomp", async () => {
  const c = rt.create(spec("team1", ["sleep", "60"]));
  const pid = (await rt.start(c.id)).pid!;
  const initStatus = fs.readFileSync(`/proc/${pid}/status`, "utf8");
  const r = cli(["exec", c.id, "sh", "-c", "cat /proc/self/uid_map; grep -E '^(CapBnd|CapEff|NoNewPrivs|Seccomp):' /proc/self/status; mount -t tmpfs none /mnt 2>&1; echo mount=$?"]);
  assert.equal(r.status, 0, r.stderr);
  const lines = r.stdout.trim().split("\n");
  assert.deepEqual(lines[0].trim().split(/\s+/).map(Number), [0, hostUid(pid), USERNS_SIZE]);
  const field = (text: string, k: string) => text.split("\n").find((l) => l.startsWith(`${k}:`))!.split(/\s+/)[1];
  for (const k of ["CapBnd", "CapEff"]) assert.equal(field(r.stdout, k), field(initStatus, k), `${k} as the init's`);
  assert.equal(field(r.stdout, "NoNewPrivs"), "1");
  assert.equal(field(r.stdout, "Seccomp"), "2");
  assert.match(r.stdout, /mount=[1-9]/, "mount refused");
  await rt.remove(c.id, { force: true });
});

const nsInode = (pid: number) => fs.statSync(`/proc/${pid}/ns/user`).ino;

test("a team's containers share one kept user namespace, which outlives them; teams do not share", async () => {
  const [a, a2, b] = [spec("team1", ["sleep", "60"]), spec("team1", ["sleep", "60"]), spec("team2", ["sleep", "60"])].map((s) => rt.create(s));
  const pa = (await rt.start(a.id)).pid!;
  const pa2 = (await rt.start(a2.id)).pid!;
  const pb = (await rt.start(b.id)).pid!;
  assert.equal(nsInode(pa2), nsInode(pa), "one namespace for the team");
  assert.notEqual(nsInode(pb), nsInode(pa), "another for another team");
  const kept = path.join(USERNS_KEEP_DIR, String(rt.inspect(a.id).usernsBase));
  const ino = fs.statSync(kept).ino;
  assert.equal(ino, nsInode(pa), `kept at ${kept}`);
  // with no process left in it (as after the agent and every monitor are gone), the next start finds it
  for (const c of [a, a2]) await rt.remove(c.id, { force: true });
  const a3 = rt.create(spec("team1", ["sleep", "60"]));
  const pa3 = (await rt.start(a3.id)).pid!;
  assert.equal(fs.statSync(kept).ino, ino);
  assert.equal(nsInode(pa3), ino);
  for (const c of [a3, b]) await rt.remove(c.id, { force: true });
});

test("first uses of a range at once make one kept namespace", async () => {
  // a range no team of any runtime here has: its namespace is made by these calls
  const base = 2 ** 31 + USERNS_SIZE * Math.floor(Math.random() * 1000);
  const kept = path.join(USERNS_KEEP_DIR, String(base));
  const scratch = fs.mkdtempSync(path.join(dataDir, "race-"));
  const helper = path.resolve(import.meta.dirname, "../native/build/paas-run");
  const n = 8;
  for (let i = 0; i < n; i++) fs.mkdirSync(path.join(scratch, `dst${i}`));
  try {
    // idmap opens the kept namespace as a start does; each call idmaps its own mount. All
    // wait on a shared lock the gate holds, so that they begin together when it lets go.
    const gate = path.join(scratch, "gate");
    const held = run("flock", ["-x", gate, "sleep", "0.3"]);
    await new Promise((r) => setTimeout(r, 50));
    const runs = Array.from({ length: n }, (_, i) => run("flock", ["-s", gate, helper, "idmap", String(base), scratch, path.join(scratch, `dst${i}`)]));
    await held;
    for (const r of await Promise.all(runs)) assert.equal(r.code, 0, r.stderr);
    const mounts = fs.readFileSync("/proc/self/mountinfo", "utf8").split("\n").filter((l) => l.split(" ")[4] === kept);
    assert.equal(mounts.length, 1, mounts.join("\n"));
    assert.match(mounts[0], / nsfs /);
  } finally {
    for (let i = 0; i < n; i++) spawnSync("umount", [path.join(scratch, `dst${i}`)]);
    // the range is the test's own: its namespace goes with it
    while (spawnSync("umount", [kept]).status === 0) {}
    fs.rmSync(kept, { force: true });
    fs.rmSync(`${kept}.lock`, { force: true });
  }
});
