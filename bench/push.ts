/**
 * Push to answering, for the Node fixture with one registry dependency (tests/fixtures/node-deps):
 *   npx tsx bench/push.ts [--n 5]
 * cold: the first push of a new app (no dependency cache); warm: a one-line code change
 * of an app already deployed (the dependency layer is reused). Time = `git push` start to
 * the new code answering through the router. The share of each step comes from the
 * build's own timing summary ("Done in ... (detect 0.0s, ...)").
 * Runs a whole platform of its own (ports 3700-3791, data dir in /tmp), stopped at the end.
 * Anchors: Heroku and Dokku take tens of seconds for the same push.
 */
import fs from "node:fs/promises";
import path from "node:path";
import { commitChange, fixtureRepo, sh, startPlatform, viaRouter } from "../tests/helpers/platform.ts";

const n = Number(process.argv[process.argv.indexOf("--n") + 1]) || 5;
const p = await startPlatform("benchpush", 3700);
const gitEnv = { ...process.env, GIT_TERMINAL_PROMPT: "0" };
const url = (app: string) => `http://git:${p.adminToken}@127.0.0.1:${p.env.PAAS_WEB_PORT}/git/${app}.git`;

async function createApp(name: string) {
  const r = await sh(path.resolve(import.meta.dirname, "../apps/cli/bin/paas"), ["apps:create", name], {
    env: { ...p.env, PAAS_URL: p.webUrl, PAAS_TOKEN: p.adminToken },
  });
  if (r.code !== 0) throw new Error(r.stderr + r.stdout);
}

/** Pushes and waits until the app answers `expect`; returns seconds and the build's step timings. */
async function timedPush(app: string, dir: string, expect: string) {
  const t0 = performance.now();
  const r = await sh("git", ["push", url(app), "main"], { cwd: dir, env: gitEnv });
  if (r.code !== 0) throw new Error(`push of ${app} failed:\n${r.stderr}`);
  const pushed = (performance.now() - t0) / 1000;
  for (;;) {
    const a = await viaRouter(p, app).catch(() => ({ status: 0, body: "" }));
    if (a.status === 200 && a.body.includes(expect)) break;
    await new Promise((res) => setTimeout(res, 20));
  }
  const seconds = (performance.now() - t0) / 1000;
  const summary = /Done in [\d.]+s \(([^)]*)\)/.exec(r.stderr)?.[1] ?? "";
  const steps = Object.fromEntries(
    summary.split(", ").filter(Boolean).map((part) => {
      const m = /^(.*) ([\d.]+)s$/.exec(part)!;
      return [m[1], Number(m[2])];
    }),
  );
  return { seconds, steps, detail: `git push returned at ${pushed.toFixed(2)}s; ${summary || "no step summary"}` };
}

type Run = Awaited<ReturnType<typeof timedPush>>;
const cold: Run[] = [];
const warm: Run[] = [];
try {
  const dir = await fixtureRepo("node-deps");
  for (let i = 1; i <= n; i++) {
    await createApp(`cold${i}`);
    cold.push(await timedPush(`cold${i}`, dir, "deps v1"));
    process.stderr.write(`cold ${i}: ${cold.at(-1)!.seconds.toFixed(2)}s (${cold.at(-1)!.detail})\n`);
  }
  // Warm: one-line changes of cold1, whose dependency layer is cached.
  for (let i = 1; i <= n; i++) {
    const src = await fs.readFile(path.join(dir, "server.js"), "utf8");
    await commitChange(dir, "server.js", src.replace(/deps v\d+/, `deps v${i + 1}`), `v${i + 1}`);
    warm.push(await timedPush("cold1", dir, `deps v${i + 1}`));
    process.stderr.write(`warm ${i}: ${warm.at(-1)!.seconds.toFixed(2)}s (${warm.at(-1)!.detail})\n`);
  }
} finally {
  await p.stop();
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
function table(name: string, runs: Run[]) {
  const total = median(runs.map((r) => r.seconds));
  const labels = [...new Set(runs.flatMap((r) => Object.keys(r.steps)))];
  console.log(`\n${name}: median ${total.toFixed(2)}s, min ${Math.min(...runs.map((r) => r.seconds)).toFixed(2)}s, max ${Math.max(...runs.map((r) => r.seconds)).toFixed(2)}s (n=${runs.length})`);
  console.log("| step | median s | share of push |");
  console.log("| --- | ---: | ---: |");
  let inSteps = 0;
  for (const l of labels) {
    const m = median(runs.map((r) => r.steps[l] ?? 0));
    inSteps += m;
    console.log(`| ${l} | ${m.toFixed(2)} | ${((m / total) * 100).toFixed(0)}% |`);
  }
  console.log(`| git transfer, queue, hook, routing | ${Math.max(0, total - inSteps).toFixed(2)} | ${(Math.max(0, (total - inSteps) / total) * 100).toFixed(0)}% |`);
}
table("cold (first push, dependencies installed)", cold);
table("warm (one-line change, dependency layer reused)", warm);
console.log("\ntargets: warm < 3 s, cold < 10 s; anchors: Heroku and Dokku take tens of seconds");
