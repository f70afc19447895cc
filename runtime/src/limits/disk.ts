/**
 * Disk quotas: a directory whose size is capped, so a container (or a volume) that fills
 * it gets ENOSPC while the host disk is untouched.
 *
 * How: the directory is the mount point of its own small ext4 filesystem, kept in a sparse
 * file beside it (`.<name>.quota.img`) and mounted through a loop device (autoclear: the
 * loop device goes away with the last unmount). Chosen over ext4/xfs project quotas because
 * this host's / is ext4 without the `quota`/`prjquota` feature (and tune2fs cannot even read
 * it from here); loop filesystems work on any host with loop devices. Costs: made on demand,
 * a quota pays mke2fs + losetup + mount (100-300 ms here, measured in
 * runtime/test/limits.test.ts); the file only takes the blocks written. Containers' writable
 * layers take a filesystem made ahead from a pool instead (diskpool.ts): the quota dir is
 * then a symlink to the spare's mount point. Volumes are made on demand.
 *
 * Size: the request rounded up to its size class (quotaClassBytes, at most 12.5% more; about
 * what ext4's own metadata takes), the same whether the filesystem came from the pool or not.
 *
 * Use:
 *   await createQuotaDir(helper, "/data/volumes/v1", 512 << 20);   // idempotent; re-mounts the same file after a reboot
 *   await createQuotaDir(helper, dir, 64 << 20, { pool });        // a spare from the pool when there is one
 *   quotaDevice("/data/volumes/v1");                     // "7:3": the loop device (for blkio/io.max)
 *   await releaseQuotaDir(helper, "/data/volumes/v1");            // unmount, free the loop device, delete the data
 */
import fs from "node:fs";
import path from "node:path";
import type { HelperServer } from "../helper.ts";
import { RuntimeError } from "../util.ts";
import { MAKEFS_SH, noteDemand, refillPool, takeSpare } from "./diskpool.ts";

/** The smallest quota: ext4's metadata needs a few MiB. */
export const MIN_QUOTA_BYTES = 8 << 20;

const MiB = 1 << 20;

/**
 * The size of the filesystem made for a quota of `bytes`: whole MiB up to 16 MiB, then 8
 * steps per doubling (18, 20 .. 32, 36 .. 64, 72 .. MiB). Few classes, so pooled spares
 * fit most requests; at most 12.5% more than asked.
 */
export function quotaClassBytes(bytes: number): number {
  const mib = Math.ceil(bytes / MiB);
  if (mib <= 16) return mib * MiB;
  const step = 2 ** (Math.floor(Math.log2(mib)) - 3);
  return Math.ceil(mib / step) * step * MiB;
}

function imageFile(dir: string) {
  return path.join(path.dirname(dir), `.${path.basename(dir)}.quota.img`);
}

/** The mount points in this mount namespace (octal escapes decoded) and their devices. */
export function mountInfo(): { target: string; majmin: string }[] {
  return fs
    .readFileSync("/proc/self/mountinfo", "utf8")
    .split("\n")
    .filter(Boolean)
    .map((l) => {
      const f = l.split(" ");
      return { majmin: f[2], target: f[4].replace(/\\([0-7]{3})/g, (_, o) => String.fromCharCode(parseInt(o, 8))) };
    });
}

/** Is `dir` (or, for a pooled quota dir, the spare it links to) a mount point? */
export function isMountPoint(dir: string): boolean {
  let abs = path.resolve(dir);
  try {
    abs = fs.realpathSync(abs);
  } catch {}
  return mountInfo().some((m) => m.target === abs);
}

/** A shell script through the helper server (a fork of a small process, not of node). */
async function sh(helper: HelperServer, what: string, script: string, args: string[]) {
  const r = await helper.exec("sh", ["-c", script, "sh", ...args]);
  if (r.code !== 0) throw new RuntimeError(`cannot ${what}: ${r.output.trim()}`);
}

/** Where an image file is mounted already (through a loop device), if it is. */
function mountOfImage(img: string): string | undefined {
  const dev = loopDevicesUnder(img).find((d) => fs.readFileSync(`/sys/block/${path.basename(d)}/loop/backing_file`, "utf8").trim() === img);
  if (!dev) return undefined;
  const majmin = fs.readFileSync(`/sys/block/${path.basename(dev)}/dev`, "utf8").trim();
  return mountInfo().find((m) => m.majmin === majmin)?.target;
}

/** Removes an empty mount point; one still mounted (a busy, lazily unmounted fs) stays. */
function rmdirQuiet(dir: string) {
  try {
    fs.rmdirSync(dir);
  } catch {}
}

/** `dir` becomes a symlink to `target` (an empty dir in its place is removed, never a full one). */
function linkTo(dir: string, target: string) {
  const st = fs.lstatSync(dir, { throwIfNoEntry: false });
  if (st?.isSymbolicLink()) fs.unlinkSync(dir);
  else if (st) fs.rmdirSync(dir);
  fs.mkdirSync(path.dirname(dir), { recursive: true });
  fs.symlinkSync(path.relative(path.dirname(dir), target), dir);
}

/**
 * Makes `dir` a directory that holds at most `bytes` (rounded up to its size class). With
 * `pool` (the pool's dir, diskpool.ts), a spare made ahead is taken when there is one and
 * the pool refilled in the background. Idempotent: when `dir` is already mounted, nothing
 * happens; when its image file exists, it is mounted again (its data kept), or linked to
 * where it is mounted already: an image is never mounted twice. Growing an existing quota
 * is not supported (recreate it).
 */
