/**
 * Our runtime beside crun and runc (Debian's; installed with apt-get when missing), the same
 * container on every side:
 *   flock /tmp/paas-itest.lock npx tsx bench/runtime.ts [--n 40] [--idle 30] [--work 3]
 * The container: stack/busybox's files (exported with `paas-runtime save --oci-dir` and
 * unpacked for the peers) as the lower layers of an overlay with a fresh upper dir each,
 * 32 MiB memory limit, a user namespace mapping 0..65535 (ours: the team's kept one; the
 * peers: one made by the runtime), a new network namespace with loopback only, stdout and
 * stderr captured to a file (ours: the monitor's log; the peers: a redirect).
 * 1. start of `true` to its exit and removal, whole processes spawned by this harness, each
 *    side in its own block after the machine settles (ours' deferred deletions waited for:
 *    idle(), the agent's trash dir; then a 1 s pause, the spare's re-fork in it), nothing
 *    subtracted:
 *    `paas-runtime run --rm` through the agent and in its own process (no agent);
 *    `crun run` and `runc run`, each in `unshare -m sh -c 'mount overlay; exec RUNTIME run'`
 *    (the overlay mounted as containerd's snapshotter would; crun also unmounts the cgroup2
 *    mount there, as it refuses this host's hybrid layout otherwise); that wrapper with
 *    `true` in the runtime's place is printed beside, not subtracted. The library path
 *    (create/start/wait/remove in this process, as the agent calls it) is its own row: no
 *    process is spawned, so it compares with none of the others.
 * 2. memory per idle container (N `sleep`s): ours: monitor PSS + the container's cgroup
 *    memory - the app's PSS; the peers have no process beside the container (`run -d`).
 * 3. disk per container beyond its image.
 * 4. CPU-bound and memory-bandwidth work (node, stack/node) inside each runtime and on the host.
 *
 *   npx tsx bench/runtime.ts --image stack/node --image old/node=/tmp/old-node-oci --rounds 5 --start-only
 * compares images instead (what a base image costs a start): the same container made from
 * each `--image` (a name the store has, or NAME=PATH to load an OCI layout dir or tar under
 * NAME first), part 1's blocks image after image within each of `--rounds` rounds (the order
 * reversed every other round, so neither image always goes first), its samples pooled per
 * image. Parts 2-4 use the first image; `--start-only` leaves them out.
 * Own dirs (mkdtemp under $TMPDIR: paas-bench-*, paas-bench-peers-*), bridge and subnet
 * ($PAAS_BRIDGE/$PAAS_SUBNET or paasbench0), cgroup root ($PAAS_CGROUP_ROOT or paas-bench;
 * the peers below it in peers/), network none; everything is removed at the end.
 */
import { spawnSync, type SpawnSyncOptions } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Runtime } from "../runtime/src/containers.ts";
import { Layout } from "../runtime/src/paths.ts";
import { freePort, startAgent } from "../runtime/test/helpers.ts";
import { printTable } from "./table.ts";

