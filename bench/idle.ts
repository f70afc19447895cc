/**
 * The control plane's idle footprint, with three small apps deployed:
 *   npx tsx bench/idle.ts [--seconds 60] [--take]
 * Starts a platform of its own (its own data dir; ports from PAAS_WEB_PORT, default 3800; every other
 * PAAS_* setting in the environment is used as given), creates and pushes three fixture apps, waits until the platform
 * is idle, then samples every control-plane process for the window: /proc/<pid>/status VmRSS
 * (mean of the samples) and /proc/<pid>/stat utime+stime+cutime+cstime (the difference between the
 * window's ends, so short-lived children a service reaps in the window count for it), and PSS from
 * /proc/<pid>/smaps_rollup beside RSS: RSS counts node's own binary (~36 MB of shared file pages)
 * once in every node process.
 * --take measures the platform the environment describes (it must be up, its apps deployed)
 * and leaves it running.
 * Idle means the worker's jobs process has exited too (it outlives its last job by
 * PAAS_WORKER_LINGER_SECONDS, 300 by default): the bench's own platform runs with 15 s unless
 * the environment says otherwise, so it gets there sooner; what is measured is the same.
 *
 * Control plane = every process in the session of a service infra/up started (the pid files in
 * $PAAS_DATA_DIR/run; each service runs in its own session): Redis, the agent (with its fork
 * server), web, router, worker. The app containers (every process in the runtime's cgroup root)
 * and their monitors (paas-run processes outside those sessions) are counted apart.
 */
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { fixtureRepo, sh, startPlatform, viaRouter, type Platform } from "../tests/helpers/platform.ts";

const arg = (name: string) => {
  const i = process.argv.indexOf(name);
  return i < 0 ? undefined : process.argv[i + 1];
};
const seconds = Number(arg("--seconds") ?? 60);
const take = process.argv.includes("--take");
const TICKS = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim());
const APPS = [
  { name: "idle-node", fixture: "node-hello" },
  { name: "idle-static", fixture: "static-site" },
  { name: "idle-procs", fixture: "procfile-multi" },
];

interface Stat {
  comm: string;
  session: number;
  ticks: number;
  rssKb: number;
  /** Proportional set size: pages shared with other processes (node's own binary, ~36 MB in every node process) split between them. */
  pssKb: number;
}

function readStat(pid: number): Stat | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    // comm is in parentheses and may hold spaces: the fields after it start at the last ')'.
    const close = stat.lastIndexOf(")");
    const comm = stat.slice(stat.indexOf("(") + 1, close);
    const f = stat.slice(close + 2).split(" "); // f[0] is field 3 (state)
    const ticks = Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]); // utime stime cutime cstime
    const rss = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, "utf8"))?.[1];
    const pss = /^Pss:\s+(\d+) kB/m.exec(fs.readFileSync(`/proc/${pid}/smaps_rollup`, "utf8"))?.[1];
    return { comm, session: Number(f[3]), ticks, rssKb: Number(rss ?? 0), pssKb: Number(pss ?? 0) };
  } catch {
    return undefined; // gone between the listing and the read
  }
}

const allPids = () => fs.readdirSync("/proc").filter((d) => /^\d+$/.test(d)).map(Number);

/** The cgroup root's processes (every controller hierarchy that has it; v2 has one). */
function containerPids(cgroupRoot: string): Set<number> {
  const pids = new Set<number>();
  const walk = (dir: string) => {
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      if (e.isDirectory()) walk(path.join(dir, e.name));
      else if (e.name === "cgroup.procs") {
        for (const l of fs.readFileSync(path.join(dir, e.name), "utf8").split("\n")) if (l) pids.add(Number(l));
      }
    }
  };
  const base = "/sys/fs/cgroup";
  if (fs.existsSync(path.join(base, cgroupRoot))) walk(path.join(base, cgroupRoot));
  else for (const c of fs.readdirSync(base)) walk(path.join(base, c, cgroupRoot));
  return pids;
}

/** Which group each process belongs to: a service name, "monitors", "containers", or none. */
function classify(env: NodeJS.ProcessEnv): Map<number, string> {
  const runDir = path.join(env.PAAS_DATA_DIR!, "run");
  const sessions = new Map<number, string>();
  for (const f of fs.readdirSync(runDir)) {
    if (f.endsWith(".pid")) sessions.set(Number(fs.readFileSync(path.join(runDir, f), "utf8")), f.slice(0, -4));
  }
  const inContainers = containerPids(env.PAAS_CGROUP_ROOT ?? "paas");
  const groups = new Map<number, string>();
  for (const pid of allPids()) {
    const s = readStat(pid);
    if (!s) continue;
    const service = sessions.get(s.session);
    if (inContainers.has(pid)) groups.set(pid, "containers");
    else if (service) groups.set(pid, service);
    else if (s.comm === "paas-run" && monitorOf(pid, env.PAAS_DATA_DIR!)) groups.set(pid, "monitors");
  }
  return groups;
}

