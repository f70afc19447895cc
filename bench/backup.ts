/**
 * A backup and a restore of 1 GB through the platform:
 *   /work/wt/itest npx tsx bench/backup.ts [--mb 1024] [--port 5700]
 * Starts a platform of its own, pushes a fixture app with one volume and fills it with MB of
 * mixed content: 60% random bytes in files of their own (incompressible, no duplicates), 40%
 * one random file copied several times (restic stores its chunks once). Then, each through the
 * CLI as a user runs it:
 *   1. `paas backups:capture` (wall time, the time the app was paused, the repository on disk);
 *   2. 10 MB of one file overwritten in place, captured again (deduplication: what it adds);
 *   3. the volume damaged, `paas backups:restore` of the second backup in place (wall time; the
 *      restored files checked against sha256 sums taken at its capture).
 * A capture's time includes `restic check --read-data-subset=10%` (jobs.ts). restic 0.14
 * (Debian 12) writes repository format 1: no compression, so the sizes are the data's own.
 */
import { execFileSync } from "node:child_process";
import os from "node:os";
import path from "node:path";
import { AgentClient } from "@paas/shared";
import { formatBytes } from "@paas/shared/sizes";
import { fixtureRepo, pushApp, ROOT, sh, startPlatform } from "../tests/helpers/platform.ts";
import { printTable } from "./table.ts";

const arg = (name: string, def: string) => {
  const i = process.argv.indexOf(name);
  return i < 0 ? def : process.argv[i + 1]!;
};
const MB = Number(arg("--mb", "1024"));
const CHANGED_MB = 10;
const COPIES = 8;
const APP = "bench-bk";
if (!Number.isInteger(MB) || MB < 200) throw new Error(`--mb ${arg("--mb", "")}: at least 200 (MB)`);

const du = (dir: string) => Number(execFileSync("du", ["-sb", dir], { encoding: "utf8" }).split("\t")[0]);
const sums = (dir: string) => execFileSync("sh", ["-c", `cd ${dir} && find . -type f | sort | xargs sha256sum`], { encoding: "utf8", maxBuffer: 16 << 20 });
const secs = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const sh$ = (dir: string, script: string) => execFileSync("sh", ["-c", `set -e; cd ${dir}; ${script}; sync`], { stdio: "inherit" });

const p = await startPlatform("bkbench", Number(arg("--port", "5700")));
const paas = async (args: string[]) => {
  const r = await sh(path.join(ROOT, "apps/cli/bin/paas"), args, { cwd: ROOT, env: { ...p.env, PAAS_URL: p.webUrl, PAAS_TOKEN: p.adminToken } });
  if (r.code !== 0) throw new Error(`paas ${args.join(" ")} exited ${r.code}: ${r.stderr}${r.stdout}`);
  return r.stdout;
};
try {
  const timed = async (args: string[]) => {
    const t = Date.now();
    const out = await paas(args);
    return { out, ms: Date.now() - t };
  };
  const agent = new AgentClient(`http://127.0.0.1:${p.env.PAAS_AGENT_PORT}`);
  await paas(["apps:create", APP]);
  const push = await pushApp(p, APP, await fixtureRepo("node-hello"));
  if (push.code !== 0) throw new Error(push.stderr + push.stdout);
  await paas(["volumes:add", "data", "/data", "--size", `${Math.ceil(MB * 1.25)}M`, "-a", APP]);
  const dir = (await agent.volume(`${APP}_data`)).path!;
  const repoDir = path.join(p.dataDir, "backups", APP, "repo");

  // 60% unique random bytes in 64 MB files; 40% one random file and its copies.
  const files = Math.max(1, Math.round((MB * 0.6) / 64));
  const copyMb = Math.floor((MB - files * 64) / COPIES);
  sh$(dir, `mkdir -p rand copies; for i in $(seq 1 ${files}); do head -c 64M /dev/urandom > rand/$i.bin; done; head -c ${copyMb}M /dev/urandom > copies/1.bin; for i in $(seq 2 ${COPIES}); do cp copies/1.bin copies/$i.bin; done`);
  const volBytes = du(dir);
  console.log(`backup bench: a volume of ${formatBytes(volBytes)} (${files} random files of 64 MB, ${COPIES} copies of one ${copyMb} MB file), restic in stack/backup, repository ${repoDir}`);
  console.log(`load average ${os.loadavg().map((l) => l.toFixed(2)).join(" ")} on ${os.cpus().length} cores before the captures\n`);

  const listed = async (id: string) => (JSON.parse(await paas(["backups", "-a", APP, "--json"])) as { backups: { id: string; pausedMs: number; sizeBytes: number; addedBytes: number }[] }).backups.find((b) => b.id === id)!;
  const rows: string[][] = [];

  const cap1 = await timed(["backups:capture", "-a", APP, "--json"]);
  const b1 = await listed((JSON.parse(cap1.out) as { id: string }).id);
  const repo1 = du(repoDir);
  rows.push(["capture", secs(cap1.ms), secs(b1.pausedMs), formatBytes(b1.sizeBytes), formatBytes(b1.addedBytes), formatBytes(repo1)]);

  // 10 MB rewritten in the middle of one random file, its size unchanged.
  sh$(dir, `head -c ${CHANGED_MB}M /dev/urandom | dd of=rand/1.bin bs=1M seek=20 conv=notrunc status=none`);
  const cap2 = await timed(["backups:capture", "-a", APP, "--json"]);
  const b2 = await listed((JSON.parse(cap2.out) as { id: string }).id);
  const repo2 = du(repoDir);
  rows.push([`capture after ${CHANGED_MB} MB changed`, secs(cap2.ms), secs(b2.pausedMs), formatBytes(b2.sizeBytes), formatBytes(b2.addedBytes), `${formatBytes(repo2)} (+${formatBytes(repo2 - repo1)})`]);
  const want = sums(dir);

  // Damage: a file gone, one cut short, one added; the restore puts back the second capture.
  sh$(dir, `rm rand/2.bin; truncate -s 1M copies/3.bin; echo stray > stray.txt`);
  const rest = await timed(["backups:restore", b2.id, "-a", APP]);
  const same = sums(dir) === want;
  const paused = /paused (\d+) ms/.exec(rest.out)?.[1];
  rows.push(["restore in place", secs(rest.ms), paused ? secs(Number(paused)) : "-", formatBytes(du(dir)), "-", same ? "bytes identical" : "bytes DIFFERENT"]);

  printTable(["step", "wall time", "app paused", "volume", "new data", "repository on disk"], rows);
  console.log(`\nvolume ${formatBytes(volBytes)} on disk; repository ${formatBytes(repo2)} after both captures; load average ${os.loadavg().map((l) => l.toFixed(2)).join(" ")} after`);
  if (!same) process.exitCode = 1;
} finally {
  // Nothing of the bench is left: the app, its volume and its backups go before the platform.
  await paas(["apps:destroy", APP, "--confirm", APP]).catch((err: Error) => console.error(err.message));
  await p.stop();
}