export async function createQuotaDir(helper: HelperServer, dir: string, bytes: number, opts: { uid?: number; gid?: number; pool?: string } = {}) {
  if (!Number.isInteger(bytes) || bytes < MIN_QUOTA_BYTES) {
    throw new RuntimeError(`a disk quota must be a whole number of bytes, at least ${MIN_QUOTA_BYTES} (8 MiB), got ${JSON.stringify(bytes)}`, 400);
  }
  dir = path.resolve(dir);
  if (isMountPoint(dir)) return;
  const size = quotaClassBytes(bytes);
  const img = imageFile(dir);
  let ready = false;
  if (fs.existsSync(img)) {
    // e.g. taken from the pool by a process that died before it linked it
    const at = mountOfImage(img);
    if (at) {
      linkTo(dir, at);
      ready = true;
    }
  } else if (opts.pool) {
    noteDemand(opts.pool, size);
    const spare = takeSpare(opts.pool, size, img);
    if (spare && isMountPoint(spare)) {
      linkTo(dir, spare);
      ready = true;
    } else if (spare) {
      rmdirQuiet(spare); // its mount is gone (a reboot): the image is still fresh, mounted below
    }
  }
  if (!ready) {
    if (fs.lstatSync(dir, { throwIfNoEntry: false })?.isSymbolicLink()) fs.unlinkSync(dir); // to a spare whose mount is gone
    fs.mkdirSync(dir, { recursive: true });
    if (fs.existsSync(img)) {
      await sh(helper, `mount the quota filesystem ${img} on ${dir}`, 'mount -t ext4 -o loop,noatime "$1" "$2" && rm -rf "$2/lost+found"', [img, dir]);
    } else {
      // made under a temporary name: a half-made image is never taken for a good one
      const tmp = `${img}.tmp`;
      await sh(helper, `make a ${size}-byte quota filesystem on ${dir}`, `${MAKEFS_SH}\nmakefs "$1" "$2" "$3" && mv "$1" "$4"`, [tmp, String(size), dir, img]);
    }
  }
  if (opts.pool) {
    // after this turn of the event loop: a start that took a spare sends its own request to
    // the helper server first, and does not wait behind the refill's
    const pool = opts.pool;
    setImmediate(() => refillPool(helper, pool, size).catch((err) => console.error(`runtime: disk pool refill: ${(err as Error).message}`)));
  }
  if (opts.uid !== undefined) fs.chownSync(dir, opts.uid, opts.gid ?? opts.uid);
}

/**
 * Unmounts `dir` (and frees its loop device), deletes its image file: the data is gone, and a
 * pooled filesystem is not reused. Safe to call twice.
 */
export async function releaseQuotaDir(helper: HelperServer, dir: string) {
  dir = path.resolve(dir);
  if (fs.lstatSync(dir, { throwIfNoEntry: false })?.isSymbolicLink()) {
    let spare: string | undefined;
    try {
      spare = fs.realpathSync(dir);
    } catch {}
    if (spare) {
      await unmountAll(helper, spare);
      rmdirQuiet(spare);
    }
    fs.unlinkSync(dir);
  } else {
    await unmountAll(helper, dir);
  }
  fs.rmSync(imageFile(dir), { force: true });
  fs.rmSync(`${imageFile(dir)}.tmp`, { force: true });
}

/** Unmounts every mount at `dir` (stacked ones too); lazily when busy, so the loop device goes once unused. */
export async function unmountAll(helper: HelperServer, dir: string) {
  for (let i = 0; i < 8 && isMountPoint(dir); i++) {
    await helper.exec("sh", ["-c", 'umount "$1" 2>/dev/null || umount -l "$1"', "sh", dir]);
  }
}

/** "major:minor" of the block device holding `p` (the whole disk, not a partition: blkio wants disks). */
export function blockDevice(p: string): string {
  const dev = fs.statSync(p).dev;
  const major = Math.floor(dev / 256) & 0xfff;
  const minor = (dev & 0xff) | ((Math.floor(dev / 4096) & ~0xff) >>> 0);
  let mm = `${major}:${minor}`;
  try {
    if (fs.existsSync(`/sys/dev/block/${mm}/partition`)) mm = fs.readFileSync(`/sys/dev/block/${mm}/../dev`, "utf8").trim();
  } catch {}
  if (!fs.existsSync(`/sys/dev/block/${mm}`)) throw new RuntimeError(`${p} is not on a block device (${mm}); cannot limit its disk I/O`, 400);
  return mm;
}

/** The loop device behind a quota dir, as "major:minor". */
export function quotaDevice(dir: string): string {
  return blockDevice(path.resolve(dir));
}

/** Loop devices backed by files under `prefix` (tests count leaks with it). */
export function loopDevicesUnder(prefix: string): string[] {
  const out: string[] = [];
  for (const d of fs.existsSync("/sys/block") ? fs.readdirSync("/sys/block") : []) {
    if (!d.startsWith("loop")) continue;
    try {
      const back = fs.readFileSync(`/sys/block/${d}/loop/backing_file`, "utf8").trim();
      if (back.startsWith(prefix)) out.push(`/dev/${d}`);
    } catch {}
  }
  return out;
}