/** A paas-run process of this platform's data dir (its command line names the container dir). */
function monitorOf(pid: number, dataDir: string): boolean {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").includes(dataDir);
  } catch {
    return false;
  }
}

async function deploy(p: Platform) {
  const cli = path.resolve(import.meta.dirname, "../apps/cli/bin/paas");
  const cliEnv = { ...p.env, PAAS_URL: p.webUrl, PAAS_TOKEN: p.adminToken };
  for (const app of APPS) {
    const created = await sh(cli, ["apps:create", app.name], { env: cliEnv });
    if (created.code !== 0) throw new Error(`apps:create ${app.name}: ${created.stderr}${created.stdout}`);
    const dir = await fixtureRepo(app.fixture);
    const url = `http://git:${p.adminToken}@127.0.0.1:${p.env.PAAS_WEB_PORT}/git/${app.name}.git`;
    const t0 = Date.now();
    const r = await sh("git", ["push", url, "main"], { cwd: dir, env: { ...process.env, GIT_TERMINAL_PROMPT: "0" } });
    if (r.code !== 0) throw new Error(`push of ${app.name} failed:\n${r.stderr}`);
    const a = await viaRouter(p, app.name);
    if (a.status !== 200) throw new Error(`${app.name} answered ${a.status} after its push`);
    process.stderr.write(`deployed ${app.name} (${app.fixture}) in ${((Date.now() - t0) / 1000).toFixed(1)}s\n`);
  }
}

/** Control-plane CPU % of one core over `ms`. */
function controlPlaneCpu(env: NodeJS.ProcessEnv, ms: number): number {
  const groups = classify(env);
  const pids = [...groups].filter(([, g]) => g !== "containers" && g !== "monitors").map(([pid]) => pid);
  const before = new Map(pids.map((pid) => [pid, readStat(pid)?.ticks]));
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
  let ticks = 0;
  for (const pid of pids) {
    const a = before.get(pid);
    const b = readStat(pid)?.ticks;
    if (a !== undefined && b !== undefined) ticks += b - a;
  }
  return (ticks / TICKS / (ms / 1000)) * 100;
}

/** Until the worker's session is the worker alone: its jobs process has exited. */
function waitForJobsProcessExit(env: NodeJS.ProcessEnv) {
  const deadline = Date.now() + (Number(env.PAAS_WORKER_LINGER_SECONDS ?? 300) + 60) * 1000;
  for (;;) {
    const worker = [...classify(env).values()].filter((g) => g === "worker").length;
    if (worker <= 1) return;
    if (Date.now() > deadline) throw new Error("the worker's jobs process did not exit after its linger time");
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 500);
  }
}

/**
 * Idle: two 5 s windows in a row with the control plane under 1.5 % of a core, none before 20 s
 * after the last push (a deploy's tail: the old release's retirement, image collection), at most
 * 120 s.
 */
function waitForIdle(env: NodeJS.ProcessEnv) {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20_000);
  waitForJobsProcessExit(env);
  const deadline = Date.now() + 100_000;
  let quiet = 0;
  for (;;) {
    const cpu = controlPlaneCpu(env, 5000);
    process.stderr.write(`settling: control plane at ${cpu.toFixed(1)} % of a core over 5 s\n`);
    quiet = cpu < 1.5 ? quiet + 1 : 0;
    if (quiet === 2 || Date.now() > deadline) return;
  }
}

interface Row {
  group: string;
  pid: number;
  comm: string;
  rssKb: number;
  pssKb: number;
  cpu: number;
}

