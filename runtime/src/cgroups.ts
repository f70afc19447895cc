/**
 * Cgroups behind one interface, a driver per cgroup version.
 *
 * Use:
 *   const cg = detectCgroupDriver();                       // v1 here (hybrid), v2 on most current hosts
 *   cg.setLimits("paas/team", { memoryBytes: 1 << 30 });   // an inner node: caps the sum of what is below
 *   const h = cg.create("paas/team/app/c1", { memoryBytes: 64 << 20, cpuMillis: 500, cpuShares: 512, pidsLimit: 256,
 *                                            io: [{ device: "7:3", writeBps: 5 << 20 }] });
 *   // give h.dirs to the helper (the container's process joins each before it execs)
 *   // and h.oomFile (it counts "oom_kill" before and after the run to report OOM kills)
 *   cg.freeze("paas/team/app/c1"); cg.thaw("paas/team/app/c1");
 *   cg.remove("paas/team/app/c1");                         // kills leftovers, removes the leaf and empty parents
 *
 * Layouts: v1 (a hierarchy per controller under /sys/fs/cgroup/<ctrl>), v2 (/sys/fs/cgroup is
 * cgroup2), and "hybrid" (v1 controllers plus a cgroup2 mount at /sys/fs/cgroup/unified that
 * holds no controller we need): hybrid uses the v1 driver.
 */
import fs from "node:fs";
import path from "node:path";
import { RuntimeError } from "./util.ts";

export interface IoLimit {
  /** "major:minor" of a block device. */
  device: string;
  readBps?: number;
  writeBps?: number;
}

export interface CgroupLimits {
  memoryBytes?: number;
  /** Quota in millicores (1000 = one core). */
  cpuMillis?: number;
  /** Relative weight, Docker's --cpu-shares scale (2..262144, default 1024); cpu.weight on v2. */
  cpuShares?: number;
  pidsLimit?: number;
  io?: IoLimit[];
}

export interface CgroupHandle {
  /** Directories whose cgroup.procs the container's pid is written to. */
  dirs: string[];
  /** A file with an "oom_kill N" line. */
  oomFile: string;
}

