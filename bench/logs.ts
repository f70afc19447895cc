/**
 * App log throughput, end to end: one app writes RATE lines a second for SECS seconds, each
 * `flood ID SEQ`; the bench counts the sequence numbers that reached the app's Redis stream
 * (followed with XREAD while the flood runs, so retention's trimming cannot hide a loss) and
 * prints lines lost, duplicated, the lag after the flood's end, and the agent's CPU and RSS
 * (the collector runs in it) idle and under the flood.
 *   npx tsx bench/logs.ts [--rate 10000] [--secs 60]
 * Starts a platform of its own (base port PAAS_WEB_PORT, default 5100).
 */
import fs from "node:fs";
import path from "node:path";
import { Redis } from "ioredis";
import { appLogKey } from "../packages/shared/src/app-log.ts";
import { fixtureRepo, ROOT, sh, startPlatform, viaRouter } from "../tests/helpers/platform.ts";

const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(name);
  return i < 0 ? fallback : Number(process.argv[i + 1]);
};
const RATE = arg("--rate", 10_000);
const SECS = arg("--secs", 60);
const APP = "flood";
const TICK = 100; // USER_HZ

function cpuTicks(pid: number): number {
  const f = fs.readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
  return Number(f[11]) + Number(f[12]);
}
const rssMb = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, "utf8"))![1]) / 1024;

const p = await startPlatform("logbch", Number(process.env.PAAS_WEB_PORT ?? 5100), { PAAS_LOG_MAX_LINES: String(RATE * SECS * 2) });
const redis = new Redis(`redis://127.0.0.1:${p.env.PAAS_REDIS_PORT}`);
try {
  const env = { ...p.env, PAAS_URL: p.webUrl, PAAS_TOKEN: p.adminToken };
  await sh(path.join(ROOT, "apps/cli/bin/paas"), ["apps:create", APP], { cwd: ROOT, env });
  const repo = await fixtureRepo("node-logs");
  const push = await sh("git", ["push", `http://git:${p.adminToken}@127.0.0.1:${p.env.PAAS_WEB_PORT}/git/${APP}.git`, "main"], { cwd: repo, env: { ...process.env, GIT_TERMINAL_PROMPT: "0" } });
  if (push.code !== 0) throw new Error(push.stderr);
  await sh(path.join(ROOT, "apps/cli/bin/paas"), ["ps:scale", "worker=0", "-a", APP], { cwd: ROOT, env });
  const agent = Number(fs.readFileSync(path.join(p.dataDir, "run/agent.pid"), "utf8"));

  // idle: the app deployed and quiet
  await new Promise((r) => setTimeout(r, 5000));
  let c0 = cpuTicks(agent);
  await new Promise((r) => setTimeout(r, 20_000));
  const idleCpu = ((cpuTicks(agent) - c0) / TICK / 20) * 100;
  const idleRss = rssMb(agent);

  const id = `b${Date.now()}`;
  const key = appLogKey(APP);
  let last = ((await redis.xrevrange(key, "+", "-", "COUNT", 1)) as [string, string[]][])[0]?.[0] ?? "0";
  const seen = new Uint8Array(RATE * SECS + 1);
  let lines = 0;
  let dups = 0;
  let peakRss = 0;
  const total = RATE * SECS;
  c0 = cpuTicks(agent);
  const t0 = Date.now();
  await viaRouter(p, APP, `/flood?id=${id}&rate=${RATE}&secs=${SECS}`);
  const reader = new Redis(`redis://127.0.0.1:${p.env.PAAS_REDIS_PORT}`);
  let doneAt = 0;
  while (Date.now() - t0 < (SECS + 120) * 1000) {
    const res = (await reader.xread("COUNT", 20_000, "BLOCK", 1000, "STREAMS", key, last)) as [string, [string, string[]][]][] | null;
    peakRss = Math.max(peakRss, rssMb(agent));
    if (!res) {
      if (lines >= total) break;
      continue;
    }
    for (const [eid, f] of res[0][1]) {
      last = eid;
      const m = /^flood (\S+) (\d+)$/.exec(f[f.indexOf("line") + 1]);
      if (!m || m[1] !== id) continue;
      const n = Number(m[2]);
      lines++;
      if (seen[n]) dups++;
      seen[n] = 1;
    }
    if (lines >= total && !doneAt) doneAt = Date.now();
  }
  const busyCpu = ((cpuTicks(agent) - c0) / TICK / ((Date.now() - t0) / 1000)) * 100;
  reader.disconnect();
  let distinct = 0;
  for (let i = 1; i <= total; i++) distinct += seen[i];
  console.log(`| measure | value |\n| --- | --- |`);
  console.log(`| lines written (${RATE}/s x ${SECS} s) | ${total} |`);
  console.log(`| distinct lines in the store | ${distinct} |`);
  console.log(`| lost | ${total - distinct} |`);
  console.log(`| duplicated | ${dups} |`);
  console.log(`| last line stored after the start | ${doneAt ? `${((doneAt - t0) / 1000).toFixed(1)} s` : "never"} |`);
  console.log(`| agent (collector) idle CPU | ${idleCpu.toFixed(2)} % of a core |`);
  console.log(`| agent (collector) idle RSS | ${idleRss.toFixed(1)} MB |`);
  console.log(`| agent CPU during the flood | ${busyCpu.toFixed(1)} % of a core |`);
  console.log(`| agent peak RSS during the flood | ${peakRss.toFixed(1)} MB |`);
} finally {
  redis.disconnect();
  await p.stop();
}
