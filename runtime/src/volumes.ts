/**
 * Named volumes: directories under `${dataDir}/runtime/volumes/<name>/_data` that outlive
 * the containers using them, bind-mounted into a container at the paths its spec gives.
 *
 *   const vs = new VolumeStore(layout);
 *   vs.create("pgdata", { sizeBytes: 1 << 30 });   // optional quota: own small filesystem (limits/disk.ts)
 *   vs.list(); vs.get("pgdata"); await vs.remove("pgdata", usedBy);
 *
 * How a volume gets into a container (mountVolumes): the container's overlay root is mounted
 * on the host at containers/<id>/rootfs, each volume bind-mounted below it (after checking
 * every path component inside the root: no symlink may lead the mount out of it), and
 * paas-run, given that rootfs without --lower, carries the whole tree (MS_BIND|MS_REC) into
 * the container's mount namespace before pivot_root. unmountRootfs undoes it at exit.
 * Containers without volumes keep the cheaper path (overlay mounted inside their namespace).
 */
import fs from "node:fs";
import path from "node:path";
import { PathParams, type VolumeInfo, type VolumeMount, VolumeSpecSchema } from "@paas/shared/agent-api";
import type { HelperServer } from "./helper.ts";
import { createQuotaDir, isMountPoint, mountInfo, releaseQuotaDir } from "./limits/disk.ts";
import type { Layout } from "./paths.ts";
import { RuntimeError, exists, helperPath, parseInput, readJson, writeJson } from "./util.ts";


interface VolumeMeta {
  name: string;
  createdAt: string;
  sizeBytes?: number;
  labels: Record<string, string>;
}

async function sh(helper: HelperServer, cmd: string, args: string[]) {
  const r = await helper.exec(cmd, args);
  if (r.code !== 0) throw new RuntimeError(`${cmd} ${args.join(" ")} failed: ${r.output.trim()}`);
}

/** A size-capped volume is a filesystem of its own: what it holds is what `df` says of it (one statfs). */
function usedOf(m: VolumeMeta, data: string): { usedBytes?: number } {
  if (m.sizeBytes === undefined || !isMountPoint(data)) return {};
  const st = fs.statfsSync(data);
  return { usedBytes: (st.blocks - st.bfree) * st.bsize };
}

export class VolumeStore {
  constructor(
    private readonly layout: Layout,
    private readonly helper: HelperServer,
  ) {}

  get root() {
    return path.join(this.layout.root, "volumes");
  }
  private dir(name: string) {
    return path.join(this.root, name);
  }
  /** The host directory that is mounted into containers. */
  dataDir(name: string) {
    return path.join(this.dir(name), "_data");
  }

  private meta(name: string): VolumeMeta | undefined {
    // a lookup by any string must not reach outside volumes/
    if (!PathParams.volume.safeParse(name).success) return undefined;
    return readJson<VolumeMeta>(path.join(this.dir(name), "meta.json"));
  }

  private info(m: VolumeMeta): VolumeInfo {
    const data = this.dataDir(m.name);
    return { name: m.name, createdAt: m.createdAt, sizeBytes: m.sizeBytes, ...usedOf(m, data), labels: m.labels, path: data };
  }

  exists(name: string): boolean {
    return !!this.meta(name);
  }

  async create(name: string, opts: { sizeBytes?: number; labels?: Record<string, string> } = {}): Promise<VolumeInfo> {
    parseInput(VolumeSpecSchema, { name, ...opts }, "volume");
    if (this.meta(name)) throw new RuntimeError(`a volume named "${name}" exists; remove it or pick another name`, 409);
    const data = this.dataDir(name);
    fs.mkdirSync(data, { recursive: true });
    if (opts.sizeBytes !== undefined) {
      try {
        await createQuotaDir(this.helper, data, opts.sizeBytes);
      } catch (err) {
        fs.rmSync(this.dir(name), { recursive: true, force: true });
        throw err;
      }
    }
    const m: VolumeMeta = { name, createdAt: new Date().toISOString(), sizeBytes: opts.sizeBytes, labels: opts.labels ?? {} };
    writeJson(path.join(this.dir(name), "meta.json"), m);
    return this.info(m);
  }

  /** The volume's data dir, ready to mount (a quota volume's filesystem mounted again after a reboot). */
  async source(name: string): Promise<string> {
    const m = this.meta(name);
    if (!m) throw new RuntimeError(`no volume "${name}" on this host; create it first`, 404);
    const data = this.dataDir(name);
    if (m.sizeBytes !== undefined && !isMountPoint(data)) await createQuotaDir(this.helper, data, m.sizeBytes);
    return data;
  }

  /** A volume without quota, made on the fly for a container spec that names it (parsed: the name is good). */
  createPlain(name: string): VolumeInfo {
    fs.mkdirSync(this.dataDir(name), { recursive: true });
    const m: VolumeMeta = { name, createdAt: new Date().toISOString(), labels: {} };
    writeJson(path.join(this.dir(name), "meta.json"), m);
    return this.info(m);
  }

  list(): VolumeInfo[] {
    if (!exists(this.root)) return [];
    return fs
      .readdirSync(this.root)
      .map((n) => this.meta(n))
      .filter((m): m is VolumeMeta => !!m)
      .sort((a, b) => a.name.localeCompare(b.name))
      .map((m) => this.info(m));
  }

