/**
 * Host binds: a host file or directory seen inside a container at a path the spec names
 * (builds get the host's local package indexes, CA bundle and pip constraints this way).
 *
 *   const binds = normalizeBinds(spec.binds, mounts);          // at create: validated, sources resolved
 *   makeBindPoints(dir, layerDirs, upper, binds, usernsBase);  // at start: missing mount points made in the upper dir
 *   ... paas-run bind-mounts each (read-only ones remounted ro before root is dropped) ...
 *   removeBindPoints(dir, upper);                              // after exit: those mount points go again
 *
 * Why the mount points are made here and removed after: paas-run binds in the container's
 * own mount namespace, over the overlay, so a missing target has to exist in the writable
 * layer. Left there, a commit would carry /opt/pypi/simple (empty) into the app's image;
 * removing what we made (when still empty) keeps the commit what the container wrote.
 * Read-only is the kernel's: the bind is remounted MS_RDONLY by host root in a mount
 * namespace the container's root has no CAP_SYS_ADMIN over, user namespace or not.
 */
import fs from "node:fs";
import path from "node:path";
import type { BindMount, VolumeMount } from "@paas/shared/agent-api";
import { RuntimeError } from "./util.ts";

/** The runtime's own binds (network identity files): no spec may take their places. */
const OWN_TARGETS = ["/etc/resolv.conf", "/etc/hosts", "/etc/hostname"];
const RESERVED = ["/proc", "/sys", "/dev"];
/** paas-run takes at most 64 --bind flags; three are the runtime's own. */
export const MAX_BINDS = 60;
const POINTS_FILE = "bind-points.json";

/** Validates a spec's binds: absolute, existing sources (symlinks resolved), targets clear of volumes and reserved paths. */
export function normalizeBinds(binds: BindMount[] | undefined, volumes: VolumeMount[]): BindMount[] {
  if (!binds?.length) return [];
  if (binds.length > MAX_BINDS) throw new RuntimeError(`spec.binds: at most ${MAX_BINDS} binds, got ${binds.length}`, 400);
  const out: BindMount[] = [];
  for (const b of binds) {
    if (!path.isAbsolute(b.source) || !path.isAbsolute(b.target)) throw new RuntimeError(`spec.binds: source and target must be absolute paths, got ${b.source} -> ${b.target}`, 400);
    let source: string;
    try {
      source = fs.realpathSync(b.source);
    } catch {
      throw new RuntimeError(`spec.binds: ${b.source} does not exist on this host`, 400);
    }
    const st = fs.statSync(source);
    if (!st.isFile() && !st.isDirectory()) throw new RuntimeError(`spec.binds: ${b.source} is neither a file nor a directory`, 400);
    const target = path.posix.normalize(b.target).replace(/\/+$/, "");
    if (!target || target.split("/").includes("..")) throw new RuntimeError(`spec.binds: cannot bind on "${b.target}"`, 400);
    if (RESERVED.some((r) => target === r || target.startsWith(`${r}/`)) || OWN_TARGETS.includes(target)) {
      throw new RuntimeError(`spec.binds: ${target} is reserved by the runtime`, 400);
    }
    if (out.some((o) => o.target === target)) throw new RuntimeError(`spec.binds: two binds on ${target}`, 400);
    const vol = volumes.find((v) => v.path === target || target.startsWith(`${v.path}/`) || v.path.startsWith(`${target}/`));
    if (vol) throw new RuntimeError(`spec.binds: ${target} overlaps volume ${vol.name} on ${vol.path}`, 400);
    out.push({ source, target, readOnly: b.readOnly });
  }
  // shallow targets first, so a bind on /a/b lands inside one on /a
  return out.sort((a, b) => a.target.length - b.target.length);
}

/** What is at `rel` in the image: the topmost layer that has it decides (dirs merge). */
function inImage(layerDirs: string[], rel: string): fs.Stats | undefined {
  for (const l of layerDirs) {
    const st = fs.lstatSync(path.join(l, rel), { throwIfNoEntry: false });
    if (st) return st;
  }
  return undefined;
}

/**
 * Makes in the writable layer (`upper`) each bind target the image lacks, and the directories
 * on the way to it (owned as the image's are, new ones by root inside: `usernsBase` shifts the
 * ids as the upper dir keeps them); records them for removeBindPoints.
 * `layerDirs`: the image's layers, top first. A symlink on the way is refused (the bind
 * would land wherever it points), and so is a file where a directory is bound or the reverse.
 */
export function makeBindPoints(containerDir: string, layerDirs: string[], upper: string, binds: BindMount[], usernsBase = 0): void {
  const made: string[] = [];
  const record = () => fs.writeFileSync(path.join(containerDir, POINTS_FILE), JSON.stringify(made));
  try {
    for (const b of binds) {
      const isDir = fs.statSync(b.source).isDirectory();
      const parts = b.target.split("/").filter(Boolean);
      for (let i = 0; i < parts.length; i++) {
        const rel = parts.slice(0, i + 1).join("/");
        const last = i === parts.length - 1;
        const up = fs.lstatSync(path.join(upper, rel), { throwIfNoEntry: false });
        const st = up ?? inImage(layerDirs, rel);
        const wantDir = !last || isDir;
        if (st?.isSymbolicLink()) throw new RuntimeError(`cannot bind ${b.source} on ${b.target}: /${rel} is a symlink in the image`, 400);
        if (st && st.isDirectory() !== wantDir) {
          throw new RuntimeError(`cannot bind ${b.source} on ${b.target}: /${rel} is ${st.isDirectory() ? "a directory" : "not a directory"} in the image`, 400);
        }
        if (up) continue;
        // A directory the image has is made in the writable layer too (overlay's copy-up, by
        // hand), so that what is below it can be; removed after exit if nothing was put in it.
        const p = path.join(upper, rel);
        if (wantDir) fs.mkdirSync(p, { mode: st ? st.mode & 0o7777 : 0o755 });
        else fs.writeFileSync(p, "", { mode: 0o644 });
        fs.chownSync(p, usernsBase + (st?.uid ?? 0), usernsBase + (st?.gid ?? 0));
        made.push(rel);
      }
    }
  } finally {
    record();
  }
}

/**
 * Removes what makeBindPoints made, deepest first, where it is still an empty directory or an
 * empty file: what the container itself put there stays. Idempotent.
 */
export function removeBindPoints(containerDir: string, upper: string): void {
  const file = path.join(containerDir, POINTS_FILE);
  let made: string[];
  try {
    made = JSON.parse(fs.readFileSync(file, "utf8")) as string[];
  } catch {
    return;
  }
  for (const rel of made.reverse()) {
    const p = path.join(upper, rel);
    const st = fs.lstatSync(p, { throwIfNoEntry: false });
    try {
      if (st?.isDirectory() && fs.readdirSync(p).length === 0) fs.rmdirSync(p);
      else if (st?.isFile() && st.size === 0) fs.unlinkSync(p);
    } catch {
      // busy or changed under us: a stray empty mount point, not worth failing an exit over
    }
  }
  fs.rmSync(file, { force: true });
}
