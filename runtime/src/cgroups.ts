/**
 * Cgroups behind one interface, a driver per cgroup version.
 *
 * Use:
 *   const cg = detectCgroupDriver();                       // v1 here, v2 on most current hosts
 *   const h = cg.create("paas/team/app/c1", { memoryBytes: 64 << 20, cpuMillis: 500, pidsLimit: 256 });
 *   // give h.dirs to the helper (it writes the container's pid to each cgroup.procs before exec)
 *   // and h.oomFile (it counts "oom_kill" before and after the run to report OOM kills)
 *   cg.remove("paas/team/app/c1");                         // kills leftovers, removes the leaf
 */
import fs from "node:fs";
import path from "node:path";
import { RuntimeError } from "./util.ts";

export interface CgroupLimits {
  memoryBytes: number;
  cpuMillis?: number;
  pidsLimit?: number;
}

export interface CgroupHandle {
  /** Directories whose cgroup.procs the container's pid is written to. */
  dirs: string[];
  /** A file with an "oom_kill N" line. */
  oomFile: string;
}

export interface CgroupDriver {
  readonly kind: "v1" | "v2";
  create(relPath: string, limits: CgroupLimits): CgroupHandle;
  /** Current memory use in bytes, when the cgroup exists. */
  memoryUsage(relPath: string): number | undefined;
  remove(relPath: string): void;
}

const CPU_PERIOD = 100_000;

function write(file: string, value: string) {
  try {
    fs.writeFileSync(file, value);
  } catch (err) {
    throw new RuntimeError(`cannot write "${value}" to ${file}: ${(err as Error).message}`);
  }
}

function validate(relPath: string) {
  if (!relPath || relPath.split("/").some((p) => p === "" || p === "." || p === "..")) {
    throw new RuntimeError(`bad cgroup path "${relPath}"`, 400);
  }
}

/** Kills what is left in a cgroup dir and removes it (rmdir needs it empty). */
function killAndRmdir(dir: string, procsFile = "cgroup.procs") {
  for (let i = 0; i < 50; i++) {
    if (!fs.existsSync(dir)) return;
    let pids: number[] = [];
    try {
      pids = fs.readFileSync(path.join(dir, procsFile), "utf8").split("\n").filter(Boolean).map(Number);
    } catch {}
    for (const pid of pids) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {}
    }
    try {
      fs.rmdirSync(dir);
      return;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === "ENOENT") return;
      if (code !== "EBUSY" || i === 49) throw new RuntimeError(`cannot remove cgroup ${dir}: ${(err as Error).message}`);
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
    }
  }
}

/** cgroup v1: one hierarchy per controller under `mountRoot/<controller>`. */
export class CgroupV1Driver implements CgroupDriver {
  readonly kind = "v1";
  constructor(readonly mountRoot = "/sys/fs/cgroup") {}

  private dir(ctrl: string, rel: string) {
    return path.join(this.mountRoot, ctrl, rel);
  }

  create(rel: string, limits: CgroupLimits): CgroupHandle {
    validate(rel);
    const mem = this.dir("memory", rel);
    const cpu = this.dir("cpu", rel);
    const pids = this.dir("pids", rel);
    for (const d of [mem, cpu, pids]) fs.mkdirSync(d, { recursive: true });
    write(path.join(mem, "memory.limit_in_bytes"), String(limits.memoryBytes));
    // Without this, a process can go on past the limit in swap.
    if (fs.existsSync(path.join(mem, "memory.memsw.limit_in_bytes"))) {
      write(path.join(mem, "memory.memsw.limit_in_bytes"), String(limits.memoryBytes));
    }
    write(path.join(cpu, "cpu.cfs_period_us"), String(CPU_PERIOD));
    write(path.join(cpu, "cpu.cfs_quota_us"), limits.cpuMillis ? String(Math.max(1000, Math.round((limits.cpuMillis * CPU_PERIOD) / 1000))) : "-1");
    write(path.join(pids, "pids.max"), limits.pidsLimit ? String(limits.pidsLimit) : "max");
    return { dirs: [mem, cpu, pids], oomFile: path.join(mem, "memory.oom_control") };
  }