export interface CgroupDriver {
  readonly kind: "v1" | "v2";
  /** Makes the leaf (and its parents) and sets its limits. */
  create(relPath: string, limits: CgroupLimits): CgroupHandle;
  /** Makes or updates an inner node (a team): its limits cap the sum of its descendants. */
  setLimits(relPath: string, limits: CgroupLimits): void;
  /** The limits as the kernel holds them (unset ones absent). */
  readLimits(relPath: string): CgroupLimits;
  /** Current memory use in bytes, when the cgroup exists. */
  memoryUsage(relPath: string): number | undefined;
  /** CPU time used, in nanoseconds, when the cgroup exists. */
  cpuUsageNs(relPath: string): number | undefined;
  /** Processes the kernel's OOM killer killed in the cgroup since it was made, when it exists. */
  oomKills(relPath: string): number | undefined;
  freeze(relPath: string): Promise<void>;
  thaw(relPath: string): Promise<void>;
  frozen(relPath: string): boolean;
  exists(relPath: string): boolean;
  /** The directories of the cgroup, one per hierarchy (a process joins each: exec). */
  dirs(relPath: string): string[];
  /** Pids of the processes in the cgroup (its own, not its descendants'). */
  procs(relPath: string): number[];
  /** The node and every node below it, emptied of processes and removed (tests, infra/down). */
  removeTree(relPath: string): void;
  /** Kills what is left, removes the leaf, then each parent below the team's node that became empty. */
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

/** The "oom_kill N" line of memory.oom_control (v1) or memory.events (v2); 0 on kernels without it. */
function oomKillCount(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const m = text.match(/^oom_kill (\d+)/m);
  return m ? Number(m[1]) : 0;
}

function read(file: string): string | undefined {
  try {
    return fs.readFileSync(file, "utf8").trim();
  } catch {
    return undefined;
  }
}

function validate(relPath: string): string {
  if (!relPath || relPath.split("/").some((p) => p === "" || p === "." || p === "..")) {
    throw new RuntimeError(`bad cgroup path "${relPath}"`, 400);
  }
  return relPath;
}

function quota(cpuMillis: number) {
  return Math.max(1000, Math.round((cpuMillis * CPU_PERIOD) / 1000));
}

/** Docker's shares -> cgroup2 weight (runc's formula). */
export function sharesToWeight(shares: number) {
  return Math.min(10000, Math.max(1, Math.round(1 + ((shares - 2) * 9999) / 262142)));
}
export function weightToShares(weight: number) {
  return Math.round(2 + ((weight - 1) * 262142) / 9999);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const sleepSync = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

/** Kills what is left in a cgroup dir and removes it (rmdir needs it empty). */
function killAndRmdir(dir: string, rmdir: (d: string) => void, beforeKill?: () => void) {
  // Mostly the container has exited and its cgroup is empty: the first try is one rmdir,
  // nothing read (a second removal, e.g. remove after wait's clean-up, meets ENOENT).
  for (let i = 0; ; i++) {
    if (i > 0) {
      beforeKill?.();
      let pids: number[] = [];
      try {
        pids = fs.readFileSync(path.join(dir, "cgroup.procs"), "utf8").split("\n").filter(Boolean).map(Number);
      } catch {}
      for (const pid of pids) {
        try {
          process.kill(pid, "SIGKILL");
        } catch {}
      }
    }
    try {
      rmdir(dir);
      return;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === "ENOENT") return;
      if (code !== "EBUSY" || i === 50) throw new RuntimeError(`cannot remove cgroup ${dir}: ${(err as Error).message}`);
      if (i > 0) sleepSync(20);
    }
  }
}

/**
 * rmdir of each parent of `rel` (`<runtime root>/<team>/<app>/.../<id>`) below the team's
 * node that is now empty of child cgroups; stops at the first in use. The runtime's root and
 * the team's node stay: the team's caps live there (PUT /v1/cgroups/:team), and remaking
 * them at every lone container's start cost ~1 ms.
 */
function pruneParents(root: string, rel: string, rmdir: (d: string) => void) {
  const parts = rel.split("/");
  for (let n = parts.length - 1; n >= 3; n--) {
    try {
      rmdir(path.join(root, ...parts.slice(0, n)));
    } catch {
      return; // in use, or pruned already (and so are those above it)
    }
  }
}

export interface DriverOptions {
  /** How a cgroup dir is removed; the kernel's rmdir by default (a fake tree passes its own). */
  rmdir?: (dir: string) => void;
}

/** cgroup v1: one hierarchy per controller under `mountRoot/<controller>`. */
export class CgroupV1Driver implements CgroupDriver {
  readonly kind = "v1";
  private readonly rmdir: (d: string) => void;
  /** Controllers a container joins; the optional ones only where mounted. */
  readonly controllers: string[];

  constructor(
    readonly mountRoot = "/sys/fs/cgroup",
    opts: DriverOptions = {},
  ) {
    this.rmdir = opts.rmdir ?? ((d) => fs.rmdirSync(d));
    const optional = ["cpuacct", "freezer", "blkio"].filter((c) => fs.existsSync(path.join(mountRoot, c, "cgroup.procs")));
    this.controllers = ["memory", "cpu", "pids", ...optional];
  }

  private dir(ctrl: string, rel: string) {
    // cpu and cpuacct are often one hierarchy (cpu,cpuacct); then "cpuacct" resolves to the same dir.
    return path.join(this.mountRoot, ctrl, rel);
  }