  get(name: string): VolumeInfo {
    const m = this.meta(name);
    if (!m) throw new RuntimeError(`no volume "${name}" on this host`, 404);
    return this.info(m);
  }

  /** Deletes the volume and its data; refused while containers (running or not) refer to it. */
  async remove(name: string, usedBy: string[]) {
    this.get(name);
    if (usedBy.length) throw new RuntimeError(`volume ${name} is used by container(s) ${usedBy.join(", ")}; remove them first`, 409);
    const data = this.dataDir(name);
    if (isMountPoint(data)) {
      await releaseQuotaDir(this.helper, data);
    }
    fs.rmSync(this.dir(name), { recursive: true, force: true });
  }
}

/**
 * Normalizes a spec's volume list, parsed already (names, absolute paths): no "/", nothing
 * under /proc, /sys or /dev, no two on one path.
 */
export function normalizeMounts(mounts: VolumeMount[] | undefined): VolumeMount[] {
  const out: VolumeMount[] = [];
  for (const m of mounts ?? []) {
    const p = path.posix.normalize(m.path).replace(/\/+$/, "");
    if (!p || p === "/" || p.split("/").includes("..")) throw new RuntimeError(`volume ${m.name}: cannot mount on "${m.path}"`, 400);
    if (["/proc", "/sys", "/dev"].some((x) => p === x || p.startsWith(`${x}/`))) throw new RuntimeError(`volume ${m.name}: ${p} is reserved`, 400);
    if (out.some((o) => o.path === p)) throw new RuntimeError(`two volumes on ${p}`, 400);
    out.push({ name: m.name, path: p, readOnly: !!m.readOnly });
  }
  return out;
}

/**
 * `target` (absolute, inside the container) as a host path below `rootfs`, each missing
 * directory made; a symlink anywhere on the way is refused (it could point out of the root).
 */
function safeTarget(rootfs: string, target: string): string {
  let cur = rootfs;
  for (const part of target.split("/").filter(Boolean)) {
    cur = path.join(cur, part);
    const st = fs.lstatSync(cur, { throwIfNoEntry: false });
    if (!st) fs.mkdirSync(cur, { mode: 0o755 });
    else if (st.isSymbolicLink()) throw new RuntimeError(`cannot mount a volume on ${target}: ${cur.slice(rootfs.length)} is a symlink in the image`, 400);
    else if (!st.isDirectory()) throw new RuntimeError(`cannot mount a volume on ${target}: ${cur.slice(rootfs.length)} is not a directory in the image`, 400);
  }
  return cur;
}

/**
 * Mounts the overlay root on the host at `rootfs` and the volumes below it (see the header).
 * Undone by unmountRootfs, also when this fails half-way.
 */
export async function mountVolumes(
  helper: HelperServer,
  rootfs: string,
  overlay: { lower: string; upper: string; work: string },
  mounts: { source: string; path: string; readOnly: boolean }[],
  owner: { uid: number; gid: number },
  usernsBase?: number,
) {
  try {
    // User namespace: the layers idmapped first (staged next to rootfs; the overlay keeps its
    // own clones, so the staging mounts go right after), as paas-run does in-namespace.
    const layers = overlay.lower.split(":");
    const staged = usernsBase === undefined ? [] : layers.map((_, i) => path.join(path.dirname(rootfs), "idmap", String(i)));
    if (usernsBase !== undefined) {
      for (const d of staged) fs.mkdirSync(d, { recursive: true });
      await sh(helper, helperPath(), ["idmap", String(usernsBase), ...layers.flatMap((l, i) => [l, staged[i]])]);
    }
    const lower = staged.length ? staged.join(":") : overlay.lower;
    try {
      await sh(helper, "mount", ["-t", "overlay", "overlay", "-o", `nodev,lowerdir=${lower},upperdir=${overlay.upper},workdir=${overlay.work}`, rootfs]);
    } finally {
      if (staged.length) await sh(helper, "umount", staged);
    }
    // shallow paths first, so /data/sub lands inside the volume on /data
    for (const m of [...mounts].sort((a, b) => a.path.length - b.path.length)) {
      const target = safeTarget(rootfs, m.path);
      // A fresh volume belongs to the container's user, as the image's dirs do (Docker copies them up).
      const st = fs.statSync(m.source);
      if (owner.uid !== 0 && st.uid === 0 && fs.readdirSync(m.source).length === 0) fs.chownSync(m.source, owner.uid, owner.gid);
      // idmapped: the volume keeps the container's ids on disk, whichever team's range reads it
      if (usernsBase !== undefined) await sh(helper, helperPath(), ["idmap", String(usernsBase), m.source, target]);
      else await sh(helper, "mount", ["--bind", m.source, target]);
      await sh(helper, "mount", ["-o", `remount,bind,nosuid,nodev${m.readOnly ? ",ro" : ""}`, target]);
    }
  } catch (err) {
    await unmountRootfs(helper, rootfs);
    throw err;
  }
}

/** Unmounts what mountVolumes mounted (nothing when rootfs is not a mount point). */
export async function unmountRootfs(helper: HelperServer, rootfs: string) {
  const abs = path.resolve(rootfs);
  if (!mountInfo().some((m) => m.target === abs || m.target.startsWith(`${abs}/`))) return;
  const r = await helper.exec("umount", ["-R", abs]);
  if (r.code !== 0) await helper.exec("umount", ["-R", "-l", abs]);
}
