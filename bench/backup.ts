/**
 * A backup and a restore of 1 GB through the platform:
 *   npx tsx bench/backup.ts [--mb 1024] [--port 5700]
 * Starts a platform of its own, pushes a fixture app with two volumes, fills one with random
 * bytes (incompressible, no duplicates) and the other with compressible text (seq's output), then
 * for each: `paas backups:capture` (wall time, the time the app was paused, the repository's
 * growth on disk), a second capture of the same data (deduplication), and `paas backups:restore`
 * in place (wall time; the restored bytes checked against a sha256 of the original).
 */
import { execFileSync } from "node:child_process";
import path from "node:path";
import { AgentClient } from "@paas/shared";
import { fixtureRepo, ROOT, sh, startPlatform } from "../tests/helpers/platform.ts";

const arg = (name: string, def: string) => {
  const i = process.argv.indexOf(name);
  return i < 0 ? def : process.argv[i + 1]!;
};
const MB = Number(arg("--mb", "1024"));
const APP = "bench-bk";
const p = await startPlatform("bkbench", Number(arg("--port", "5700")));
const du = (dir: string) => Number(execFileSync("du", ["-sb", dir], { encoding: "utf8" }).split("\t")[0]);
const sha = (dir: string) => execFileSync("sh", ["-c", `cd ${dir} && find . -type f | sort | xargs sha256sum | sha256sum`], { encoding: "utf8" }).trim();
const fmt = (n: number) => `${(n / 2 ** 20).toFixed(1)} MB`;
try {
  const paas = async (args: string[]) => {
    const r = await sh(path.join(ROOT, "apps/cli/bin/paas"), args, { cwd: ROOT, env: { ...p.env, PAAS_URL: p.webUrl, PAAS_TOKEN: p.adminToken } });
    if (r.code !== 0) throw new Error(`paas ${args.join(" ")} exited ${r.code}: ${r.stderr}${r.stdout}`);
    return r.stdout;
  };
  const agent = new AgentClient(`http://127.0.0.1:${p.env.PAAS_AGENT_PORT}`);
  await paas(["apps:create", APP]);
  const repo = await fixtureRepo("node-hello");
  const push = await sh("git", ["push", `http://git:${p.adminToken}@127.0.0.1:${p.env.PAAS_WEB_PORT}/git/${APP}.git`, "main"], { cwd: repo, env: { ...process.env, GIT_TERMINAL_PROMPT: "0" } });
  if (push.code !== 0) throw new Error(push.stderr);
  const size = `${Math.ceil((MB * 1.25) / 1024)}G`;
  await paas(["volumes:add", "rand", "/rand", "--size", size, "-a", APP]);
  await paas(["volumes:add", "text", "/text", "--size", size, "-a", APP]);
  const fill = {
    rand: `head -c ${MB}M /dev/urandom > f.bin`,
    text: `seq 1 1000000000 | head -c ${MB}M > f.txt`,
  };
  const repoDir = path.join(p.dataDir, "backups", APP, "repo");
  console.log(`backup bench: ${MB} MB per volume, restic in stack/backup, repository ${repoDir}`);
  for (const [vol, cmd] of Object.entries(fill)) {
    const dir = (await agent.volume(`${APP}_${vol}`)).path!;
    execFileSync("sh", ["-c", `cd ${dir} && ${cmd} && sync`]);
    const want = sha(dir);
    const before = du(repoDir);
    let t = Date.now();
    const id = (JSON.parse(await paas(["backups:capture", "-a", APP, "--volume", vol, "--json"])) as { id: string }).id;
    const capMs = Date.now() - t;
    const grown = du(repoDir) - before;
    const row = (JSON.parse(await paas(["backups", "-a", APP, "--json"])) as { backups: { id: string; pausedMs: number; sizeBytes: number }[] }).backups.find((b) => b.id === id)!;
    t = Date.now();
    await paas(["backups:capture", "-a", APP, "--volume", vol, "--json"]);
    const againMs = Date.now() - t;
    const grownAgain = du(repoDir) - before - grown;
    execFileSync("sh", ["-c", `cd ${dir} && rm -f f.* && echo changed > g`]);
    t = Date.now();
    await paas(["backups:restore", id, "-a", APP]);
    const restMs = Date.now() - t;
    const ok = sha(dir) === want;
    console.log(
      `${vol}: capture ${(capMs / 1000).toFixed(1)} s (app paused ${(row.pausedMs / 1000).toFixed(1)} s; includes restic check --read-data-subset=10%) of ${fmt(row.sizeBytes)}, repository +${fmt(grown)} on disk; ` +
        `second capture of the same data ${(againMs / 1000).toFixed(1)} s, +${fmt(grownAgain)}; restore in place ${(restMs / 1000).toFixed(1)} s, bytes ${ok ? "identical" : "DIFFERENT"}`,
    );
    if (!ok) process.exitCode = 1;
  }
} finally {
  await p.stop();
}