  private apply(rel: string, limits: CgroupLimits, leaf: boolean) {
    const mem = this.dir("memory", rel);
    const cpu = this.dir("cpu", rel);
    const pids = this.dir("pids", rel);
    if (limits.memoryBytes !== undefined || leaf) {
      const v = limits.memoryBytes !== undefined ? String(limits.memoryBytes) : "-1";
      // memsw must stay >= limit: raise memsw first when growing, lower it after when shrinking.
      const memsw = path.join(mem, "memory.memsw.limit_in_bytes");
      const hasSw = fs.existsSync(memsw);
      const cur = Number(read(path.join(mem, "memory.limit_in_bytes")) ?? 0);
      const growing = v === "-1" || Number(v) > cur;
      if (hasSw && growing) write(memsw, v);
      write(path.join(mem, "memory.limit_in_bytes"), v);
      // Without memsw, a process can go on past the limit in swap.
      if (hasSw && !growing) write(memsw, v);
    }
    if (limits.cpuMillis !== undefined || leaf) {
      write(path.join(cpu, "cpu.cfs_period_us"), String(CPU_PERIOD));
      write(path.join(cpu, "cpu.cfs_quota_us"), limits.cpuMillis ? String(quota(limits.cpuMillis)) : "-1");
    }
    if (limits.cpuShares !== undefined || leaf) write(path.join(cpu, "cpu.shares"), String(limits.cpuShares ?? 1024));
    if (limits.pidsLimit !== undefined || leaf) write(path.join(pids, "pids.max"), limits.pidsLimit ? String(limits.pidsLimit) : "max");
    if (limits.io?.length) {
      if (!this.controllers.includes("blkio")) throw new RuntimeError("the blkio cgroup controller is not mounted here; cannot limit disk I/O");
      const blk = this.dir("blkio", rel);
      for (const io of limits.io) {
        // 0 removes a rule.
        write(path.join(blk, "blkio.throttle.read_bps_device"), `${io.device} ${io.readBps ?? 0}`);
        write(path.join(blk, "blkio.throttle.write_bps_device"), `${io.device} ${io.writeBps ?? 0}`);
      }
    }
  }

  /**
   * Each controller's hierarchy once (cpu and cpuacct are often one, linked under both
   * names), resolved at first use; the freezer's first, so that remove() thaws before it kills.
   */
  private hierarchies?: string[];
  private roots(): string[] {
    const order = [...this.controllers].sort((a, b) => Number(b === "freezer") - Number(a === "freezer"));
    return (this.hierarchies ??= [...new Set(order.map((c) => fs.realpathSync(path.join(this.mountRoot, c))))]);
  }

  create(rel: string, limits: CgroupLimits): CgroupHandle {
    validate(rel);
    const dirs = this.roots().map((r) => path.join(r, rel));
    for (const d of dirs) fs.mkdirSync(d, { recursive: true });
    this.apply(rel, limits, true);
    return { dirs, oomFile: path.join(this.dir("memory", rel), "memory.oom_control") };
  }

  dirs(rel: string): string[] {
    validate(rel);
    return this.roots().map((r) => path.join(r, rel));
  }

  procs(rel: string): number[] {
    return readProcs(this.dir("memory", validate(rel)));
  }

  removeTree(rel: string) {
    for (const d of this.dirs(rel)) removeTree(d, this.rmdir);
  }

  setLimits(rel: string, limits: CgroupLimits) {
    validate(rel);
    for (const c of ["memory", "cpu", "pids"]) fs.mkdirSync(this.dir(c, rel), { recursive: true });
    this.apply(rel, limits, false);
  }