const arg = (name: string, def: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : def;
};
const N = arg("n", 40);
const IDLE = arg("idle", 30);
const WORK_REPS = arg("work", 3);
const ROUNDS = arg("rounds", 1);
const START_ONLY = process.argv.includes("--start-only");
/** `--image NAME` or `--image NAME=PATH` (loaded from PATH), as often as wanted; stack/busybox by default. */
const IMAGES: { name: string; from?: string }[] = process.argv.flatMap((a, i) => (process.argv[i - 1] === "--image" ? [a] : [])).map((a) => {
  const [name, from] = a.split("=");
  return { name, from };
});
if (!IMAGES.length) IMAGES.push({ name: "stack/busybox" });
const WARM_UP = 3;
const MEMORY = 32 << 20;
const USERNS_BASE = 3_000_000; // the peers' mapping (ours hands out its own per team)
const root = path.resolve(import.meta.dirname, "..");
const bin = path.join(root, "runtime/bin/paas-runtime");
const helper = path.join(root, "runtime/native/build/paas-run");
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "paas-bench-"));
// apart from ours' (mkdtemp's 0700): the peers' rootfs must be reachable from their user namespace
const peersDir = fs.mkdtempSync(path.join(os.tmpdir(), "paas-bench-peers-"));
fs.chmodSync(peersDir, 0o755);
const cgroupRoot = process.env.PAAS_CGROUP_ROOT ?? "paas-bench";
const bridge = process.env.PAAS_BRIDGE ?? "paasbench0";
const subnet = process.env.PAAS_SUBNET ?? "10.99.240.0/24";
const env: NodeJS.ProcessEnv = { ...process.env, PAAS_DATA_DIR: dataDir, PAAS_CGROUP_ROOT: cgroupRoot, PAAS_BRIDGE: bridge, PAAS_SUBNET: subnet };
delete env.PAAS_RUNTIME_LOCAL; // the agent block goes through the agent
const localEnv = { ...env, PAAS_RUNTIME_LOCAL: "1" };
const rt = new Runtime({ dataDir, bridge, subnet, cgroupRoot });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function q(xs: number[], p: number) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(p * s.length))];
}
const f1 = (n: number) => n.toFixed(1);
const kb = (n: number) => `${(n / 1024).toFixed(0)} kB`;
const medP90 = (xs: number[]) => `${f1(q(xs, 0.5))} / ${f1(q(xs, 0.9))}`;