  memoryUsage(rel: string): number | undefined {
    try {
      return Number(fs.readFileSync(path.join(this.dir("memory", rel), "memory.usage_in_bytes"), "utf8"));
    } catch {
      return undefined;
    }
  }

  remove(rel: string) {
    validate(rel);
    for (const ctrl of ["memory", "cpu", "pids"]) killAndRmdir(this.dir(ctrl, rel));
  }
}

/** cgroup v2: one unified hierarchy; controllers enabled down the path via subtree_control. */
export class CgroupV2Driver implements CgroupDriver {
  readonly kind = "v2";
  constructor(readonly mountRoot = "/sys/fs/cgroup") {}

  /** Controllers this hierarchy offers at its root (a v2 mount beside v1 may offer none). */
  available(): Set<string> {
    try {
      return new Set(fs.readFileSync(path.join(this.mountRoot, "cgroup.controllers"), "utf8").trim().split(/\s+/).filter(Boolean));
    } catch {
      return new Set();
    }
  }

  create(rel: string, limits: CgroupLimits): CgroupHandle {
    validate(rel);
    const want = ["memory", "cpu", "pids"].filter((c) => this.available().has(c));
    if (!want.includes("memory")) {
      throw new RuntimeError(`the cgroup v2 hierarchy at ${this.mountRoot} has no memory controller; cannot limit memory`);
    }
    // Each ancestor must delegate the controllers to its children; processes live only in leaves.
    let cur = this.mountRoot;
    const parts = rel.split("/");
    for (let i = 0; i < parts.length; i++) {
      const ctl = path.join(cur, "cgroup.subtree_control");
      const enabled = new Set(fs.readFileSync(ctl, "utf8").trim().split(/\s+/).filter(Boolean));
      const missing = want.filter((c) => !enabled.has(c));
      if (missing.length) write(ctl, missing.map((c) => `+${c}`).join(" "));
      cur = path.join(cur, parts[i]);
      fs.mkdirSync(cur, { recursive: true });
    }
    write(path.join(cur, "memory.max"), String(limits.memoryBytes));
    if (fs.existsSync(path.join(cur, "memory.swap.max"))) write(path.join(cur, "memory.swap.max"), "0");
    if (want.includes("cpu")) {
      write(path.join(cur, "cpu.max"), limits.cpuMillis ? `${Math.max(1000, Math.round((limits.cpuMillis * CPU_PERIOD) / 1000))} ${CPU_PERIOD}` : `max ${CPU_PERIOD}`);
    }
    if (want.includes("pids")) write(path.join(cur, "pids.max"), limits.pidsLimit ? String(limits.pidsLimit) : "max");
    // memory.events counts "oom_kill" (kills), unlike "oom" (limit reached).
    return { dirs: [cur], oomFile: path.join(cur, "memory.events") };
  }

  memoryUsage(rel: string): number | undefined {
    try {
      return Number(fs.readFileSync(path.join(this.mountRoot, rel, "memory.current"), "utf8"));
    } catch {
      return undefined;
    }
  }

  remove(rel: string) {
    validate(rel);
    const dir = path.join(this.mountRoot, rel);
    if (fs.existsSync(path.join(dir, "cgroup.kill"))) {
      try {
        fs.writeFileSync(path.join(dir, "cgroup.kill"), "1");
      } catch {}
    }
    killAndRmdir(dir);
  }
}

/** v2 when /sys/fs/cgroup itself is a cgroup2 mount with a memory controller, else v1. */
export function detectCgroupDriver(mountRoot = "/sys/fs/cgroup"): CgroupDriver {
  const forced = process.env.PAAS_CGROUP_DRIVER;
  if (forced === "v1") return new CgroupV1Driver(mountRoot);
  if (forced === "v2") return new CgroupV2Driver(mountRoot);
  if (fs.existsSync(path.join(mountRoot, "cgroup.controllers"))) return new CgroupV2Driver(mountRoot);
  return new CgroupV1Driver(mountRoot);
}