  readLimits(rel: string): CgroupLimits {
    const out: CgroupLimits = {};
    const mem = Number(read(path.join(this.dir("memory", rel), "memory.limit_in_bytes")));
    // "unlimited" reads as a huge page-aligned number
    if (Number.isFinite(mem) && mem < 2 ** 62) out.memoryBytes = mem;
    const q = Number(read(path.join(this.dir("cpu", rel), "cpu.cfs_quota_us")));
    const p = Number(read(path.join(this.dir("cpu", rel), "cpu.cfs_period_us")));
    if (q > 0 && p > 0) out.cpuMillis = Math.round((q * 1000) / p);
    const sh = read(path.join(this.dir("cpu", rel), "cpu.shares"));
    if (sh) out.cpuShares = Number(sh);
    const pm = read(path.join(this.dir("pids", rel), "pids.max"));
    if (pm && pm !== "max") out.pidsLimit = Number(pm);
    if (this.controllers.includes("blkio")) {
      const io = new Map<string, IoLimit>();
      for (const [file, key] of [["blkio.throttle.read_bps_device", "readBps"], ["blkio.throttle.write_bps_device", "writeBps"]] as const) {
        for (const line of (read(path.join(this.dir("blkio", rel), file)) ?? "").split("\n").filter(Boolean)) {
          const [device, v] = line.split(/\s+/);
          const e = io.get(device) ?? { device };
          e[key] = Number(v);
          io.set(device, e);
        }
      }
      if (io.size) out.io = [...io.values()];
    }
    return out;
  }

  memoryUsage(rel: string): number | undefined {
    const v = read(path.join(this.dir("memory", rel), "memory.usage_in_bytes"));
    return v === undefined ? undefined : Number(v);
  }

  cpuUsageNs(rel: string): number | undefined {
    const v = read(path.join(this.dir("cpuacct", rel), "cpuacct.usage"));
    return v === undefined ? undefined : Number(v);
  }

  oomKills(rel: string): number | undefined {
    return oomKillCount(read(path.join(this.dir("memory", rel), "memory.oom_control")));
  }

  async freeze(rel: string) {
    const f = path.join(this.dir("freezer", rel), "freezer.state");
    if (!this.controllers.includes("freezer")) throw new RuntimeError("the freezer cgroup controller is not mounted here; cannot pause");
    write(f, "FROZEN");
    // FREEZING until every task has stopped.
    for (let i = 0; i < 250 && read(f) !== "FROZEN"; i++) {
      await sleep(20);
      if (i % 10 === 9) write(f, "FROZEN");
    }
    if (read(f) !== "FROZEN") throw new RuntimeError(`cgroup ${rel} did not freeze within 5 s`);
  }

  async thaw(rel: string) {
    write(path.join(this.dir("freezer", rel), "freezer.state"), "THAWED");
  }

  frozen(rel: string) {
    const s = read(path.join(this.dir("freezer", rel), "freezer.state"));
    return s === "FROZEN" || s === "FREEZING";
  }

  exists(rel: string) {
    return fs.existsSync(this.dir("memory", rel));
  }

  remove(rel: string) {
    validate(rel);
    // A frozen task cannot die: thaw first.
    const thaw = () => {
      if (this.frozen(rel)) write(path.join(this.dir("freezer", rel), "freezer.state"), "THAWED");
    };
    for (const r of this.roots()) killAndRmdir(path.join(r, rel), this.rmdir, thaw);
    for (const r of this.roots()) pruneParents(r, rel, this.rmdir);
  }
}

/** cgroup v2: one unified hierarchy; controllers enabled down the path via subtree_control. */
export class CgroupV2Driver implements CgroupDriver {
  readonly kind = "v2";
  private readonly rmdir: (d: string) => void;

  constructor(
    readonly mountRoot = "/sys/fs/cgroup",
    opts: DriverOptions = {},
  ) {
    this.rmdir = opts.rmdir ?? ((d) => fs.rmdirSync(d));
  }

  /** Controllers this hierarchy offers at its root (a v2 mount beside v1 may offer none). */
  available(): Set<string> {
    return new Set((read(path.join(this.mountRoot, "cgroup.controllers")) ?? "").split(/\s+/).filter(Boolean));
  }

