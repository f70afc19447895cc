/**
 * Start latency of our runtime, as the library sees it (create excluded, start until the
 * helper reports the container exec'd): `npx tsx runtime/bench/start.ts [N]`.
 * Uses its own data dir, bridge (paasbench0) and cgroup root, and removes them.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Runtime } from "../src/containers.ts";
import { ensureStacks } from "../src/stacks.ts";

const n = Number(process.argv[2] ?? 20);
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "paas-bench-"));
const rt = new Runtime({ dataDir, bridge: "paasbench0", subnet: "10.99.240.0/24", cgroupRoot: "paas-bench" });
try {
  await rt.init();
  await ensureStacks(rt.images);
  console.log("network  median_ms  p90_ms  min_ms");
  for (const network of ["none", "bridge"] as const) {
    const times: number[] = [];
    for (let i = 0; i < n; i++) {
      const c = rt.create({ image: "stack/busybox", cmd: ["true"], memoryBytes: 32 << 20, cgroupParent: "b/a", network });
      const t = performance.now();
      await rt.start(c.id);
      times.push(performance.now() - t);
      await rt.wait(c.id);
      await rt.remove(c.id);
    }
    times.sort((a, b) => a - b);
    const q = (p: number) => times[Math.min(times.length - 1, Math.floor(p * times.length))].toFixed(1);
    console.log(`${network.padEnd(8)} ${q(0.5).padStart(9)} ${q(0.9).padStart(7)} ${times[0].toFixed(1).padStart(7)}`);
  }
} finally {
  await rt.net.teardownHost();
  for (const ctrl of ["memory", "cpu", "pids"]) {
    const root = `/sys/fs/cgroup/${ctrl}/paas-bench`;
    for (const d of ["b/a", "b", ""]) if (fs.existsSync(path.join(root, d))) fs.rmdirSync(path.join(root, d));
  }
  fs.rmSync(dataDir, { recursive: true, force: true });
}
