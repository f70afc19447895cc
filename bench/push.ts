/**
 * Push to answering, for the Node fixture with one registry dependency (tests/fixtures/node-deps):
 *   npx tsx bench/push.ts [--n 5] [--port 3700]
 * cold: the first push of a new app (no dependency cache); warm: a one-line code change
 * of an app already deployed (the dependency layer is reused). Time = `git push` start to
 * the new code answering through the router. Per push, its parts as measured:
 *   git: push start to the build's first `-----> ` line reaching the pusher (transfer,
 *        the hook, the queue and the worker's pick-up);
 *   build and app start: the build's own timing summary ("Done in ... (detect 0.1s, ...)"),
 *        the steps up to the image, and the release's start and health check;
 * and the residual: that push's total less those parts (steps under 0.05 s that the
 * summary leaves out, the release's records, the router taking the new replica, the
 * polls' granularity). Medians are over pushes, each push's residual computed on its own.
 * Runs a whole platform of its own (ports --port to --port+91, data dir in /tmp; PAAS_BRIDGE,
 * PAAS_SUBNET and PAAS_CGROUP_ROOT taken from the environment when set), stopped at the end.
 *
 *   npx tsx bench/push.ts --n 5 --port 7700 --against /work/wt/old-base --against-port 7600
 * the same, before and after: also brings up the platform of another checkout (its own
 * infra/up and infra/down, its own ports from --against-port, a stack cache of its own) and
 * pushes to both in turn (each push's order swapped every round, so the machine's load falls
 * on both alike); a table per platform, then one of their medians side by side.
 *
 *   npx tsx bench/push.ts --big 150
 * instead pushes the Node fixture with 150 MB of random files (incompressible: git, the
 * tarball and the layers carry all of it) and samples the worker's and the web app's RSS
 * (each service's processes together) every 20 ms during the push: sources and layers must
 * stream, not be held whole.
 */
import { spawn } from "node:child_process";
import { randomFillSync } from "node:crypto";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { commitChange, fixtureRepo, type Platform, sh, startPlatform, viaRouter } from "../tests/helpers/platform.ts";

const arg = (name: string, def: number) => Number(process.argv[process.argv.indexOf(`--${name}`) + 1]) || def;
const n = arg("n", 5);
const bigMb = arg("big", 0);
const againstAt = process.argv.indexOf("--against");
const against = againstAt > 0 ? path.resolve(process.argv[againstAt + 1]) : undefined;
if (against && bigMb) throw new Error("--against compares pushes of the Node fixture; --big measures one platform: use one or the other");
const root = path.resolve(import.meta.dirname, "..");
/** A platform under test and the checkout it runs from (whose CLI talks to it). */
interface Side {
  label: string;
  root: string;
  p: Platform;
}
const commitOf = async (dir: string) => (await sh("git", ["-C", dir, "log", "-1", "--format=%h"])).stdout.trim();
// the runtime's bridge, subnet and cgroup root from the environment where given
const own = Object.fromEntries(["PAAS_BRIDGE", "PAAS_SUBNET", "PAAS_CGROUP_ROOT"].filter((k) => process.env[k]).map((k) => [k, process.env[k]]));
const sides: Side[] = [{ label: `${await commitOf(root)} (this checkout)`, root, p: await startPlatform("benchpush", arg("port", 3700), own) }];
// the other checkout's stacks apart from this one's: its recipe may name its cache entries as ours does
const otherStacks = against ? await fs.mkdtemp("/tmp/paas-bench-stacks-") : undefined;
if (against) {
  try {
    const p = await startPlatform("benchold", arg("against-port", 3600), { PAAS_STACK_CACHE: otherStacks }, against);
    sides.push({ label: await commitOf(against), root: against, p });
  } catch (err) {
    await sides[0].p.stop();
    throw err;
  }
}
const p = sides[0].p;
const gitEnv = { ...process.env, GIT_TERMINAL_PROMPT: "0" };
const url = (p: Platform, app: string) => `http://git:${p.adminToken}@127.0.0.1:${p.env.PAAS_WEB_PORT}/git/${app}.git`;

async function createApp(name: string, side = sides[0]) {
  const r = await sh(path.join(side.root, "apps/cli/bin/paas"), ["apps:create", name], {
    env: { ...side.p.env, PAAS_URL: side.p.webUrl, PAAS_TOKEN: side.p.adminToken },
  });
  if (r.code !== 0) throw new Error(r.stderr + r.stdout);
}

/** The pipeline's step that is the app's start (its replicas started and answering); the others count as the build. */
const APP_START = new Set(["deploy"]);