  /** Makes the path, delegating the controllers from each ancestor to its children. */
  private ensure(rel: string): string {
    validate(rel);
    const want = ["memory", "cpu", "pids", "io"].filter((c) => this.available().has(c));
    if (!want.includes("memory")) {
      throw new RuntimeError(`the cgroup v2 hierarchy at ${this.mountRoot} has no memory controller; cannot limit memory`);
    }
    let cur = this.mountRoot;
    for (const part of rel.split("/")) {
      const ctl = path.join(cur, "cgroup.subtree_control");
      // The kernel lists "cpu memory"; accept "+cpu" as written too.
      const enabled = new Set((read(ctl) ?? "").split(/\s+/).filter(Boolean).map((c) => c.replace(/^\+/, "")));
      const missing = want.filter((c) => !enabled.has(c));
      if (missing.length) write(ctl, [...enabled, ...missing].map((c) => `+${c}`).join(" "));
      cur = path.join(cur, part);
      fs.mkdirSync(cur, { recursive: true });
    }
    return cur;
  }

  private apply(dir: string, limits: CgroupLimits, leaf: boolean) {
    if (limits.memoryBytes !== undefined || leaf) write(path.join(dir, "memory.max"), limits.memoryBytes !== undefined ? String(limits.memoryBytes) : "max");
    if (leaf && fs.existsSync(path.join(dir, "memory.swap.max"))) write(path.join(dir, "memory.swap.max"), "0");
    const has = this.available();
    if (has.has("cpu")) {
      if (limits.cpuMillis !== undefined || leaf) write(path.join(dir, "cpu.max"), limits.cpuMillis ? `${quota(limits.cpuMillis)} ${CPU_PERIOD}` : `max ${CPU_PERIOD}`);
      if (limits.cpuShares !== undefined || leaf) write(path.join(dir, "cpu.weight"), String(sharesToWeight(limits.cpuShares ?? 1024)));
    }
    if (has.has("pids") && (limits.pidsLimit !== undefined || leaf)) write(path.join(dir, "pids.max"), limits.pidsLimit ? String(limits.pidsLimit) : "max");
    if (limits.io?.length) {
      if (!has.has("io")) throw new RuntimeError(`the cgroup v2 hierarchy at ${this.mountRoot} has no io controller; cannot limit disk I/O`);
      for (const io of limits.io) {
        write(path.join(dir, "io.max"), `${io.device} rbps=${io.readBps || "max"} wbps=${io.writeBps || "max"}`);
      }
    }
  }

  create(rel: string, limits: CgroupLimits): CgroupHandle {
    const cur = this.ensure(rel);
    this.apply(cur, limits, true);
    // memory.events counts "oom_kill" (kills), unlike "oom" (limit reached).
    return { dirs: [cur], oomFile: path.join(cur, "memory.events") };
  }

  setLimits(rel: string, limits: CgroupLimits) {
    this.apply(this.ensure(rel), limits, false);
  }

  readLimits(rel: string): CgroupLimits {
    const dir = path.join(this.mountRoot, rel);
    const out: CgroupLimits = {};
    const mem = read(path.join(dir, "memory.max"));
    if (mem && mem !== "max") out.memoryBytes = Number(mem);
    const [q, p] = (read(path.join(dir, "cpu.max")) ?? "max").split(/\s+/);
    if (q !== "max" && Number(p) > 0) out.cpuMillis = Math.round((Number(q) * 1000) / Number(p));
    const w = read(path.join(dir, "cpu.weight"));
    if (w) out.cpuShares = weightToShares(Number(w));
    const pm = read(path.join(dir, "pids.max"));
    if (pm && pm !== "max") out.pidsLimit = Number(pm);
    const io: IoLimit[] = [];
    for (const line of (read(path.join(dir, "io.max")) ?? "").split("\n").filter(Boolean)) {
      const [device, ...kv] = line.split(/\s+/);
      const e: IoLimit = { device };
      for (const x of kv) {
        const [k, v] = x.split("=");
        if (v === "max") continue;
        if (k === "rbps") e.readBps = Number(v);
        if (k === "wbps") e.writeBps = Number(v);
      }
      io.push(e);
    }
    if (io.length) out.io = io;
    return out;
  }

  memoryUsage(rel: string): number | undefined {
    const v = read(path.join(this.mountRoot, rel, "memory.current"));
    return v === undefined ? undefined : Number(v);
  }

