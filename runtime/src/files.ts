/**
 * A container's files, for callers that never see a host path: put and get archives, diff,
 * export. Running containers are read and written through their own mounted root
 * (/proc/<pid>/root); stopped ones through their layers and writable (upper) dir.
 *
 * Use:
 *   const files = new ContainerFiles(store, layout);
 *   await files.put(rec, "/app", tar);              // created/exited only: into the upper dir
 *   await files.copyIn(rec, "/tmp", tar);           // cp: a running one's root too, as its user
 *   await files.get(rec, "/etc/hostname", out);     // a tar of that path (one top entry)
 *   await files.diff(rec);                          // [{ kind: "A" | "C" | "D", path }]
 *   await files.export(rec, out);                   // the whole root filesystem as a tar
 * User-namespaced containers keep host ids on disk: tars in get their container ids, and
 * tars put in are shifted to host ids.
 */
import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import type { Readable, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import * as tar from "tar";
import type { HelperServer } from "./helper.ts";
import { ensureContainerDisk, upperDir } from "./limits/container.ts";
import { type DiffEntry, containerDiff, exportContainer, mountView, resolveInside } from "./oci.ts";
import type { Layout } from "./paths.ts";
import type { ContainerRecord, ContainerStore } from "./store.ts";
import { USERNS_SIZE, mapTarIds, shiftOwners, toContainerId, toHostId } from "./userns.ts";
import { RuntimeError, helperPath } from "./util.ts";

export class ContainerFiles {
  constructor(
    private readonly store: ContainerStore,
    private readonly layout: Layout,
    private readonly helper: HelperServer,
  ) {}

  /** The init's pid while the container runs (its root is /proc/<pid>/root). */
  private runningPid(rec: ContainerRecord): number | undefined {
    return this.store.state(rec).state === "running" ? this.store.initPid(rec) : undefined;
  }

  private lowers(rec: ContainerRecord): string[] {
    return rec.layers.map((l) => this.layout.layer(l));
  }

  /** Path inside the container -> the same path in its upper dir, parents made like the image's. */
  private upperPath(rec: ContainerRecord, dest: string): string {
    if (!dest.startsWith("/")) throw new RuntimeError(`path must be absolute, got "${dest}"`, 400);
    const parts = path.posix.normalize(dest).split("/").filter(Boolean);
    let cur = path.join(this.store.dir(rec.id), "upper");
    let rel = "";
    for (const p of parts) {
      rel = `${rel}/${p}`;
      cur = path.join(cur, p);
      const st = fs.lstatSync(cur, { throwIfNoEntry: false });
      if (st?.isSymbolicLink()) throw new RuntimeError(`${rel} is a symlink in the container; give the real path`, 400);
      if (st) continue;
      // Copy-up of the directory's metadata from the top-most layer that has it.
      let lowerSt: fs.Stats | undefined;
      for (const l of [...rec.layers].reverse()) {
        lowerSt = fs.lstatSync(path.join(this.layout.layer(l), rel), { throwIfNoEntry: false });
        if (lowerSt) break;
      }
      if (lowerSt && !lowerSt.isDirectory()) throw new RuntimeError(`${rel} is not a directory in the image`, 400);
      fs.mkdirSync(cur, { mode: lowerSt ? lowerSt.mode & 0o7777 : 0o755 });
      const owner = lowerSt ?? rec;
      fs.chownSync(cur, toHostId(rec.usernsBase, owner.uid), toHostId(rec.usernsBase, owner.gid));
    }
    return cur;
  }

  /**
   * Extracts a tar into the container at `dest` (created or exited containers only: the
   * overlay of a running one must not change under it). Files are owned by the
   * container's user so the app can write them; `as` (COPY --chown) owns every file.
   */
  async put(rec: ContainerRecord, dest: string, stream: Readable, as?: { uid: number; gid: number }) {
    if (this.store.state(rec).state === "running") throw new RuntimeError("cannot put files into a running container; stop it first", 409);
    if (as && rec.usernsBase !== undefined && Math.max(as.uid, as.gid) >= USERNS_SIZE) {
      throw new RuntimeError(`uid/gid must be below ${USERNS_SIZE} in a container with a user namespace, got ${as.uid}:${as.gid}`, 400);
    }
    await ensureContainerDisk(this.helper, this.store.dir(rec.id), rec.spec);
    const target = this.upperPath(rec, dest);
    // `as` owns every file; else the container's user, or the tar's owners for root.
    const owner = as ? { preserveOwner: false, uid: as.uid, gid: as.gid } : rec.uid === 0 ? { preserveOwner: true } : { preserveOwner: false, uid: rec.uid, gid: rec.gid };
    try {
      await pipeline(stream, tar.x({ cwd: target, unlink: true, ...owner }));
    } catch (err) {
      throw new RuntimeError(`cannot extract the archive into ${dest}: ${(err as Error).message}`, 400);
    }
    if (rec.uid !== 0) {
      // node-tar keeps the dir it extracts into as it was; make the target ours too.
      const st = fs.statSync(target);
      if (st.uid === 0 && dest !== "/") fs.chownSync(target, rec.uid, rec.gid);
    }
    // Container ids -> host ids (files of earlier puts and made by upperPath are host ids already).
    const base = rec.usernsBase;
    if (base !== undefined) shiftOwners(target, (id) => (id < USERNS_SIZE ? base + id : id));
  }

  /**
   * `cp SRC CONTAINER:DEST`: a running container's files go into its mounted root, owned by
   * its user (its host ids, in a user namespace); a stopped one's as put() does.
   */
  async copyIn(rec: ContainerRecord, dest: string, stream: Readable): Promise<void> {
    const pid = this.runningPid(rec);
    if (!pid) return this.put(rec, dest, stream);
    const root = `/proc/${pid}/root`;
    const target = this.resolveIn(root, dest);
    fs.mkdirSync(target, { recursive: true });
    const [uid, gid] = [toHostId(rec.usernsBase, rec.uid), toHostId(rec.usernsBase, rec.gid)];
    try {
      await pipeline(stream, tar.x({ cwd: target, unlink: true, preserveOwner: false, uid, gid }));
    } catch (err) {
      throw new RuntimeError(`cannot extract the archive into ${dest} of container ${rec.name}: ${(err as Error).message}`, 400);
    }
  }

  /** `rel` inside `root`, every symlink resolved inside it (a container's cannot lead out to the host's files). */
  private resolveIn(root: string, rel: string): string {
    const inside = resolveInside(root, rel, true, true);
    if (inside === undefined) throw new RuntimeError(`${rel}: a part of that path is a file, not a directory`, 400);
    return path.join(root, inside);
  }

  /**
   * `cp CONTAINER:SRC -`: a tar of `src` (one top entry, named after its last component) to
   * `out`, with the container's ids. A stopped container's layers and writable layer are
   * stacked read-only for it; only the path asked for is read.
   */
  async get(rec: ContainerRecord, src: string, out: Writable): Promise<void> {
    const pid = this.runningPid(rec);
    const view = pid ? undefined : await mountView([upperDir(this.store.dir(rec.id)), ...[...this.lowers(rec)].reverse()], this.layout.tmp, `container ${rec.name}`);
    try {
      const p = this.resolveIn(view ? view.root : `/proc/${pid}/root`, src);
      if (!fs.existsSync(p)) throw new RuntimeError(`no ${src} in container ${rec.name}`, 404);
      const t = spawn("tar", ["-C", path.dirname(p), "--numeric-owner", "-cf", "-", path.basename(p)], { stdio: ["ignore", "pipe", "pipe"] });
      let err = "";
      t.stderr.on("data", (d) => (err += d));
      const exit = new Promise<number>((r) => t.on("close", (c) => r(c ?? 1)));
      // a user-namespaced container's files have host ids: the tar gets the container's
      const base = rec.usernsBase;
      if (base !== undefined) await pipeline(t.stdout, mapTarIds((id) => toContainerId(base, id)), out, { end: false });
      else await pipeline(t.stdout, out, { end: false });
      const code = await exit;
      if (code !== 0) throw new RuntimeError(`cannot read ${src} from container ${rec.name}: ${err.trim()}`);
    } finally {
      await view?.close();
    }
  }

  /** docker diff: what the container's writable layer adds (A), changes (C) and deletes (D). */
  diff(rec: ContainerRecord): Promise<DiffEntry[]> {
    return containerDiff(upperDir(this.store.dir(rec.id)), this.lowers(rec), helperPath());
  }

  /** The container's root filesystem as a tar (docker export), with the container's ids. */
  export(rec: ContainerRecord, out: Writable): Promise<void> {
    return exportContainer({ upper: upperDir(this.store.dir(rec.id)), lowers: this.lowers(rec), pid: this.runningPid(rec), usernsBase: rec.usernsBase }, out, this.layout.tmp);
  }
}