function must(cmd: string, args: string[], opts: SpawnSyncOptions = {}): string {
  const r = spawnSync(cmd, args, { encoding: "utf8", ...opts });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} failed (${r.status ?? r.signal}): ${r.stderr || r.error}`);
  return String(r.stdout);
}

// ---------- measures of the host ----------
function pss(pid: number | string): number {
  try {
    const m = /^Pss:\s+(\d+) kB/m.exec(fs.readFileSync(`/proc/${pid}/smaps_rollup`, "utf8"));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}
function parentOf(pid: number): number {
  // the field after the parenthesised command name, which may hold spaces
  const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
  return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
}
function memCgroupOf(pid: number | string): string | undefined {
  const line = fs.readFileSync(`/proc/${pid}/cgroup`, "utf8").split("\n").find((l) => /^\d+:([^:]*,)?memory(,[^:]*)?:/.test(l));
  return line ? path.join("/sys/fs/cgroup/memory", line.split(":")[2]) : undefined;
}
function memUsage(dir: string | undefined): number {
  try {
    return Number(fs.readFileSync(path.join(dir!, "memory.usage_in_bytes"), "utf8"));
  } catch {
    return 0;
  }
}
function memAvailable(): number {
  return Number(/MemAvailable:\s+(\d+)/.exec(fs.readFileSync("/proc/meminfo", "utf8"))![1]) * 1024;
}
function duBytes(...paths: string[]): number {
  const r = spawnSync("du", ["-sck", ...paths.filter((p) => fs.existsSync(p))], { encoding: "utf8" });
  return Number(/(\d+)\s+total/.exec(r.stdout)?.[1] ?? 0) * 1024;
}

/** A quiet moment between blocks: ours' deferred deletions done, then a second for the rest. */
async function settle() {
  await rt.idle();
  const trash = new Layout(dataDir).trash; // the agent's deleter, in its own process
  for (const end = Date.now() + 10_000; Date.now() < end && fs.existsSync(trash) && fs.readdirSync(trash).length; ) await sleep(20);
  await sleep(1000);
}

// ---------- the peers: crun and runc ----------
function ensurePeers() {
  const missing = ["crun", "runc"].filter((p) => spawnSync(p, ["--version"]).status !== 0);
  if (!missing.length) return;
  console.error(`bench: installing ${missing.join(", ")} (apt-get)`);
  const aptEnv = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  const install = () => spawnSync("apt-get", ["install", "-y", "-qq", "--no-install-recommends", ...missing], { env: aptEnv, stdio: "inherit" }).status === 0;
  if (!install()) {
    must("apt-get", ["update", "-qq"], { env: aptEnv, stdio: "inherit" });
    if (!install()) throw new Error(`apt-get install ${missing.join(" ")} failed: the bench compares with them`);
  }
}

/** An image's layers, exported through the CLI and unpacked one dir each; top layer first. */
function exportLayers(image: string): string[] {
  const oci = path.join(peersDir, `oci-${image.replace(/\W/g, "_")}`);
  must(bin, ["save", "--oci-dir", oci, image], { env: localEnv });
  const blob = (digest: string) => path.join(oci, "blobs", ...digest.split(":"));
  const index = JSON.parse(fs.readFileSync(path.join(oci, "index.json"), "utf8"));
  const manifest = JSON.parse(fs.readFileSync(blob(index.manifests[0].digest), "utf8"));
  const dirs = (manifest.layers as { digest: string; mediaType: string }[]).map((l, i) => {
    const dir = path.join(oci, `layer${i}`);
    fs.mkdirSync(dir);
    must("tar", [l.mediaType.endsWith("gzip") ? "-xzf" : "-xf", blob(l.digest), "-C", dir]);
    must(helper, ["unwhiteout", dir]); // OCI whiteouts as overlayfs reads them
    return dir;
  });
  return dirs.reverse();
}

type Peer = "crun" | "runc";
const PEERS: Peer[] = ["crun", "runc"];
/** crun refuses this host's hybrid cgroup layout (v1 controllers + a cgroup2 mount) unless
 * the cgroup2 mount is gone from its mount namespace; runc takes the v1 controllers as is. */
const prelude = (p: Peer | "none") => (p === "crun" ? "umount /sys/fs/cgroup/unified && " : "");

/** An OCI bundle for one container of `peer` in `dir`: the same container as ours. */
function bundle(peer: Peer, dir: string, id: string, args: string[], memory: number) {
  fs.mkdirSync(path.join(dir, "rootfs"), { recursive: true });
  fs.mkdirSync(path.join(dir, "upper"));
  fs.mkdirSync(path.join(dir, "work"));
  fs.rmSync(path.join(dir, "config.json"), { force: true });
  must(peer, ["spec"], { cwd: dir });
  const c = JSON.parse(fs.readFileSync(path.join(dir, "config.json"), "utf8"));
  c.process.terminal = false;
  c.process.args = args;
  c.root = { path: "rootfs", readonly: false };
  c.hostname = id;
  c.linux.resources = { memory: { limit: memory } };
  c.linux.cgroupsPath = `/${cgroupRoot}/peers/${id}`;
  c.linux.namespaces.push({ type: "user" });
  c.linux.uidMappings = c.linux.gidMappings = [{ containerID: 0, hostID: USERNS_BASE, size: 65536 }];
  fs.writeFileSync(path.join(dir, "config.json"), JSON.stringify(c));
}
const overlay = (lowers: string[], dir: string) =>
  `mount -t overlay overlay -o lowerdir=${lowers.join(":")},upperdir=${dir}/upper,workdir=${dir}/work ${dir}/rootfs`;

/** One peer's `run` of a container as a whole process: the wrapper this host needs, then
 * `exec PEER run` (which deletes the container, its state and cgroups, when it exits). */
function peerRunArgs(peer: Peer | "none", lowers: string[], dir: string, id: string): string[] {
  const run = peer === "none" ? "exec true" : `exec ${peer} run -b ${dir} ${id} >${dir}/out.log 2>&1`;
  return ["-m", "--propagation", "private", "sh", "-c", `${prelude(peer)}${overlay(lowers, dir)} && ${run}`];
}

/** A peer's command in a mount namespace of its own (crun's needs the cgroup2 mount gone). */
function peerCmd(peer: Peer, cmd: string): string {
  return must("unshare", ["-m", "--propagation", "private", "sh", "-c", `${prelude(peer)}${cmd}`]);
}

// ---------- the table ----------
const rows: string[][] = [];
const row = (...r: string[]) => rows.push(r);
const ratio = (a: number, b: number) => (b > 0 ? (a / b).toFixed(2) : "");

let imageRows: string[][] = [];
/**
 * With several images: per image, its files (the unpacked layers the peers mount) and each
 * side's median over all rounds, the difference to the first image's, and the agent's
 * median block by block (how steady the figure was across the rounds).
 */
function imageTable(samples: Record<string, Record<string, number[]>>, medians: Record<string, Record<string, number[]>>, lowersOf: Record<string, string[]>) {
  const first = IMAGES[0].name;
  const sides = ["agent", "local", "library", "crun", "runc", "none"];
  const out = [["image", "layers", "files MB", ...sides.map((s) => `${s} ms`), "agent by block ms"]];
  for (const { name } of IMAGES) {
    const cell = (side: string) => {
      const m = q(samples[side][name], 0.5);
      const d = m - q(samples[side][first], 0.5);
      return name === first ? f1(m) : `${f1(m)} (${d >= 0 ? "+" : ""}${f1(d)})`;
    };
    out.push([name, String(lowersOf[name].length), f1(duBytes(...lowersOf[name]) / 1e6), ...sides.map(cell), medians.agent[name].map(f1).join(" ")]);
  }
  return out;
}

/** What a peer said, from the output file its wrapper's command line names. */
function peerOutput(args: string[]): string {
  const file = / >(\S+\/out\.log) /.exec(args.join(" "))?.[1];
  return file && fs.existsSync(file) ? fs.readFileSync(file, "utf8") : "";
}

/** Times `cmd args` to its exit, `before()` included (the per-container dirs it makes). */
function timeProc(cmd: string, args: string[], e: NodeJS.ProcessEnv, before = () => {}) {
  const t = performance.now();
  before();
  const r = spawnSync(cmd, args, { env: e, stdio: ["ignore", "ignore", "pipe"] });
  const ms = performance.now() - t;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} failed (${r.status ?? r.signal}): ${r.stderr}${peerOutput(args)}`);
  return ms;
}

