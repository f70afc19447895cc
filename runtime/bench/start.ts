/**
 * Start latency of our runtime, as the library sees it (create excluded, start until the
 * helper reports the container exec'd): `npx tsx runtime/bench/start.ts [N]`.
 * Without network, with the bridge, and with a 64 MiB disk quota: its filesystem taken
 * from the pool of spares (limits/diskpool.ts) or made on demand (the pool off).
 * Uses its own data dir, bridge (paasbench0) and cgroup root, and removes them.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type { ContainerSpec } from "@paas/shared/agent-api";
import { Runtime } from "../src/containers.ts";
import { diskPoolDir, poolSpares, poolTarget } from "../src/limits/diskpool.ts";
import { Layout } from "../src/paths.ts";
import { ensureStacks } from "../src/stacks.ts";

const n = Number(process.argv[2] ?? 20);
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "paas-bench-"));
const rt = new Runtime({ dataDir, bridge: "paasbench0", subnet: "10.99.240.0/24", cgroupRoot: "paas-bench" });
try {
  await rt.init();
  await rt.images.ensureStacks();
  console.log("start of `true`               median_ms  p90_ms  min_ms");
  const pool = diskPoolDir(new Layout(dataDir).root);
  const disk = 64 << 20;
  const cases: [string, Partial<ContainerSpec>, string | undefined][] = [
    ["network none", { network: "none" }, undefined],
    ["none, no user namespace", { network: "none", userns: false }, undefined],
    ["network bridge", { network: "bridge" }, undefined],
    ["none + 64 MiB disk, pooled", { network: "none", diskBytes: disk }, undefined],
    ["none + 64 MiB disk, on demand", { network: "none", diskBytes: disk }, "0"],
  ];
  // Rounds of one start per case, so that a machine whose load drifts (a shared one) weighs
  // on every case alike.
  const times: number[][] = cases.map(() => []);
  for (let i = 0; i <= n; i++) {
    for (const [k, [, spec, poolEnv]] of cases.entries()) {
      if (poolEnv === undefined) delete process.env.PAAS_DISK_POOL;
      else process.env.PAAS_DISK_POOL = poolEnv;
      if (spec.diskBytes && poolTarget() > 0) {
        // the refill under way finishes first: a start from a full pool, not one racing mke2fs
        for (let w = 0; w < 200 && poolSpares(pool, disk).length < poolTarget(); w++) await new Promise((r) => setTimeout(r, 50));
      }
      const c = rt.create({ image: "stack/busybox", cmd: ["true"], memoryBytes: 32 << 20, cgroupParent: "b/a", network: "none", ...spec });
      const t = performance.now();
      await rt.start(c.id);
      // round 0 warms up (and finds the pool empty): not counted
      if (i > 0) times[k].push(performance.now() - t);
      await rt.wait(c.id);
      await rt.remove(c.id);
    }
  }
  for (const [k, [label]] of cases.entries()) {
    const ts = times[k].sort((a, b) => a - b);
    const q = (p: number) => ts[Math.min(ts.length - 1, Math.floor(p * ts.length))].toFixed(1);
    console.log(`${label.padEnd(30)} ${q(0.5).padStart(9)} ${q(0.9).padStart(7)} ${ts[0].toFixed(1).padStart(7)}`);
  }
  console.log(`(load average ${os.loadavg()[0].toFixed(1)}, ${os.cpus().length} CPUs)`);
} finally {
  for (const c of rt.list()) await rt.remove(c.id, { force: true }).catch(() => {});
  await rt.teardown();
  for (const ctrl of ["memory", "cpu", "pids", "cpuacct", "freezer", "blkio"]) {
    const root = `/sys/fs/cgroup/${ctrl}/paas-bench`;
    for (const d of ["b/a", "b", ""]) if (fs.existsSync(path.join(root, d))) fs.rmdirSync(path.join(root, d));
  }
  fs.rmSync(dataDir, { recursive: true, force: true });
}
