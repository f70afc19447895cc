/**
 * Our runtime beside crun (Debian's), on the same busybox rootfs, in one run:
 *   npx tsx bench/runtime.ts [--n 40] [--idle 50]
 * 1. start latency of `true` to its exit: (a) through the library in this long-lived
 *    process, as the agent uses it; (b) as a whole `paas-runtime run --rm` process, through
 *    the host's agent (the bin's usual path) and in its own process (no agent), the latter
 *    less node's own start-up (measured here too). crun: `crun run` of an OCI bundle, from a
 *    shell kept in a mount namespace without the cgroup2 mount (crun refuses this hybrid
 *    layout otherwise).
 * 2. memory per idle container (N `sleep`s): monitor processes' PSS + the container's cgroup
 *    memory (kernel objects charged to it) less the app's own PSS; and the host's
 *    MemAvailable drop per container (noisy: the machine is shared).
 * 3. disk per container beyond its image.
 * 4. CPU-bound and memory-bandwidth work (node) inside a container vs on the host.
 * Own data dir, cgroup root (paas-bench), network "none"; everything is removed at the end.
 */
import { spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import readline from "node:readline";
import { Runtime } from "../runtime/src/containers.ts";
import { Layout } from "../runtime/src/paths.ts";
import { freePort, startAgent } from "../runtime/test/helpers.ts";

const arg = (name: string, def: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : def;
};
const N = arg("n", 40);
const IDLE = arg("idle", 50);
const root = path.resolve(import.meta.dirname, "..");
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "paas-bench-"));
const cgroupRoot = "paas-bench";
const env = { ...process.env, PAAS_DATA_DIR: dataDir, PAAS_CGROUP_ROOT: cgroupRoot, PAAS_BRIDGE: "paasbench0", PAAS_SUBNET: "10.99.240.0/24" };
const rt = new Runtime({ dataDir, bridge: env.PAAS_BRIDGE, subnet: env.PAAS_SUBNET, cgroupRoot });
/** Where the runtime keeps layers and containers (read for the crun bundle and the disk figures). */
const layout = new Layout(dataDir);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function q(xs: number[], p: number) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(p * s.length))];
}
const f1 = (n: number) => n.toFixed(1);
const kb = (n: number) => `${(n / 1024).toFixed(0)} kB`;