/** `git push`, with the time the first `-----> ` step line reached us (ms from t0). */
function gitPush(p: Platform, app: string, dir: string, t0: number): Promise<{ stderr: string; firstStep: number }> {
  return new Promise((resolve, reject) => {
    const git = spawn("git", ["push", url(p, app), "main"], { cwd: dir, env: gitEnv, stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    let firstStep = NaN;
    git.stderr.setEncoding("utf8");
    git.stderr.on("data", (chunk: string) => {
      stderr += chunk;
      if (Number.isNaN(firstStep) && stderr.includes("-----> ")) firstStep = performance.now() - t0;
    });
    git.on("error", reject);
    git.on("close", (code) => (code === 0 ? resolve({ stderr, firstStep }) : reject(new Error(`push of ${app} failed (exit ${code}):\n${stderr}`))));
  });
}

/** Pushes and waits until the app answers `expect`; returns the push's seconds and its parts. */
async function timedPush(p: Platform, app: string, dir: string, expect: string) {
  const t0 = performance.now();
  const { stderr, firstStep } = await gitPush(p, app, dir, t0);
  const pushed = (performance.now() - t0) / 1000;
  for (;;) {
    const a = await viaRouter(p, app).catch(() => ({ status: 0, body: "" }));
    if (a.status === 200 && a.body.includes(expect)) break;
    await new Promise((res) => setTimeout(res, 20));
  }
  const seconds = (performance.now() - t0) / 1000;
  const summary = /Done in [\d.]+s \(([^)]*)\)/.exec(stderr)?.[1];
  if (!summary) throw new Error(`push of ${app}: no timing summary ("Done in ...") in its output:\n${stderr}`);
  const steps = Object.fromEntries(
    summary.split(", ").map((part) => {
      const m = /^(.*) ([\d.]+)s$/.exec(part);
      if (!m) throw new Error(`push of ${app}: unreadable step "${part}" in "${summary}"`);
      return [m[1], Number(m[2])];
    }),
  );
  const git = firstStep / 1000;
  const sum = (pick: (label: string) => boolean) => Object.entries(steps).reduce((t, [l, s]) => t + (pick(l) ? s : 0), 0);
  const build = sum((l) => !APP_START.has(l));
  const appStart = sum((l) => APP_START.has(l));
  const residual = seconds - git - build - appStart;
  return { seconds, git, build, appStart, residual, steps, detail: `git push returned at ${pushed.toFixed(2)}s; first step line at ${git.toFixed(2)}s; ${summary}` };
}

/**
 * A service's RSS now, in MB: every process in its session (infra/up starts each service in
 * its own), so the worker's jobs process counts with it; and the largest VmHWM among them.
 */
async function memoryOf(service: string) {
  const sid = (await fs.readFile(path.join(p.dataDir, "run", `${service}.pid`), "utf8")).trim();
  let rss = 0;
  let hwm = 0;
  for (const pid of (await fs.readdir("/proc")).filter((d) => /^\d+$/.test(d))) {
    try {
      const stat = await fs.readFile(`/proc/${pid}/stat`, "utf8");
      if (stat.slice(stat.lastIndexOf(")") + 2).split(" ")[3] !== sid) continue;
      const status = await fs.readFile(`/proc/${pid}/status`, "utf8");
      const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? 0);
      rss += kb("VmRSS") / 1024;
      hwm = Math.max(hwm, kb("VmHWM") / 1024);
    } catch {
      // gone between the listing and the read
    }
  }
  return { rss, hwm };
}

/** A push of the Node fixture with `mb` MB of random files; the services' RSS sampled throughout. */
async function bigPush(mb: number) {
  const dir = await fixtureRepo("node-hello");
  await fs.mkdir(path.join(dir, "data"));
  const piece = Buffer.alloc(2 ** 20);
  for (let f = 0; f < mb / 10; f++) {
    const fh = await fs.open(path.join(dir, "data", `blob${f}.bin`), "w");
    for (let i = 0; i < 10; i++) await fh.write(randomFillSync(piece));
    await fh.close();
  }
  await sh("git", ["add", "-A"], { cwd: dir });
  await sh("git", ["commit", "-qm", `${mb} MB of random files`], { cwd: dir });
  await createApp("big");
  const services = ["worker", "web"] as const;
  const before = Object.fromEntries(await Promise.all(services.map(async (s) => [s, await memoryOf(s)] as const)));
  const peak = Object.fromEntries(services.map((s) => [s, before[s].rss]));
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      for (const s of services) peak[s] = Math.max(peak[s], (await memoryOf(s)).rss);
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  const t0 = performance.now();
  try {
    await gitPush(p, "big", dir, t0);
  } finally {
    sampling = false;
    await sampler;
  }
  const seconds = (performance.now() - t0) / 1000;
  console.log(`\n${mb} MB push (random files, node-hello fixture): deployed in ${seconds.toFixed(1)} s`);
  console.log("| service (all its processes) | RSS before MB | peak RSS during the push MB | rise MB | largest VmHWM after MB |");
  console.log("| --- | ---: | ---: | ---: | ---: |");
  for (const s of services) {
    const after = await memoryOf(s);
    console.log(`| ${s} | ${before[s].rss.toFixed(0)} | ${peak[s].toFixed(0)} | ${(peak[s] - before[s].rss).toFixed(0)} | ${after.hwm.toFixed(0)} |`);
  }
}