async function main() {
  ensurePeers();
  must(bin, ["setup"], { env: localEnv }); // the stacks, through the CLI
  await rt.init();
  for (const img of IMAGES) if (img.from) must(bin, ["load", "-i", img.from, "--name", img.name], { env: localEnv });
  const lowersOf = Object.fromEntries(IMAGES.map((img) => [img.name, exportLayers(img.name)]));
  const first = IMAGES[0].name;
  const bbLowers = lowersOf[first];
  const runArgs = (image: string) => ["run", "--rm", "--network", "none", "-m", "32m", image, "true"];
  const specOf = (image: string) => ({ image, cmd: ["true"], memoryBytes: MEMORY, cgroupParent: "b/a", network: "none" as const });
  const spec = specOf(first);

  // ---------- 1. start to exit and removal ----------
  // samples[side][image]: every round's samples pooled; medians[side][image]: one per block
  const samples: Record<string, Record<string, number[]>> = {};
  const medians: Record<string, Record<string, number[]>> = {};
  const block = async (name: string, image: string, one: (i: number) => Promise<number> | number) => {
    await settle();
    for (let i = 0; i < WARM_UP; i++) await one(-1 - i);
    const xs: number[] = [];
    for (let i = 0; i < N; i++) xs.push(await one(i));
    ((samples[name] ??= {})[image] ??= []).push(...xs);
    ((medians[name] ??= {})[image] ??= []).push(q(xs, 0.5));
  };
  for (const peer of PEERS) bundle(peer, path.join(peersDir, `run-${peer}`), "tmpl", ["true"], MEMORY);
  let sample = 0; // peers' container dirs and ids, unique over every block
  for (let round = 0; round < ROUNDS; round++) {
    const order = round % 2 ? [...IMAGES].reverse() : IMAGES;
    for (const { name: image } of order) {
      await block("library", image, async () => {
        const t = performance.now();
        const c = rt.create(specOf(image));
        await rt.start(c.id);
        await rt.wait(c.id);
        await rt.remove(c.id);
        return performance.now() - t;
      });
    }
    for (const { name: image } of order) await block("local", image, () => timeProc(bin, runArgs(image), localEnv));
    const agent = await startAgent({ ...env, PAAS_AGENT_PORT: String(await freePort()) });
    try {
      for (let i = 0; i < 3; i++) timeProc(bin, runArgs(first), env); // the agent's first calls compile its code
      for (const { name: image } of order) await block("agent", image, () => timeProc(bin, runArgs(image), env));
      await block("ps", first, () => timeProc(bin, ["ps"], env)); // a call that starts nothing
    } finally {
      agent.kill("SIGTERM");
      await new Promise((r) => agent.once("exit", r));
    }
    for (const peer of [...PEERS, "none" as const]) {
      const base = path.join(peersDir, `run-${peer}`);
      for (const { name: image } of order) {
        await block(peer, image, () => {
          const n = sample++;
          const dir = path.join(base, `c${n}`);
          const id = `${peer}-${n}`;
          // the bundle's config is the template's, written before the clock starts; the dirs
          // for the overlay are made inside the sample (ours makes its own in create)
          if (peer !== "none") {
            fs.mkdirSync(dir);
            fs.copyFileSync(path.join(base, "config.json"), path.join(dir, "config.json"));
          }
          const ms = timeProc("unshare", peerRunArgs(peer, lowersOf[image], dir, id), env, () => {
            for (const d of ["rootfs", "upper", "work"]) fs.mkdirSync(path.join(dir, d), { recursive: true });
          });
          fs.rmSync(dir, { recursive: true }); // after the sample, as ours' deferred deletion does after remove
          return ms;
        });
      }
    }
  }
  for (const { name: image } of IMAGES) {
    const b = Object.fromEntries(Object.entries(samples).map(([side, by]) => [side, by[image] ?? samples[side][first]]));
    const m = (k: string) => q(b[k], 0.5);
    const of = IMAGES.length > 1 ? `, ${image}` : "";
    row(`whole process, \`true\` to exit + removal, median / p90 ms${of}`, "", "", "", "", "");
    row("  ours `paas-runtime run --rm` through the agent", medP90(b.agent), "", "", ratio(m("agent"), m("crun")), ratio(m("agent"), m("runc")));
    row("  ours `paas-runtime run --rm`, own process (no agent)", medP90(b.local), "", "", ratio(m("local"), m("crun")), ratio(m("local"), m("runc")));
    row("  `crun run` / `runc run` in unshare + sh + mount overlay", "", medP90(b.crun), medP90(b.runc), "", "");
    row("  that wrapper alone, `true` for the runtime (not subtracted)", "", medP90(b.none), medP90(b.none), "", "");
    row("library path (the agent's; no process: NOT comparable to the rows above)", medP90(b.library), "", "", "", "");
  }
  row("a CLI call that starts nothing, `paas-runtime ps` through the agent", medP90(samples.ps[first]), "", "", "", "");
  if (IMAGES.length > 1) imageRows = imageTable(samples, medians, lowersOf);
  if (START_ONLY) return;

  // ---------- 2. and 3. memory and disk per idle container ----------
  await settle();
  const availBefore = memAvailable();
  const duBefore = duBytes(dataDir);
  const idle: string[] = [];
  for (let i = 0; i < IDLE; i++) {
    const c = rt.create({ ...spec, cmd: ["sleep", "3600"] });
    await rt.start(c.id);
    idle.push(c.id);
  }
  await sleep(1500);
  let monitorPss = 0;
  let cgMem = 0;
  let appPss = 0;
  for (const id of idle) {
    const pid = rt.get(id).pid!;
    const mon = parentOf(pid);
    // the monitor stays in the host's cgroups, outside the container's
    if (memCgroupOf(mon) !== memCgroupOf(pid)) monitorPss += pss(mon);
    cgMem += memUsage(memCgroupOf(pid));
    appPss += pss(pid);
  }
  const mem: Record<string, { per: number; avail: number; disk: number; monitor: number }> = {};
  mem.ours = {
    per: (monitorPss + cgMem - appPss) / IDLE,
    monitor: monitorPss / IDLE,
    avail: (availBefore - memAvailable()) / IDLE,
    disk: (duBytes(dataDir) - duBefore) / IDLE,
  };
  for (const id of idle) await rt.remove(id, { force: true });
  for (const peer of PEERS) {
    await settle();
    const base = path.join(peersDir, `idle-${peer}`);
    const stateDir = `/run/${peer}`;
    const stateBefore = duBytes(stateDir);
    const before = memAvailable();
    const ids: string[] = [];
    try {
      for (let i = 0; i < IDLE; i++) {
        const id = `${peer}-idle${i}`;
        const dir = path.join(base, id);
        bundle(peer, dir, id, ["sleep", "3600"], MEMORY);
        // the overlay stays mounted in the container's mount namespace, a copy of this one
        peerCmd(peer, `${overlay(bbLowers, dir)} && exec ${peer} run -d -b ${dir} ${id} >${dir}/out.log 2>&1 </dev/null`);
        ids.push(id);
      }
      await sleep(1500);
      let cg = 0;
      let app = 0;
      for (const id of ids) {
        const pid = JSON.parse(peerCmd(peer, `exec ${peer} state ${id}`)).pid;
        cg += memUsage(memCgroupOf(pid));
        app += pss(pid);
      }
      mem[peer] = {
        per: (cg - app) / IDLE,
        monitor: 0,
        avail: (before - memAvailable()) / IDLE,
        // upper/work dirs, config.json, the output file, and the runtime's state
        disk: (duBytes(base) + duBytes(stateDir) - stateBefore) / IDLE,
      };
    } finally {
      for (const id of ids) spawnSync("unshare", ["-m", "--propagation", "private", "sh", "-c", `${prelude(peer)}exec ${peer} delete -f ${id}`]);
    }
    fs.rmSync(base, { recursive: true, force: true });
  }
  row(`memory per idle container (${IDLE} sleeps): cgroup memory + monitor PSS - app PSS`, kb(mem.ours.per), kb(mem.crun.per), kb(mem.runc.per), ratio(mem.ours.per, mem.crun.per), ratio(mem.ours.per, mem.runc.per));
  row("  of which the monitor's PSS (ours; the peers run none with `run -d`)", kb(mem.ours.monitor), "-", "-", "", "");
  row("  host MemAvailable drop per container (shared machine: noisy)", kb(mem.ours.avail), kb(mem.crun.avail), kb(mem.runc.avail), "", "");
  row("disk per container beyond its image (ours: its dir; peers: bundle + state)", kb(mem.ours.disk), kb(mem.crun.disk), kb(mem.runc.disk), ratio(mem.ours.disk, mem.crun.disk), ratio(mem.ours.disk, mem.runc.disk));

  // ---------- 4. work inside vs outside ----------
  const nodeLowers = exportLayers("stack/node");
  const work = `
    const kind = process.argv[1];
    const t = process.hrtime.bigint();
    if (kind === "cpu") { let x = 0; for (let i = 0; i < 3e8; i++) x = (x + i * 7) % 1000003; if (x < 0) console.log(x); }
    else { const a = Buffer.alloc(64 << 20, 1), b = Buffer.alloc(64 << 20); for (let i = 0; i < 40; i++) a.copy(b); }
    console.log(Number(process.hrtime.bigint() - t) / 1e6);
  `;
  for (const kind of ["cpu", "mem"]) {
    const best: Record<string, number> = {};
    const side = async (name: string, once: (i: number) => number) => {
      await settle();
      const xs = [];
      for (let i = 0; i < WORK_REPS; i++) xs.push(once(i));
      best[name] = Math.min(...xs);
    };
    await side("host", () => Number(must("node", ["-e", work, kind]).trim()));
    await side("ours", () => Number(must(bin, ["run", "--rm", "--network", "none", "-m", "512m", "stack/node", "node", "-e", work, kind], { env: localEnv }).trim()));
    for (const peer of PEERS) {
      await side(peer, (i) => {
        const dir = path.join(peersDir, `work-${peer}-${kind}${i}`);
        const id = `${peer}-work-${kind}${i}`;
        bundle(peer, dir, id, ["node", "-e", work, kind], 512 << 20);
        timeProc("unshare", peerRunArgs(peer, nodeLowers, dir, id), env);
        const out = Number(fs.readFileSync(path.join(dir, "out.log"), "utf8").trim());
        fs.rmSync(dir, { recursive: true });
        return out;
      });
    }
    const label = kind === "cpu" ? "CPU-bound loop (3e8 iterations), best of" : "memory bandwidth (40 x 64 MiB copy), best of";
    const gbps = (ms: number) => ((40 * 64) / 1024 / (ms / 1000)).toFixed(1);
    const extra = kind === "mem" ? ` (GiB/s ours ${gbps(best.ours)}, host ${gbps(best.host)})` : "";
    row(`${label} ${WORK_REPS}, ms; host ${f1(best.host)}${extra}`, f1(best.ours), f1(best.crun), f1(best.runc), ratio(best.ours, best.crun), ratio(best.ours, best.runc));
  }
}

