/**
 * A small pool of quota filesystems made ahead, so that a container started with a disk
 * quota does not wait for mke2fs + losetup + mount (disk.ts) on its start path.
 *
 * Layout, under `<runtime root>/diskpool/`:
 *   <bytes>.<rand>.img   a spare: a fresh ext4 of <bytes> (a size class, disk.ts), mounted at m/<rand>
 *   m/<rand>/            its mount point; stays its mount point while a container uses it
 *   .tmp.<rand>.img      being made (or left by a refill that was killed: swept by the next one)
 *   demand/<bytes>       touched at each request of that size: the classes kept are the
 *                        MAX_CLASSES asked for most recently
 *   closed               made by closeDiskPool: no more refills (the data dir is going away)
 *
 * Take: rename(<bytes>.<rand>.img -> the quota dir's image file) claims a spare atomically
 * (of two takers, one gets ENOENT and tries the next); the quota dir becomes a symlink to
 * m/<rand>. Refill: a niced background shell job (it outlives a CLI that exits at once),
 * one at a time per pool under flock; it also sweeps what a killed refill left.
 *
 * Safety: a spare is a filesystem nobody has used. On removal a container's filesystem is
 * unmounted and its image deleted (disk.ts releaseQuotaDir), never handed to another
 * container: the refill makes new ones with mke2fs.
 *
 * PAAS_DISK_POOL = spares kept per size class (default 2; 0 turns the pool off).
 */
import fs from "node:fs";
import path from "node:path";
import type { HelperServer } from "../helper.ts";
import { RuntimeError } from "../util.ts";

export const MAX_CLASSES = 4;

/** The pool of the runtime state under `runtimeRoot` (Layout.root). */
export function diskPoolDir(runtimeRoot: string): string {
  return path.join(runtimeRoot, "diskpool");
}

export function poolTarget(): number {
  const raw = process.env.PAAS_DISK_POOL;
  if (raw === undefined || raw === "") return 2;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0 || n > 64) throw new RuntimeError(`PAAS_DISK_POOL must be a whole number 0..64 (spare quota filesystems per size), got "${raw}"`, 400);
  return n;
}

/**
 * Shell functions shared by the on-demand path (disk.ts) and the refill: one place for how a
 * quota filesystem is made. No journal (a scratch layer needs none), inode tables zeroed
 * lazily by the kernel, no discard pass, no reserved blocks (root in the container may use
 * all of it); "loop" makes mount set the device up with autoclear (freed by the last
 * unmount); lost+found would show in the container's / and in commits.
 */
export const MAKEFS_SH = `
makefs() { # IMG BYTES DIR
  truncate -s "$2" "$1" && chmod 600 "$1" &&
  mke2fs -q -F -t ext4 -m 0 -O ^has_journal,^resize_inode -E lazy_itable_init=1,nodiscard "$1" &&
  mkdir -p "$3" &&
  mount -t ext4 -o loop,noatime "$1" "$3" &&
  rm -rf "$3/lost+found"
}
`;

const REFILL_SH = `${MAKEFS_SH}
set -u
pool=$1 size=$2 target=$3 keep=$4
[ -e "$pool/closed" ] && exit 0
mkdir -p "$pool/m" "$pool/demand"
exec 9>>"$pool/.lock"
flock 9
[ -e "$pool/closed" ] && exit 0
drop() { # IMG RAND: claim by rename (a taker may win), then unmount and delete
  mv "$1" "$pool/.tmp.$2.img" 2>/dev/null || return 0
  umount "$pool/m/$2" 2>/dev/null; rmdir "$pool/m/$2" 2>/dev/null; rm -f "$pool/.tmp.$2.img"
}
# what a killed refill left
for t in "$pool"/.tmp.*.img; do
  [ -e "$t" ] || continue
  r=\${t##*/.tmp.}; r=\${r%.img}
  umount "$pool/m/$r" 2>/dev/null; rmdir "$pool/m/$r" 2>/dev/null; rm -f "$t"
done
# spares that lost their mount (a reboot), and classes no longer asked for
n=0
for d in $(ls -t "$pool/demand"); do
  n=$((n + 1))
  for i in "$pool/$d".*.img; do
    [ -e "$i" ] || continue
    r=\${i##*/$d.}; r=\${r%.img}
    if [ $n -gt "$keep" ] || ! mountpoint -q "$pool/m/$r"; then drop "$i" "$r"; fi
  done
  [ $n -gt "$keep" ] && rm -f "$pool/demand/$d"
done
# mount points left empty (a taken spare's, after a reboot)
for m in "$pool"/m/*; do
  [ -d "$m" ] && ! mountpoint -q "$m" && rmdir "$m" 2>/dev/null
done
[ -e "$pool/demand/$size" ] || exit 0
set -- "$pool/$size".*.img
[ -e "$1" ] && [ $# -gt "$target" ] && for i; do # PAAS_DISK_POOL was lowered
  [ $# -gt "$target" ] || break
  r=\${i##*/$size.}; drop "$i" "\${r%.img}"; shift
done
while :; do
  set -- "$pool/$size".*.img
  have=0; [ -e "$1" ] && have=$#
  [ "$have" -lt "$target" ] || break
  r=$(od -An -N8 -tx1 /dev/urandom | tr -d ' \\n')
  t="$pool/.tmp.$r.img"
  if ! makefs "$t" "$size" "$pool/m/$r"; then
    umount "$pool/m/$r" 2>/dev/null; rmdir "$pool/m/$r" 2>/dev/null; rm -f "$t"; exit 1
  fi
  mv "$t" "$pool/$size.$r.img"
done
`;