  cpuUsageNs(rel: string): number | undefined {
    const stat = read(path.join(this.mountRoot, rel, "cpu.stat"));
    const m = stat?.match(/^usage_usec (\d+)/m);
    return m ? Number(m[1]) * 1000 : undefined;
  }

  oomKills(rel: string): number | undefined {
    // "oom_kill" counts kills; "oom" counts the limit being reached.
    return oomKillCount(read(path.join(this.mountRoot, rel, "memory.events")));
  }

  async freeze(rel: string) {
    const dir = path.join(this.mountRoot, rel);
    write(path.join(dir, "cgroup.freeze"), "1");
    // cgroup.events says "frozen 1" once every task has stopped.
    const events = path.join(dir, "cgroup.events");
    if (!fs.existsSync(events)) return;
    for (let i = 0; i < 250; i++) {
      if (/^frozen 1$/m.test(read(events) ?? "")) return;
      await sleep(20);
    }
    throw new RuntimeError(`cgroup ${rel} did not freeze within 5 s`);
  }

  async thaw(rel: string) {
    write(path.join(this.mountRoot, rel, "cgroup.freeze"), "0");
  }

  frozen(rel: string) {
    return read(path.join(this.mountRoot, rel, "cgroup.freeze")) === "1";
  }

  exists(rel: string) {
    return fs.existsSync(path.join(this.mountRoot, rel));
  }

  dirs(rel: string): string[] {
    return [path.join(this.mountRoot, validate(rel))];
  }

  procs(rel: string): number[] {
    return readProcs(path.join(this.mountRoot, validate(rel)));
  }

  removeTree(rel: string) {
    removeTree(path.join(this.mountRoot, validate(rel)), this.rmdir);
  }

  remove(rel: string) {
    validate(rel);
    const dir = path.join(this.mountRoot, rel);
    if (fs.existsSync(path.join(dir, "cgroup.kill"))) {
      try {
        fs.writeFileSync(path.join(dir, "cgroup.kill"), "1");
      } catch {}
    }
    // cgroup.kill works on frozen cgroups; the per-pid fallback needs a thaw.
    killAndRmdir(dir, this.rmdir, () => {
      if (this.frozen(rel)) write(path.join(dir, "cgroup.freeze"), "0");
    });
    pruneParents(this.mountRoot, rel, this.rmdir);
  }
}

function readProcs(dir: string): number[] {
  return (read(path.join(dir, "cgroup.procs")) ?? "").split("\n").filter(Boolean).map(Number);
}

/** Children first; each node's processes killed before its rmdir (killAndRmdir). */
function removeTree(dir: string, rmdir: (d: string) => void) {
  if (!fs.existsSync(dir)) return;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) removeTree(path.join(dir, e.name), rmdir);
  killAndRmdir(dir, rmdir, () => {});
}

export type CgroupLayout = "v1" | "v2" | "hybrid";

/**
 * "v2" when mountRoot is itself cgroup2 (it has cgroup.controllers), "hybrid" when v1
 * controllers sit beside a cgroup2 mount at mountRoot/unified, else "v1".
 */
export function detectCgroupLayout(mountRoot = "/sys/fs/cgroup"): CgroupLayout {
  if (fs.existsSync(path.join(mountRoot, "cgroup.controllers"))) return "v2";
  if (fs.existsSync(path.join(mountRoot, "unified", "cgroup.controllers"))) return "hybrid";
  return "v1";
}

/** v2 only when the whole tree is cgroup2; v1 and hybrid (whose cgroup2 mount has no controllers) use v1. */
export function detectCgroupDriver(mountRoot = "/sys/fs/cgroup"): CgroupDriver {
  const forced = process.env.PAAS_CGROUP_DRIVER;
  if (forced === "v1") return new CgroupV1Driver(mountRoot);
  if (forced === "v2") return new CgroupV2Driver(mountRoot);
  return detectCgroupLayout(mountRoot) === "v2" ? new CgroupV2Driver(mountRoot) : new CgroupV1Driver(mountRoot);
}
