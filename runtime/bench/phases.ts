/**
 * Where a `run --rm` of `true` spends its time, as the agent (a warm process) pays it:
 * rt.create, rt.start, rt.wait, rt.remove, median of each over N runs (5 warm-up runs first).
 *   npx tsx runtime/bench/phases.ts [N]
 * The same spec as bench/runtime.ts: stack/busybox, 32 MiB, network none, user namespace on
 * where the kernel can (PAAS_USERNS=off compares without). Its own data dir, bridge
 * (paasph0) and cgroup root unless PAAS_DATA_DIR/PAAS_BRIDGE/PAAS_SUBNET/PAAS_CGROUP_ROOT
 * say otherwise; what it made is removed at the end (a given data dir is kept).
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Runtime } from "../src/containers.ts";
import { ensureStacks } from "../src/stacks.ts";

const n = Number(process.argv[2] ?? 25);
const WARM_UP = 5;
const givenDir = process.env.PAAS_DATA_DIR;
const dataDir = givenDir ?? fs.mkdtempSync(path.join(os.tmpdir(), "paas-phases-"));
const cgroupRoot = process.env.PAAS_CGROUP_ROOT ?? "paas-phases";
const rt = new Runtime({
  dataDir,
  bridge: process.env.PAAS_BRIDGE ?? "paasph0",
  subnet: process.env.PAAS_SUBNET ?? "10.99.241.0/24",
  cgroupRoot,
});
const spec = { image: "stack/busybox", cmd: ["true"], memoryBytes: 32 << 20, cgroupParent: "b/a", network: "none" as const };
try {
  await rt.init();
  await rt.images.ensureStacks();
  const rows: number[][] = [];
  for (let i = 0; i < WARM_UP + n; i++) {
    const t0 = performance.now();
    const c = rt.create(spec);
    const t1 = performance.now();
    await rt.start(c.id);
    const t2 = performance.now();
    await rt.wait(c.id);
    const t3 = performance.now();
    await rt.remove(c.id);
    const t4 = performance.now();
    if (i >= WARM_UP) rows.push([t1 - t0, t2 - t1, t3 - t2, t4 - t3, t4 - t0]);
  }
  const q = (k: number, p: number) => {
    const s = rows.map((r) => r[k]).sort((a, b) => a - b);
    return s[Math.min(s.length - 1, Math.floor(p * s.length))].toFixed(1);
  };
  const names = ["create", "start", "wait", "remove", "total"];
  console.log(`run of \`true\`, ms over ${n} runs  ${names.map((x) => x.padStart(7)).join("")}`);
  console.log(`median                        ${names.map((_, k) => q(k, 0.5).padStart(7)).join("")}`);
  console.log(`p90                           ${names.map((_, k) => q(k, 0.9).padStart(7)).join("")}`);
  console.log(`(load average ${os.loadavg()[0].toFixed(1)}, ${os.cpus().length} CPUs)`);
} finally {
  for (const c of rt.list()) await rt.remove(c.id, { force: true }).catch(() => {});
  await rt.teardown();
  for (const ctrl of ["memory", "cpu", "pids", "cpuacct", "freezer", "blkio"]) {
    const root = `/sys/fs/cgroup/${ctrl}/${cgroupRoot}`;
    for (const d of ["b/a", "b", ""]) if (fs.existsSync(path.join(root, d))) fs.rmdirSync(path.join(root, d));
  }
  if (!givenDir) fs.rmSync(dataDir, { recursive: true, force: true });
}