function pss(pid: number | string): number {
  try {
    const m = /^Pss:\s+(\d+) kB/m.exec(fs.readFileSync(`/proc/${pid}/smaps_rollup`, "utf8"));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
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
function duBytes(p: string): number {
  const r = spawnSync("du", ["-sk", p], { encoding: "utf8" });
  return Number(r.stdout.split("\t")[0] || 0) * 1024;
}

/** A shell inside `unshare -m` with the cgroup2 mount gone, where crun can run. */
class CrunShell {
  private p = spawn("unshare", ["-m", "--propagation", "private", "sh", "-c", "umount /sys/fs/cgroup/unified 2>/dev/null; exec sh"], { stdio: ["pipe", "pipe", "inherit"] });
  private lines = readline.createInterface({ input: this.p.stdout! })[Symbol.asyncIterator]();
  async run(cmd: string): Promise<string> {
    this.p.stdin!.write(`${cmd}; echo "__rc=$?"\n`);
    let out = "";
    for (;;) {
      const { value } = await this.lines.next();
      if (value === undefined) throw new Error("crun shell died");
      if (value.startsWith("__rc=")) {
        if (value !== "__rc=0") throw new Error(`${cmd} failed: ${out}`);
        return out;
      }
      out += value + "\n";
    }
  }
  close() {
    this.p.stdin!.end();
  }
}

function crunBundle(dir: string, rootfs: string, args: string[]) {
  fs.mkdirSync(dir, { recursive: true });
  fs.rmSync(path.join(dir, "config.json"), { force: true });
  spawnSync("crun", ["spec"], { cwd: dir });
  const c = JSON.parse(fs.readFileSync(path.join(dir, "config.json"), "utf8"));
  c.process.terminal = false;
  c.process.args = args;
  c.root = { path: rootfs, readonly: true };
  fs.writeFileSync(path.join(dir, "config.json"), JSON.stringify(c));
}

const rows: string[][] = [];
const row = (...r: string[]) => rows.push(r);

async function main() {
  await rt.ensureStacks();
  const bb = rt.resolveImage("stack/busybox");
  const rootfs = layout.layer(bb.layers[0]);
  const bundles = path.join(dataDir, "crun");
  crunBundle(path.join(bundles, "true"), rootfs, ["true"]);
  crunBundle(path.join(bundles, "sleep"), rootfs, ["sleep", "3600"]);
  const sh = new CrunShell();
  await sh.run("true");

  // ---------- 1. start latency ----------
  const spec = { image: "stack/busybox", cmd: ["true"], memoryBytes: 32 << 20, cgroupParent: "b/a", network: "none" as const };
  for (let i = 0; i < 3; i++) {
    const c = rt.create(spec);
    await rt.start(c.id);
    await rt.wait(c.id);
    await rt.remove(c.id);
    await sh.run(`crun run -b ${bundles}/true warm${i} >/dev/null`);
  }
  const ours: number[] = [];
  const oursRm: number[] = [];
  const crun: number[] = [];
  for (let i = 0; i < N; i++) {
    let t = performance.now();
    const c = rt.create(spec);
    await rt.start(c.id);
    await rt.wait(c.id);
    ours.push(performance.now() - t);
    await rt.remove(c.id);
    oursRm.push(performance.now() - t);
    t = performance.now();
    await sh.run(`crun run -b ${bundles}/true c${i} >/dev/null`);
    crun.push(performance.now() - t);
  }
  // (b) whole processes: the bin as an operator runs it, (1) through the host's agent (sh
  // wrapper + C client, the command run in the agent's warm process; no Node start-up) and
  // (2) in its own process (no agent: sh wrapper + node on the bundle), less `node -e 0`.
  const bin = path.join(root, "runtime/bin/paas-runtime");
  const runArgs = ["run", "--rm", "--network", "none", "-m", "32m", "stack/busybox", "true"];
  const localEnv = { ...env, PAAS_RUNTIME_LOCAL: "1" };
  spawnSync(bin, ["images"], { env: localEnv }); // builds the bundle and the client if stale
  const agent = await startAgent({ ...env, PAAS_AGENT_PORT: String(await freePort()) });
  const timeProc = (cmd: string, args: string[], e: NodeJS.ProcessEnv = env) => {
    const t = performance.now();
    const r = spawnSync(cmd, args, { env: e, stdio: ["ignore", "ignore", "pipe"] });
    if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")}: ${r.stderr}`);
    return performance.now() - t;
  };
  const cliN = Math.max(10, N);
  const nodeStart: number[] = [];
  const spawnBase: number[] = [];
  const viaAgent: number[] = [];
  const local: number[] = [];
  const crunProc: number[] = [];
  const unshareBase: number[] = [];
  try {
    for (let i = 0; i < 3; i++) timeProc(bin, runArgs); // the agent's first calls compile its code
    for (let i = 0; i < cliN; i++) {
      viaAgent.push(timeProc(bin, runArgs));
      spawnBase.push(timeProc("true", []));
      nodeStart.push(timeProc("node", ["-e", "0"]));
      local.push(timeProc(bin, runArgs, localEnv));
      crunProc.push(timeProc("unshare", ["-m", "--propagation", "private", "sh", "-c", `umount /sys/fs/cgroup/unified; exec crun run -b ${bundles}/true p${i} >/dev/null`]));
      unshareBase.push(timeProc("unshare", ["-m", "--propagation", "private", "sh", "-c", "umount /sys/fs/cgroup/unified; exec true"]));
    }
  } finally {
    agent.kill("SIGTERM");
  }
  const med = (x: number[]) => q(x, 0.5);
  row("start `true` to exit, library (agent's path), median / p90 ms", `${f1(med(ours))} / ${f1(q(ours, 0.9))}`, `${f1(med(crun))} / ${f1(q(crun, 0.9))}`, (med(ours) / med(crun)).toFixed(2));
  row("  same, ours incl. remove (crun run removes too)", `${f1(med(oursRm))} / ${f1(q(oursRm, 0.9))}`, "", (med(oursRm) / med(crun)).toFixed(2));
  row("whole `paas-runtime run --rm` / `crun run` process, median / p90 ms", "", `${f1(med(crunProc))} / ${f1(q(crunProc, 0.9))}`, "");
  row("  ours through the agent (sh + C client)", `${f1(med(viaAgent))} / ${f1(q(viaAgent, 0.9))}`, "", "");
  row("  ours in its own process (no agent: sh + node + bundle)", `${f1(med(local))} / ${f1(q(local, 0.9))}`, "", "");
  row("node -e 0 (node's own start-up), median ms", f1(med(nodeStart)), "", "");
  row("`true` (what spawning any process costs this harness: a fork of node), median ms", f1(med(spawnBase)), "", "");
  // Each less what is not the runtime's own: crun less the unshare + sh + umount it needs on
  // this hybrid-cgroup host (a process spawned from here too); ours through the agent less
  // the spawn of a no-op process (its sh wrapper and client are counted); ours in its own
  // process less node's start-up. Medians of the differences within each round (a round's
  // runs are adjacent in time): a shared machine's drifting load cancels out.
  const paired = (a: number[], b: number[]) => med(a.map((x, i) => x - b[i]));
  const crunNet = paired(crunProc, unshareBase);
  const agentNet = paired(viaAgent, spawnBase);
  const localNet = paired(local, nodeStart);
  row("  through the agent less spawning `true` (ours) / crun less unshare+sh, ms", f1(agentNet), f1(crunNet), (agentNet / crunNet).toFixed(2));
  row("  own process less node start-up (ours) / crun less unshare+sh, ms", f1(localNet), f1(crunNet), (localNet / crunNet).toFixed(2));

  // ---------- 2. memory per idle container ----------
  const availBefore = memAvailable();
  const idle: string[] = [];
  for (let i = 0; i < IDLE; i++) {
    const c = rt.create({ ...spec, cmd: ["sleep", "3600"] });
    await rt.start(c.id);
    idle.push(c.id);
  }
  await sleep(1500);
  let monitorPss = 0;
  let monitorRss = 0;
  let cgMem = 0;
  let appPss = 0;
  const monitorsInCg: boolean[] = [];
  for (const id of idle) {
    const info = rt.get(id);
    const dir = layout.container(id);
    const mon = Number(fs.readFileSync(path.join(dir, "monitor.pid"), "utf8"));
    const cg = memCgroupOf(info.pid!);
    const monCg = memCgroupOf(mon);
    monitorsInCg.push(monCg === cg);
    if (monCg !== cg) {
      monitorPss += pss(mon);
      monitorRss += Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${mon}/status`, "utf8"))?.[1] ?? 0) * 1024;
    }
    cgMem += memUsage(cg);
    appPss += pss(info.pid!);
  }
  const oursAvail = (availBefore - memAvailable()) / IDLE;
  const oursPer = (monitorPss + cgMem - appPss) / IDLE;
  // disk per container beyond its image (ours: its dir with upper/work/logs/config; running)
  const oursDisk = idle.reduce((s, id) => s + duBytes(layout.container(id)), 0) / IDLE;

  const crunAvailBefore = memAvailable();
  for (let i = 0; i < IDLE; i++) await sh.run(`crun run -d -b ${bundles}/sleep idle${i} >/dev/null`);
  await sleep(1500);
  let crunCg = 0;
  let crunApp = 0;
  const crunState = (await sh.run("crun list -q")).split("\n").filter((x) => x.startsWith("idle"));
  for (const id of crunState) {
    const st = JSON.parse(await sh.run(`crun state ${id}`));
    crunCg += memUsage(memCgroupOf(st.pid));
    crunApp += pss(st.pid);
  }
  const crunAvail = (crunAvailBefore - memAvailable()) / IDLE;
  const crunPer = crunCg / IDLE - crunApp / IDLE;
  const crunDisk = (duBytes(path.join(bundles, "sleep/config.json")) + duBytes("/run/crun/idle0")) ;
  row(`memory per idle container (${IDLE}): monitor PSS + cgroup memory - app PSS`, kb(oursPer), kb(crunPer), (oursPer / crunPer).toFixed(2));
  row("  of which monitor PSS / RSS (outside the container's cgroup)", `${kb(monitorPss / IDLE)} / ${kb(monitorRss / IDLE)}`, "no process", "");
  row("  host MemAvailable drop per container (shared machine: noisy)", kb(oursAvail), kb(crunAvail), "");
  row("disk per container beyond its image (du of its dir; crun: config.json + state)", kb(oursDisk), kb(crunDisk), "");
  for (const id of crunState) await sh.run(`crun kill ${id} KILL; sleep 0.05; crun delete -f ${id}`).catch(() => {});
  for (const id of idle) await rt.remove(id, { force: true });

  // ---------- 4. work inside vs outside ----------
  const work = `
    const kind = process.argv[1];
    const t = process.hrtime.bigint();
    if (kind === "cpu") { let x = 0; for (let i = 0; i < 3e8; i++) x = (x + i * 7) % 1000003; if (x < 0) console.log(x); }
    else { const a = Buffer.alloc(64 << 20, 1), b = Buffer.alloc(64 << 20); for (let i = 0; i < 40; i++) a.copy(b); }
    console.log(Number(process.hrtime.bigint() - t) / 1e6);
  `;
  for (const kind of ["cpu", "mem"]) {
    const inside: number[] = [];
    const outside: number[] = [];
    for (let i = 0; i < 3; i++) {
      outside.push(Number(spawnSync("node", ["-e", work, kind], { encoding: "utf8" }).stdout.trim()));
      const c = rt.create({ image: "stack/node", cmd: ["node", "-e", work, kind], memoryBytes: 512 << 20, cgroupParent: "b/a", network: "none" });
      await rt.start(c.id);
      await rt.wait(c.id);
      let out = "";
      for await (const l of rt.logLines(c.id)) out = JSON.parse(l).line;
      inside.push(Number(out));
      await rt.remove(c.id);
    }
    const label = kind === "cpu" ? "CPU-bound loop (3e8 iterations), best of 3 ms" : "memory bandwidth (40 x 64 MiB copy), best of 3 ms";
    const bi = Math.min(...inside);
    const bo = Math.min(...outside);
    const gbps = kind === "mem" ? ` (${((40 * 64) / 1024 / (bi / 1000)).toFixed(1)} vs ${((40 * 64) / 1024 / (bo / 1000)).toFixed(1)} GiB/s)` : "";
    row(`${label}: inside vs outside${gbps}`, f1(bi), f1(bo) + " (host)", (bi / bo).toFixed(3));
  }
  sh.close();
}

try {
  await main();
  const w = [0, 1, 2, 3].map((i) => Math.max(...[["measure", "ours", "crun / host", "ours/peer"], ...rows].map((r) => (r[i] ?? "").length)));
  for (const r of [["measure", "ours", "crun / host", "ours/peer"], ...rows]) console.log(r.map((c, i) => (i === 0 ? c.padEnd(w[i]) : c.padStart(w[i]))).join("  "));
  console.log(`(${N} starts per runtime, ${Math.max(10, N)} whole processes, ${IDLE} idle containers; load average ${os.loadavg()[0].toFixed(1)}, ${os.cpus().length} CPUs)`);
} finally {
  for (const c of rt.list()) await rt.remove(c.id, { force: true }).catch(() => {});
  await rt.idle();
  spawnSync("sh", ["-c", `for c in /sys/fs/cgroup/*/${cgroupRoot}; do [ -d "$c" ] && find "$c" -depth -type d -exec rmdir {} + 2>/dev/null; done; true`]);
  spawnSync("unshare", ["-m", "sh", "-c", "umount /sys/fs/cgroup/unified; for i in $(crun list -q | grep -E '^(idle|c|p|warm)[0-9]+$'); do crun delete -f $i; done"]);
  fs.rmSync(dataDir, { recursive: true, force: true });
}