if (bigMb) {
  try {
    await bigPush(bigMb);
  } finally {
    await p.stop();
  }
  process.exit(0);
}

type Run = Awaited<ReturnType<typeof timedPush>>;
/** Per platform: its first push (an empty build cache), the other new apps' first pushes, the warm ones. */
const runs = sides.map(() => ({ first: [] as Run[], cold: [] as Run[], warm: [] as Run[] }));
const inTurn = (i: number) => (i % 2 ? sides.map((s, k) => [s, k] as const) : sides.map((s, k) => [s, k] as const).reverse());
const said = (side: Side, what: string, r: Run) => process.stderr.write(`${sides.length > 1 ? `${side.label}: ` : ""}${what}: ${r.seconds.toFixed(2)}s (${r.detail})\n`);
try {
  const dir = await fixtureRepo("node-deps");
  for (let i = 1; i <= n; i++) {
    for (const [side, k] of inTurn(i)) {
      await createApp(`cold${i}`, side);
      const r = await timedPush(side.p, `cold${i}`, dir, "deps v1");
      (i === 1 ? runs[k].first : runs[k].cold).push(r);
      said(side, `cold ${i}`, r);
    }
  }
  // Warm: one-line changes of cold1, whose dependency layer is cached.
  for (let i = 1; i <= n; i++) {
    const src = await fs.readFile(path.join(dir, "server.js"), "utf8");
    await commitChange(dir, "server.js", src.replace(/deps v\d+/, `deps v${i + 1}`), `v${i + 1}`);
    for (const [side, k] of inTurn(i)) {
      const r = await timedPush(side.p, "cold1", dir, `deps v${i + 1}`);
      runs[k].warm.push(r);
      said(side, `warm ${i}`, r);
    }
  }
} finally {
  for (const side of sides) await side.p.stop();
  if (otherStacks) await fs.rm(otherStacks, { recursive: true, force: true });
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
function table(name: string, runs: Run[]) {
  if (!runs.length) return;
  const total = median(runs.map((r) => r.seconds));
  const labels = [...new Set(runs.flatMap((r) => Object.keys(r.steps)))];
  const range = (xs: number[]) => `${Math.min(...xs).toFixed(2)}-${Math.max(...xs).toFixed(2)}`;
  console.log(`\n${name}: median ${total.toFixed(2)}s, min ${Math.min(...runs.map((r) => r.seconds)).toFixed(2)}s, max ${Math.max(...runs.map((r) => r.seconds)).toFixed(2)}s (n=${runs.length})`);
  console.log("| part | median s | min-max s | share of the median push |");
  console.log("| --- | ---: | ---: | ---: |");
  const line = (label: string, xs: number[]) => {
    const m = median(xs);
    console.log(`| ${label} | ${m.toFixed(2)} | ${range(xs)} | ${((m / total) * 100).toFixed(0)}% |`);
  };
  line("git: push to the first step line (transfer, hook, queue)", runs.map((r) => r.git));
  line("build (the summary's steps before the start)", runs.map((r) => r.build));
  for (const l of labels.filter((l) => !APP_START.has(l))) line(`&nbsp;&nbsp;${l}`, runs.map((r) => r.steps[l] ?? 0));
  line("app start (the summary's deploy step: start + health check)", runs.map((r) => r.appStart));
  for (const l of labels.filter((l) => APP_START.has(l))) line(`&nbsp;&nbsp;${l}`, runs.map((r) => r.steps[l] ?? 0));
  line("residual: push to live less git, build and app start", runs.map((r) => r.residual));
}
sides.forEach((side, k) => {
  const of = sides.length > 1 ? `${side.label}, ` : "";
  table(`${of}first push of the platform (empty build cache)`, runs[k].first);
  table(`${of}cold (a new app's first push, dependencies installed)`, runs[k].cold);
  table(`${of}warm (one-line change, dependency layer reused)`, runs[k].warm);
});
if (sides.length > 1) {
  // medians side by side: the whole push and each part, per kind of push
  console.log(`\n| median s (n=${n} rounds, alternating) | ${sides.map((s) => s.label).join(" | ")} |`);
  console.log(`| --- |${sides.map(() => " ---: |").join("")}`);
  const parts: [string, (r: Run) => number][] = [["push to live", (r) => r.seconds], ["git", (r) => r.git], ["build", (r) => r.build], ["app start", (r) => r.appStart], ["residual", (r) => r.residual]];
  for (const kind of ["first", "cold", "warm"] as const) {
    if (!runs[0][kind].length) continue;
    for (const [label, pick] of parts) console.log(`| ${kind}: ${label} | ${runs.map((r) => median(r[kind].map(pick)).toFixed(2)).join(" | ")} |`);
  }
}
console.log(`\ntargets: warm < 3 s, cold < 10 s (load average at the end ${os.loadavg().map((x) => x.toFixed(1)).join(" ")})`);
