/**
 * The limits of one container beyond what cgroups.ts sets by itself: the quota'd writable
 * layer, the I/O device, team limits kept on disk. Their rules (ranges, required fields) are
 * the agent contract's schemas, parsed in tasks.ts. Runtime (containers.ts) calls these;
 * bandwidth.ts shapes the veth, disk.ts makes quota dirs.
 */
import fs from "node:fs";
import path from "node:path";
import type { ContainerSpec, TeamLimits } from "@paas/shared/agent-api";
import type { CgroupLimits, IoLimit } from "../cgroups.ts";
import { readJson, writeJson } from "../util.ts";
import type { HelperServer } from "../helper.ts";
import { blockDevice, createQuotaDir, isMountPoint, releaseQuotaDir } from "./disk.ts";
import { diskPoolDir } from "./diskpool.ts";

/** The cgroup limits of a container's leaf, with the I/O rule on the device under its writable layer. */
export function leafLimits(spec: ContainerSpec, containerDir: string): CgroupLimits {
  const io: IoLimit[] = [];
  if (spec.ioReadBps || spec.ioWriteBps) {
    io.push({ device: blockDevice(path.join(containerDir, "upper")), readBps: spec.ioReadBps, writeBps: spec.ioWriteBps });
  }
  return { memoryBytes: spec.memoryBytes, cpuMillis: spec.cpuMillis, cpuShares: spec.cpuShares, pidsLimit: spec.pidsLimit, io };
}

/**
 * Puts the writable layer on its own filesystem of `diskBytes` (no-op without, or when done):
 * `<dir>/upper` and `<dir>/work` become symlinks into the quota dir `<dir>/disk`. Symlinks,
 * not bind mounts: overlayfs wants upper and work on one mount, and every user of
 * `<dir>/upper` (putArchive, commit, diff) resolves them as before.
 */
export async function ensureContainerDisk(helper: HelperServer, containerDir: string, spec: ContainerSpec) {
  if (!spec.diskBytes) return;
  const disk = path.join(containerDir, "disk");
  if (isMountPoint(disk)) return;
  // containers/<id> -> the runtime's root, where the pool of spare filesystems is
  await createQuotaDir(helper, disk, spec.diskBytes, { pool: diskPoolDir(path.resolve(containerDir, "../..")) });
  for (const d of ["upper", "work"]) {
    fs.mkdirSync(path.join(disk, d), { recursive: true, mode: 0o755 });
    const link = path.join(containerDir, d);
    const st = fs.lstatSync(link, { throwIfNoEntry: false });
    if (st?.isSymbolicLink()) continue;
    // Made empty by create(); anything already there moves onto the quota'd disk.
    if (st?.isDirectory()) {
      for (const e of fs.readdirSync(link)) fs.renameSync(path.join(link, e), path.join(disk, d, e));
      fs.rmdirSync(link);
    }
    fs.symlinkSync(`disk/${d}`, link);
  }
}

/** Unmounts and deletes the quota'd writable layer (no-op without one). */
export async function releaseContainerDisk(helper: HelperServer, containerDir: string) {
  const disk = path.join(containerDir, "disk");
  if (fs.existsSync(disk)) await releaseQuotaDir(helper, disk);
}

// ---------- team limits, kept on disk and applied at each start ----------

function teamsFile(runtimeRoot: string) {
  return path.join(runtimeRoot, "cgroup-teams.json");
}

export function readTeamLimits(runtimeRoot: string): Record<string, TeamLimits> {
  return readJson<Record<string, TeamLimits>>(teamsFile(runtimeRoot)) ?? {};
}

export function saveTeamLimits(runtimeRoot: string, team: string, limits: TeamLimits) {
  const all = readTeamLimits(runtimeRoot);
  all[team] = limits;
  writeJson(teamsFile(runtimeRoot), all);
}

export function teamCgroupLimits(t: TeamLimits): CgroupLimits {
  return { memoryBytes: t.memoryBytes, cpuMillis: t.cpuMillis, pidsLimit: t.pids };
}

/**
 * The container's upper dir as a real path: with a quota `<dir>/upper` is a symlink into
 * `<dir>/disk`, and tools that copy or walk it (cp -a, tar) must not take the link itself.
 */
export function upperDir(containerDir: string): string {
  const p = path.join(containerDir, "upper");
  try {
    return fs.realpathSync(p);
  } catch {
    return p;
  }
}