function printConfig() {
  const ver = (p: string) => spawnSync(p, ["--version"], { encoding: "utf8" }).stdout.split("\n")[0];
  console.log("configuration, the same on every side:");
  console.log(`  files        ${IMAGES.map((i) => i.name).join(", ")} (stack/node for the work rows), its layers as the overlay's lower dirs, a fresh upper dir per container`);
  console.log("  limits       memory 32 MiB (512 MiB for the work rows); no CPU limit");
  console.log(`  namespaces   mount, pid, ipc, uts, a new network one (loopback only), user: 0..65535 mapped (ours: the team's kept namespace; peers: made per container at host ${USERNS_BASE})`);
  console.log("  output       stdout+stderr to a file (ours: the monitor's log.ndjson; peers: a redirect)");
  console.log("  removal      counted: `run --rm` (ours), `run` deletes the container at exit (peers); each side's upper dir deleted after its sample");
  console.log(`  peers        ${ver("crun")}; ${ver("runc")}; cgroup v1 controllers (this host's hybrid layout: crun runs where the cgroup2 mount is unmounted)`);
  console.log(`  machine      ${os.cpus().length} CPUs, ${os.cpus()[0]?.model ?? ""}, kernel ${os.release()}`);
}

try {
  await main();
  printConfig();
  const head = ["measure", "ours", "crun", "runc", "ours/crun", "ours/runc"];
  const w = head.map((_, i) => Math.max(...[head, ...rows].map((r) => (r[i] ?? "").length)));
  for (const r of [head, ...rows]) console.log(r.map((c, i) => (i === 0 ? (c ?? "").padEnd(w[i]) : (c ?? "").padStart(w[i]))).join("  "));
  const rounds = ROUNDS > 1 ? `, ${ROUNDS} rounds of blocks pooled` : "";
  console.log(`(${N} samples per side after ${WARM_UP} warm-up, each side in its own block${rounds}; ${START_ONLY ? "" : `${IDLE} idle containers; `}load average ${os.loadavg().map((x) => x.toFixed(1)).join(" ")})`);
  if (imageRows.length) {
    console.log("\nby image (median ms over every round; in brackets the difference to the first image; none = the peers' wrapper alone):");
    printTable(imageRows[0], imageRows.slice(1));
  }
} finally {
  for (const c of rt.list()) await rt.remove(c.id, { force: true }).catch(() => {});
  await rt.teardown(); // the bench's bridge ($PAAS_BRIDGE or paasbench0) goes too
  for (const peer of PEERS) {
    const left = spawnSync("sh", ["-c", `${peer} list -q 2>/dev/null || ${peer} list 2>/dev/null | awk 'NR>1{print $1}'`], { encoding: "utf8" }).stdout;
    for (const id of left.split("\n").filter((x) => x.startsWith(`${peer}-`))) {
      spawnSync("unshare", ["-m", "--propagation", "private", "sh", "-c", `${prelude(peer)}${peer} delete -f ${id}`]);
    }
  }
  spawnSync("sh", ["-c", `for c in /sys/fs/cgroup/*/${cgroupRoot}; do [ -d "$c" ] && find "$c" -depth -type d -exec rmdir {} + 2>/dev/null; done; true`]);
  fs.rmSync(dataDir, { recursive: true, force: true });
  fs.rmSync(peersDir, { recursive: true, force: true });
}
