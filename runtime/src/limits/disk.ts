/**
 * Disk quotas: a directory whose size is capped, so a container (or a volume) that fills
 * it gets ENOSPC while the host disk is untouched.
 *
 * How: the directory is the mount point of its own small ext4 filesystem, kept in a sparse
 * file beside it (`.<name>.quota.img`) and mounted through a loop device (autoclear: the
 * loop device goes away with the last unmount). Chosen over ext4/xfs project quotas because
 * this host's / is ext4 without the `quota`/`prjquota` feature (and tune2fs cannot even read
 * it from here); loop filesystems work on any host with loop devices. Costs: a start with a
 * quota pays mke2fs + losetup + mount (about 150-300 ms here, measured in
 * runtime/test/limits.test.ts; mke2fs is run without a journal, with lazy inode tables and
 * no discard to keep it short); the file only takes the blocks written. Only containers with
 * `diskBytes` (and volumes made with createQuotaDir) pay it.
 *
 * Use:
 *   await createQuotaDir("/data/volumes/v1", 512 << 20);   // idempotent; re-mounts the same file after a reboot
 *   quotaDevice("/data/volumes/v1");                     // "7:3": the loop device (for blkio/io.max)
 *   await releaseQuotaDir("/data/volumes/v1");            // unmount, free the loop device, delete the data
 */
import fs from "node:fs";
import path from "node:path";
import { RuntimeError, run } from "../util.ts";

/** The smallest quota: ext4's metadata needs a few MiB. */
export const MIN_QUOTA_BYTES = 8 << 20;

function imageFile(dir: string) {
  return path.join(path.dirname(dir), `.${path.basename(dir)}.quota.img`);
}

/** The mount points in this mount namespace (octal escapes as in /proc/self/mountinfo). */
function mountInfo(): { target: string; majmin: string }[] {
  return fs
    .readFileSync("/proc/self/mountinfo", "utf8")
    .split("\n")
    .filter(Boolean)
    .map((l) => {
      const f = l.split(" ");
      return { majmin: f[2], target: f[4].replace(/\\([0-7]{3})/g, (_, o) => String.fromCharCode(parseInt(o, 8))) };
    });
}

export function isMountPoint(dir: string): boolean {
  const abs = path.resolve(dir);
  return mountInfo().some((m) => m.target === abs);
}

async function sh(cmd: string, args: string[]) {
  const r = await run(cmd, args);
  if (r.code !== 0) throw new RuntimeError(`${cmd} ${args.join(" ")} failed: ${(r.stderr || r.stdout).trim()}`);
}

/**
 * Makes `dir` a directory that holds at most `bytes` (rounded up to 1 MiB). Idempotent: when
 * `dir` is already mounted, nothing happens; when its image file exists, it is mounted again
 * (its data kept). Growing an existing quota is not supported (recreate it).
 */
export async function createQuotaDir(dir: string, bytes: number, opts: { uid?: number; gid?: number } = {}) {
  if (!Number.isInteger(bytes) || bytes < MIN_QUOTA_BYTES) {
    throw new RuntimeError(`a disk quota must be a whole number of bytes, at least ${MIN_QUOTA_BYTES} (8 MiB), got ${JSON.stringify(bytes)}`, 400);
  }
  dir = path.resolve(dir);
  if (isMountPoint(dir)) return;
  fs.mkdirSync(dir, { recursive: true });
  const img = imageFile(dir);
  if (!fs.existsSync(img)) {
    const size = Math.ceil(bytes / (1 << 20)) * (1 << 20);
    const tmp = `${img}.tmp`;
    fs.writeFileSync(tmp, "");
    fs.truncateSync(tmp, size);
    // No journal (a scratch layer needs none), inode tables zeroed lazily by the kernel, no
    // discard pass, no reserved blocks (root in the container may use all of it).
    await sh("mke2fs", ["-q", "-F", "-t", "ext4", "-m", "0", "-O", "^has_journal,^resize_inode", "-E", "lazy_itable_init=1,nodiscard", tmp]);
    fs.renameSync(tmp, img);
  }
  // "loop" makes mount set up the device with autoclear: it is freed by the last unmount.
  await sh("mount", ["-t", "ext4", "-o", "loop,noatime", img, dir]);
  // lost+found would show up in the container's / and in commits.
  fs.rmSync(path.join(dir, "lost+found"), { recursive: true, force: true });
  if (opts.uid !== undefined) fs.chownSync(dir, opts.uid, opts.gid ?? opts.uid);
}

/** Unmounts `dir` (and frees its loop device), deletes its image file: the data is gone. Safe to call twice. */
export async function releaseQuotaDir(dir: string) {
  dir = path.resolve(dir);
  await unmountAll(dir);
  fs.rmSync(imageFile(dir), { force: true });
  fs.rmSync(`${imageFile(dir)}.tmp`, { force: true });
}

/** Unmounts every mount at `dir` (stacked ones too); lazily when busy, so the loop device goes once unused. */
export async function unmountAll(dir: string) {
  for (let i = 0; i < 8 && isMountPoint(dir); i++) {
    const r = await run("umount", [dir]);
    if (r.code !== 0) await run("umount", ["-l", dir]);
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
