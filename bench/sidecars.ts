/**
 * What each kind of sidecar costs a replica, and how long attaching it takes:
 *   flock /tmp/paas-itest.1.lock npx tsx bench/sidecars.ts [--rounds 3] [--settle 15]
 * A platform of its own (ports 7400-7499), one app (tests/fixtures/node-hello) with one web
 * replica; then for each kind, `rounds` times: `paas sidecars:attach KIND` timed as a user
 * waits for it (the whole CLI process: it returns once every replica's sidecar runs), the
 * sidecar's cgroup figures read through the agent after `settle` seconds (memory as the
 * kernel counts it for the cgroup: its processes and the page cache they touched; processes),
 * then `sidecars:detach`. The kinds: logging (busybox tail of the app's log dir into the log
 * stream), metrics (busybox httpd + CGI scraping the app), and a custom busybox `sleep` as
 * the floor of any sidecar (a container, a shell-less process). The app's replica is printed
 * beside for scale. Medians of the rounds.
 */
import { AgentClient, type ContainerInfo } from "@paas/shared";
import { fixtureRepo, pushApp, ROOT, sh, startPlatform } from "../tests/helpers/platform.ts";
import path from "node:path";
import { printTable } from "./table.ts";

const arg = (name: string, def: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : def;
};
const ROUNDS = arg("rounds", 3);
const SETTLE_S = arg("settle", 15);
const APP = "sidebench";
const KINDS: { kind: string; args: string[] }[] = [
  { kind: "logging", args: [] },
  { kind: "metrics", args: [] },
  { kind: "floor", args: ["--image", "stack/busybox", "--memory", "32M", "--", "sleep", "1000000"] },
];

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const mb = (b: number) => (b / 2 ** 20).toFixed(1);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const p = await startPlatform("bench-sidecars", 7400);
try {
  const paas = (args: string[]) => sh(path.join(ROOT, "apps/cli/bin/paas"), args, { cwd: ROOT, env: { ...p.env, PAAS_URL: p.webUrl, PAAS_TOKEN: p.adminToken } });
  const must = async (args: string[]) => {
    const r = await paas(args);
    if (r.code !== 0) throw new Error(`paas ${args.join(" ")}: ${r.stderr}${r.stdout}`);
    return r;
  };
  await must(["apps:create", APP]);
  const pushed = await pushApp(p, APP, await fixtureRepo("node-hello"));
  if (pushed.code !== 0) throw new Error(`the push failed:\n${pushed.stderr}`);
  const agent = new AgentClient(`http://127.0.0.1:${p.env.PAAS_AGENT_PORT}`, p.env.PAAS_AGENT_TOKEN);
  const mine = async (pred: (c: ContainerInfo) => boolean) => (await agent.containers()).filter((c) => c.labels["paas.app"] === APP && c.state === "running" && pred(c));

  const rows: string[][] = [];
  for (const { kind, args } of KINDS) {
    const attach: number[] = [];
    const memory: number[] = [];
    const pids: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const t0 = performance.now();
      await must(["sidecars:attach", kind, "-a", APP, ...args]);
      attach.push(performance.now() - t0);
      const [sc] = await mine((c) => c.labels["paas.sidecar"] === kind);
      if (!sc) throw new Error(`no ${kind} sidecar runs after its attach`);
      await sleep(SETTLE_S * 1000);
      const st = await agent.stats(sc.id);
      memory.push(st.memoryBytes);
      pids.push(st.pids);
      await must(["sidecars:detach", kind, "-a", APP]);
    }
    rows.push([kind, `${Math.round(median(attach))} ms`, `${mb(median(memory))} MB`, String(median(pids))]);
  }
  const [web] = await mine((c) => c.labels["paas.process"] === "web");
  const ws = await agent.stats(web!.id);
  rows.push(["(the app's web replica)", "", `${mb(ws.memoryBytes)} MB`, String(ws.pids)]);

  console.log(`\nsidecars on one replica of ${APP} (node-hello); medians of ${ROUNDS} rounds, memory ${SETTLE_S} s after the attach`);
  printTable(["kind", "attach (CLI, until running)", "memory (cgroup)", "processes"], rows);
} finally {
  await p.stop();
}