/** Samples every `stepMs` for `seconds`; processes must live through the whole window to count. */
function sample(env: NodeJS.ProcessEnv): Row[] {
  const groups = classify(env);
  const first = new Map<number, Stat>();
  const rss = new Map<number, number[]>();
  const pss = new Map<number, number[]>();
  for (const pid of groups.keys()) {
    const s = readStat(pid);
    if (s) first.set(pid, s);
  }
  const stepMs = 1000;
  const t0 = performance.now();
  let last = new Map<number, Stat>();
  for (let i = 1; i <= seconds; i++) {
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, Math.max(0, t0 + i * stepMs - performance.now()));
    last = new Map();
    for (const pid of first.keys()) {
      const s = readStat(pid);
      if (!s) continue;
      last.set(pid, s);
      rss.set(pid, [...(rss.get(pid) ?? []), s.rssKb]);
      pss.set(pid, [...(pss.get(pid) ?? []), s.pssKb]);
    }
  }
  const elapsed = (performance.now() - t0) / 1000;
  const rows: Row[] = [];
  for (const [pid, a] of first) {
    const b = last.get(pid);
    if (!b) {
      process.stderr.write(`note: ${groups.get(pid)} pid ${pid} (${a.comm}) exited during the window; not counted\n`);
      continue;
    }
    const mean = (xs: number[]) => xs.reduce((x, y) => x + y, 0) / xs.length;
    rows.push({
      group: groups.get(pid)!,
      pid,
      comm: a.comm,
      rssKb: mean(rss.get(pid)!),
      pssKb: mean(pss.get(pid)!),
      cpu: ((b.ticks - a.ticks) / TICKS / elapsed) * 100,
    });
  }
  return rows;
}

function report(rows: Row[]) {
  const mb = (kb: number) => (kb / 1024).toFixed(1);
  const plane = rows.filter((r) => r.group !== "containers" && r.group !== "monitors");
  const totalKb = plane.reduce((s, r) => s + r.rssKb, 0);
  const totalPssKb = plane.reduce((s, r) => s + r.pssKb, 0);
  const totalCpu = plane.reduce((s, r) => s + r.cpu, 0);
  const order = ["redis", "agent", "web", "router", "worker"];
  plane.sort((a, b) => order.indexOf(a.group) - order.indexOf(b.group) || b.rssKb - a.rssKb);
  console.log(`\nControl plane at idle, three apps deployed, ${seconds} s window (RSS, PSS: means of 1 s samples; CPU: % of one core)`);
  console.log("| process | pid | RSS MB | PSS MB | CPU % | share of RSS | share of CPU |");
  console.log("| --- | ---: | ---: | ---: | ---: | ---: | ---: |");
  for (const r of plane) {
    const cpuShare = totalCpu > 0 ? ((r.cpu / totalCpu) * 100).toFixed(0) : "0";
    console.log(`| ${r.group}: ${r.comm} | ${r.pid} | ${mb(r.rssKb)} | ${mb(r.pssKb)} | ${r.cpu.toFixed(2)} | ${((r.rssKb / totalKb) * 100).toFixed(0)} % | ${cpuShare} % |`);
  }
  console.log(`| **control plane total** (${plane.length} processes) | | **${mb(totalKb)}** | **${mb(totalPssKb)}** | **${totalCpu.toFixed(2)}** | | |`);
  for (const g of ["monitors", "containers"]) {
    const rs = rows.filter((r) => r.group === g);
    const label = g === "monitors" ? "container monitors (paas-run, one per container)" : "app containers (the apps' own processes)";
    const sum = (f: (r: Row) => number) => rs.reduce((s, r) => s + f(r), 0);
    console.log(`| ${label}, apart (${rs.length} processes) | | ${mb(sum((r) => r.rssKb))} | ${mb(sum((r) => r.pssKb))} | ${sum((r) => r.cpu).toFixed(2)} | | |`);
  }
  console.log(
    `\ntargets: < 300 MB RSS ${totalKb / 1024 < 300 ? "met" : "NOT met"} (PSS ${totalPssKb / 1024 < 300 ? "under" : "over"} 300 MB), < 1 % of a core ${totalCpu < 1 ? "met" : "NOT met"}`,
  );
}

let p: Platform | undefined;
let env: NodeJS.ProcessEnv;
if (take) {
  env = process.env;
  if (!env.PAAS_DATA_DIR || !fs.existsSync(path.join(env.PAAS_DATA_DIR, "run"))) {
    throw new Error("--take measures a running platform: set PAAS_DATA_DIR (and its PAAS_* settings) to the one ./infra/up started");
  }
} else {
  // Its own data dir always: what it deploys and leaves must not mix with a platform's state.
  const settings = {
    PAAS_WORKER_LINGER_SECONDS: "15",
    ...Object.fromEntries(Object.entries(process.env).filter(([k]) => k.startsWith("PAAS_") && k !== "PAAS_DATA_DIR")),
  };
  process.stderr.write(`the worker's jobs process lingers ${settings.PAAS_WORKER_LINGER_SECONDS} s after its last job (PAAS_WORKER_LINGER_SECONDS)\n`);
  p = await startPlatform("benchidle", Number(process.env.PAAS_WEB_PORT ?? 3800), settings);
  env = p.env;
}
try {
  if (p) await deploy(p);
  waitForIdle(env);
  report(sample(env));
} finally {
  await p?.stop();
}