/** Spares ready for a size: their mount points. */
export function poolSpares(pool: string, bytes?: number): string[] {
  let names: string[] = [];
  try {
    names = fs.readdirSync(pool);
  } catch {}
  return names
    .filter((f) => /^\d+\.[0-9a-f]+\.img$/.test(f) && (bytes === undefined || f.startsWith(`${bytes}.`)))
    .map((f) => path.join(pool, "m", f.split(".")[1]));
}

/** Counts a request of this size (the refill keeps spares for recent sizes only). */
export function noteDemand(pool: string, bytes: number) {
  if (poolTarget() === 0 || fs.existsSync(path.join(pool, "closed"))) return;
  fs.mkdirSync(path.join(pool, "demand"), { recursive: true });
  const f = path.join(pool, "demand", String(bytes));
  const now = new Date();
  try {
    fs.utimesSync(f, now, now);
  } catch {
    fs.writeFileSync(f, "");
  }
}

/**
 * Claims a spare of `bytes`: its image file is renamed to `img` (the quota dir's). Returns
 * the spare's mount point, or undefined when none is left. A claimed spare that is not
 * mounted (after a reboot) is still a fresh filesystem: the caller mounts `img` itself.
 */
export function takeSpare(pool: string, bytes: number, img: string): string | undefined {
  if (poolTarget() === 0) return undefined;
  for (const mount of poolSpares(pool, bytes)) {
    try {
      fs.renameSync(path.join(pool, `${bytes}.${path.basename(mount)}.img`), img);
      return mount;
    } catch {
      // another process took it
    }
  }
  return undefined;
}

/** Starts a refill of `bytes` spares in the background (it outlives this process). */
export async function refillPool(helper: HelperServer, pool: string, bytes: number) {
  const target = poolTarget();
  if (target === 0 || fs.existsSync(path.join(pool, "closed"))) return;
  // Forked by the helper server (cheaper than a fork of node) and put in the background by
  // sh, which returns at once (a setsid exec cost ~10 ms more on the start path); niced so
  // that the start that asked runs first. A background job of a non-interactive sh ignores
  // SIGINT: a Ctrl-C of the CLI does not cut it (a killed refill is swept by the next one).
  const job = 'nice -n 10 sh -c "$0" refill "$@" </dev/null >/dev/null 2>&1 &';
  const r = await helper.exec("sh", ["-c", job, REFILL_SH, pool, String(bytes), String(target), String(MAX_CLASSES)]);
  if (r.code !== 0) console.error(`runtime: cannot start the disk pool refill: ${r.output.trim()}`);
}

/**
 * For a data dir that is going away (tests, benchmarks): no more refills, every spare
 * unmounted and deleted. Filesystems that containers hold stay theirs (remove them first).
 */
export async function closeDiskPool(helper: HelperServer, pool: string) {
  if (!fs.existsSync(pool)) return;
  fs.writeFileSync(path.join(pool, "closed"), "");
  // under the refill's lock, so a refill under way finishes first and the next one stops
  const sh = `
    exec 9>>"$1/.lock"; flock 9
    for i in "$1"/*.img "$1"/.tmp.*.img; do
      [ -e "$i" ] || continue
      r=\${i##*/}; r=\${r%.img}; r=\${r##*.}
      umount "$1/m/$r" 2>/dev/null; rmdir "$1/m/$r" 2>/dev/null; rm -f "$i"
    done`;
  const r = await helper.exec("sh", ["-c", sh, "close", pool]);
  if (r.code !== 0) throw new RuntimeError(`cannot empty the disk pool ${pool}: ${r.output.trim()}`);
}
