/**
 * Images in and out: OCI image-layout (oci-layout, index.json, blobs/sha256/...) and
 * `docker save` tars. `saveImages()` writes one tar that is both: an OCI layout plus
 * docker's manifest.json (as docker 25+ does), so `docker load`, skopeo and we read it.
 * `loadImages()` reads either an OCI layout (dir or tar) or a docker save tar (old layout
 * too: <id>/layer.tar + <hex>.json), layers plain or gzip.
 *
 * Ids survive the round trip: our layer digests are the diff_ids of the config, and the
 * config blob is kept byte for byte, so an exported image imports with the same id.
 *
 * Also the container side: `containerDiff()` (docker diff's A/C/D lines) and
 * `exportContainer()` (the merged root filesystem as a tar).
 */
import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { pipeline } from "node:stream/promises";
import type { Readable, Writable } from "node:stream";
import zlib from "node:zlib";
import * as tar from "tar";
import type { ImageInfo } from "@paas/shared/agent-api";
import { type ImageStore, type OciImageConfig, checkName, fromOciConfig, normalizeName } from "./images.ts";
import { hex } from "./paths.ts";
import { RuntimeError, exists, randomHex, runOk } from "./util.ts";
import { mapTarIds, toContainerId } from "./userns.ts";

export const MEDIA = {
  index: "application/vnd.oci.image.index.v1+json",
  manifest: "application/vnd.oci.image.manifest.v1+json",
  config: "application/vnd.oci.image.config.v1+json",
  layer: "application/vnd.oci.image.layer.v1.tar",
  layerGzip: "application/vnd.oci.image.layer.v1.tar+gzip",
  dockerManifest: "application/vnd.docker.distribution.manifest.v2+json",
  dockerLayer: "application/vnd.docker.image.rootfs.diff.tar",
  dockerLayerGzip: "application/vnd.docker.image.rootfs.diff.tar.gzip",
};

interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
}

function sha256(b: Buffer | string) {
  return `sha256:${createHash("sha256").update(b).digest("hex")}`;
}

/** Writes a blob file under dir/blobs/sha256 and returns its descriptor. */
function putBlob(dir: string, mediaType: string, data: Buffer | string, annotations?: Record<string, string>): Descriptor {
  const digest = sha256(data);
  const file = path.join(dir, "blobs/sha256", hex(digest));
  if (!exists(file)) fs.writeFileSync(file, data);
  return { mediaType, digest, size: Buffer.byteLength(data), ...(annotations ? { annotations } : {}) };
}

/** Layer `digest` as a blob (plain: the blob digest is the layer digest; gzip: of the .gz). */
async function putLayer(store: ImageStore, dir: string, digest: string, gzip: boolean): Promise<Descriptor> {
  const blobs = path.join(dir, "blobs/sha256");
  if (!gzip) {
    const file = path.join(blobs, hex(digest));
    if (!exists(file)) {
      const tmp = `${file}.tmp`;
      const fd = fs.openSync(tmp, "w");
      try {
        await store.writeLayer(digest, (c) => fs.writeSync(fd, c));
      } finally {
        fs.closeSync(fd);
      }
      fs.renameSync(tmp, file);
    }
    return { mediaType: MEDIA.layer, digest, size: fs.statSync(file).size };
  }
  const tmp = path.join(blobs, `gz-${randomHex(6)}.tmp`);
  const gz = zlib.createGzip();
  const h = createHash("sha256");
  let size = 0;
  gz.on("data", (c: Buffer) => {
    h.update(c);
    size += c.length;
  });
  const done = pipeline(gz, fs.createWriteStream(tmp));
  await store.writeLayer(digest, (c) => gz.write(c));
  gz.end();
  await done;
  const d = `sha256:${h.digest("hex")}`;
  fs.renameSync(tmp, path.join(blobs, hex(d)));
  return { mediaType: MEDIA.layerGzip, digest: d, size };
}

/**
 * Writes `refs` as an OCI image layout into `dir` (made if missing), plus docker's
 * manifest.json. Each name becomes an index entry annotated with its name.
 */
export async function exportLayout(store: ImageStore, refs: string[], dir: string, opts: { gzip?: boolean } = {}): Promise<ImageInfo[]> {
  fs.mkdirSync(path.join(dir, "blobs/sha256"), { recursive: true });
  fs.writeFileSync(path.join(dir, "oci-layout"), JSON.stringify({ imageLayoutVersion: "1.0.0" }));
  const index = { schemaVersion: 2, mediaType: MEDIA.index, manifests: [] as Descriptor[] };
  const docker: { Config: string; RepoTags: string[]; Layers: string[] }[] = [];
  const images: ImageInfo[] = [];
  for (const ref of refs) {
    const img = store.resolve(ref);
    images.push(img);
    const raw = store.ociConfig(img.id);
    const config = putBlob(dir, MEDIA.config, raw);
    const layers: Descriptor[] = [];
    for (const l of img.layers) layers.push(await putLayer(store, dir, l, !!opts.gzip));
    const manifest = JSON.stringify({ schemaVersion: 2, mediaType: MEDIA.manifest, config, layers });
    // Names given as a ref; an id exports the image's own names (none: an unnamed image).
    const names = ref.startsWith("sha256:") || /^[0-9a-f]{12,64}$/.test(ref) ? img.names : [normalizeName(ref)];
    const base = putBlob(dir, MEDIA.manifest, manifest);
    if (!names.length) index.manifests.push(base);
    for (const n of names) {
      index.manifests.push({ ...base, annotations: { "io.containerd.image.name": n, "org.opencontainers.image.ref.name": n.slice(n.lastIndexOf(":") + 1) } });
    }
    docker.push({ Config: `blobs/sha256/${hex(config.digest)}`, RepoTags: names, Layers: layers.map((d) => `blobs/sha256/${hex(d.digest)}`) });
  }
  fs.writeFileSync(path.join(dir, "index.json"), JSON.stringify(index));
  fs.writeFileSync(path.join(dir, "manifest.json"), JSON.stringify(docker));
  return images;
}

/** `save`: the images as one tar (OCI layout + docker manifest.json) to `out`. */
export async function saveImages(store: ImageStore, refs: string[], out: Writable, opts: { gzip?: boolean } = {}): Promise<ImageInfo[]> {
  const dir = path.join(store.layout.tmp, `save-${randomHex(6)}`);
  try {
    const images = await exportLayout(store, refs, dir, opts);
    const entries = fs.readdirSync(dir).sort();
    await pipeline(tar.c({ cwd: dir, portable: true }, entries) as unknown as Readable, out);
    return images;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** Opens a blob that may be gzip'd (magic 1f 8b) as a plain tar stream. */
function layerStream(file: string): Readable {
  const fd = fs.openSync(file, "r");
  const magic = Buffer.alloc(2);
  fs.readSync(fd, magic, 0, 2, 0);
  fs.closeSync(fd);
  const s = fs.createReadStream(file);
  return magic[0] === 0x1f && magic[1] === 0x8b ? s.pipe(zlib.createGunzip()) : s;
}

/** One image to load: its config blob, its layer files, the names it had. */
interface ToLoad {
  configRaw: string;
  layerFiles: string[];
  names: string[];
}

function readJsonFile<T>(file: string, what: string): T {
  try {
    return JSON.parse(fs.readFileSync(file, "utf8")) as T;
  } catch (err) {
    throw new RuntimeError(`${what} is not valid JSON: ${(err as Error).message}`, 400);
  }
}

/** Inside `root` only (a hostile archive must not point us at /etc/shadow). */
function inside(root: string, rel: string): string {
  const p = path.resolve(root, rel);
  if (p !== root && !p.startsWith(root + path.sep)) throw new RuntimeError(`the archive points outside itself: ${rel}`, 400);
  if (!exists(p)) throw new RuntimeError(`the archive lacks ${rel}`, 400);
  return p;
}

function plan(dir: string): ToLoad[] {
  if (exists(path.join(dir, "index.json"))) {
    const blob = (d: string) => inside(dir, path.join("blobs", d.replace(":", "/")));
    const out: ToLoad[] = [];
    const byManifest = new Map<string, ToLoad>();
    const walk = (idx: { manifests?: Descriptor[] }) => {
      for (const m of idx.manifests ?? []) {
        if (m.mediaType === MEDIA.index || m.mediaType === "application/vnd.docker.distribution.manifest.list.v2+json") {
          walk(readJsonFile(blob(m.digest), `index ${m.digest}`));
          continue;
        }
        const name = m.annotations?.["io.containerd.image.name"] ?? m.annotations?.["org.opencontainers.image.ref.name"];
        let item = byManifest.get(m.digest);
        if (!item) {
          const man = readJsonFile<{ config: Descriptor; layers: Descriptor[] }>(blob(m.digest), `manifest ${m.digest}`);
          item = { configRaw: fs.readFileSync(blob(man.config.digest), "utf8"), layerFiles: man.layers.map((l) => blob(l.digest)), names: [] };
          byManifest.set(m.digest, item);
          out.push(item);
        }
        // ref.name alone may be just a tag ("v1"): only full names (repo:tag) are used.
        if (name && /[:/]/.test(name)) item.names.push(name.replace(/^docker\.io\/(library\/)?/, ""));
      }
    };
    walk(readJsonFile(path.join(dir, "index.json"), "index.json"));
    return out;
  }
  if (exists(path.join(dir, "manifest.json"))) {
    const man = readJsonFile<{ Config: string; RepoTags?: string[] | null; Layers: string[] }[]>(path.join(dir, "manifest.json"), "manifest.json");
    return man.map((m) => ({
      configRaw: fs.readFileSync(inside(dir, m.Config), "utf8"),
      layerFiles: m.Layers.map((l) => inside(dir, l)),
      names: (m.RepoTags ?? []).map((n) => n.replace(/^docker\.io\/(library\/)?/, "")),
    }));
  }
  throw new RuntimeError("not an image archive: it has neither index.json (OCI image layout) nor manifest.json (docker save)", 400);
}

/**
 * `load`: images from an OCI layout (a dir, or a tar of one) or a docker save tar.
 * `name` renames a single image (e.g. an archive whose index has only tags).
 */
export async function loadImages(store: ImageStore, source: string | Readable, opts: { name?: string } = {}): Promise<ImageInfo[]> {
  if (opts.name) checkName(opts.name);
  let dir = typeof source === "string" && fs.statSync(source).isDirectory() ? source : undefined;
  let tmp: string | undefined;
  try {
    if (!dir) {
      tmp = dir = path.join(store.layout.tmp, `load-${randomHex(6)}`);
      fs.mkdirSync(tmp, { recursive: true });
      const input = typeof source === "string" ? fs.createReadStream(source) : source;
      try {
        await pipeline(input, tar.x({ cwd: tmp, strict: true }));
      } catch (err) {
        throw new RuntimeError(`cannot read the archive as a tar: ${(err as Error).message}`, 400);
      }
    }
    const items = plan(dir);
    if (opts.name && items.length !== 1) throw new RuntimeError(`the archive holds ${items.length} images; a name can only be given for one`, 400);
    const loaded: ImageInfo[] = [];
    for (const it of items) {
      const oci = JSON.parse(it.configRaw) as OciImageConfig;
      const layers: string[] = [];
      for (const f of it.layerFiles) layers.push(await store.addLayerFromTar(layerStream(f)));
      const diffIds = oci.rootfs?.diff_ids ?? [];
      // Our re-tar of a foreign layer may differ from its diff_id: then the config is rewritten (new id).
      const same = diffIds.length === layers.length && diffIds.every((d, i) => d === layers[i]);
      const history = oci.history?.length ? oci.history : undefined;
      const names = opts.name ? [opts.name] : it.names;
      loaded.push(store.createImage(layers, fromOciConfig(oci), names, history, same ? it.configRaw : undefined));
    }
    return loaded;
  } finally {
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  }
}

// ---------- containers: diff and export ----------

export interface DiffEntry {
  kind: "A" | "C" | "D";
  path: string;
}

/** Is there an entry at `rel` in the image (top-most layer first, whiteouts respected)? */
function inImage(lowers: string[], rel: string): boolean {
  for (const l of [...lowers].reverse()) {
    const st = fs.lstatSync(path.join(l, rel), { throwIfNoEntry: false });
    if (st) return !(st.isCharacterDevice() && st.rdev === 0);
  }
  return false;
}

/** docker diff: what the container's writable layer adds (A), changes (C) and deletes (D). */
export async function containerDiff(upper: string, lowers: string[], helper: string): Promise<DiffEntry[]> {
  const opaque = new Set((await runOk(helper, ["opaque", upper])).split("\n").filter(Boolean));
  const out: DiffEntry[] = [];
  const walk = (rel: string) => {
    for (const name of fs.readdirSync(path.join(upper, rel)).sort()) {
      const r = rel ? `${rel}/${name}` : name;
      const st = fs.lstatSync(path.join(upper, r));
      if (st.isCharacterDevice() && st.rdev === 0) {
        if (inImage(lowers, r)) out.push({ kind: "D", path: `/${r}` });
        continue;
      }
      const had = inImage(lowers, r);
      out.push({ kind: had ? "C" : "A", path: `/${r}` });
      if (st.isDirectory()) {
        if (opaque.has(r) && had) {
          // An opaque dir hides all the image had there.
          const seen = new Set(fs.readdirSync(path.join(upper, r)));
          const gone = new Set<string>();
          for (const l of lowers) {
            const d = path.join(l, r);
            if (fs.lstatSync(d, { throwIfNoEntry: false })?.isDirectory()) for (const n of fs.readdirSync(d)) if (!seen.has(n)) gone.add(n);
          }
          for (const n of [...gone].sort()) if (inImage(lowers, `${r}/${n}`)) out.push({ kind: "D", path: `/${r}/${n}` });
        }
        walk(r);
      }
    }
  };
  walk("");
  return out;
}

/**
 * The container's root filesystem as a tar (docker export), to `out`. Running: read through
 * /proc/<pid>/root, this filesystem only (no /proc, /sys, /dev, bind mounts). Otherwise: the
 * layers and the upper dir stacked read-only by a private overlay mount.
 */
export async function exportContainer(fsi: { upper: string; lowers: string[]; pid?: number; usernsBase?: number }, out: Writable, tmpDir: string): Promise<void> {
  const { spawn } = await import("node:child_process");
  let args: string[];
  if (fsi.pid) args = ["tar", "-C", `/proc/${fsi.pid}/root`, "--one-file-system", "--numeric-owner", "-cf", "-", "."];
  else {
    const mnt = path.join(tmpDir, `export-${randomHex(6)}`);
    fs.mkdirSync(mnt, { recursive: true });
    const lower = [fsi.upper, ...[...fsi.lowers].reverse()].join(":");
    args = ["unshare", "-m", "--propagation", "private", "sh", "-c", 'mount -t overlay overlay -o "lowerdir=$1" "$2" && exec tar -C "$2" --numeric-owner -cf - .', "sh", lower, mnt];
    out.once("close", () => fs.rmSync(mnt, { recursive: true, force: true }));
  }
  const p = spawn(args[0], args.slice(1), { stdio: ["ignore", "pipe", "pipe"] });
  let err = "";
  p.stderr.on("data", (d) => (err += d));
  const exit = new Promise<number>((r) => p.on("close", (c) => r(c ?? 1)));
  // a user-namespaced container's files are read with host ids: the tar gets the container's
  const base = fsi.usernsBase;
  if (base !== undefined) await pipeline(p.stdout, mapTarIds((id) => toContainerId(base, id)), out, { end: out !== process.stdout });
  else await pipeline(p.stdout, out, { end: out !== process.stdout });
  const code = await exit;
  // GNU tar exits 1 when a file changed while read (a running container): the tar is still whole.
  if (code !== 0 && !(code === 1 && fsi.pid)) throw new RuntimeError(`export failed: ${err.trim()}`);
}

// ---------- images: files out ----------

/** What `openImagePath` found: the entry's kind, and how to stream it. */
export interface ImagePath {
  kind: "file" | "directory" | "symlink" | "other";
  /** Writes the tar (one top entry, named after the path's last component) to `out`. */
  write(out: Writable): Promise<void>;
  /** Unmounts the image's view; call it once done (or when `write` is not wanted). */
  close(): void;
}

/**
 * Follows `at` inside `root` component by component: a symlink resolves inside `root` (an
 * absolute one from `root`, never from the host's /), so a hostile image cannot point us at
 * host files. With `follow` the last component is resolved too. Undefined when absent, unless
 * `missingOk`: then the rest of the path as it is (nothing there to follow; cp makes it).
 */
export function resolveInside(root: string, at: string, follow: boolean, missingOk = false): string | undefined {
  const parts = path.posix.normalize("/" + at).split("/").filter(Boolean);
  let cur = "/";
  for (let i = 0, hops = 0; i < parts.length; i++) {
    const next = path.posix.join(cur, parts[i]);
    const st = fs.lstatSync(path.join(root, next), { throwIfNoEntry: false });
    if (!st) return missingOk ? path.posix.join(cur, ...parts.slice(i)) : undefined;
    const last = i === parts.length - 1;
    if (st.isSymbolicLink() && (!last || follow)) {
      if (++hops > 40) throw new RuntimeError(`too many levels of symlinks in ${at}`, 400);
      const target = fs.readlinkSync(path.join(root, next));
      const base = target.startsWith("/") ? target : path.posix.join(cur, target);
      parts.splice(0, i + 1, ...path.posix.normalize("/" + base).split("/").filter(Boolean));
      i = -1;
      cur = "/";
      continue;
    }
    if (!last && !st.isDirectory()) return undefined;
    cur = next;
  }
  return cur;
}

/**
 * The merged view of an image's layers, read-only, for as long as the caller needs it: a
 * private overlay mount held by a small process (`unshare -m`: nothing shows on the host and
 * nothing leaks when we die), reached through /proc/<pid>/root. Overlayfs itself applies the
 * whiteouts and opaque dirs, exactly as a container of the image sees its files.
 */
function mountImage(store: ImageStore, img: ImageInfo): Promise<{ root: string; close(): Promise<void> }> {
  return mountView([...img.layers].reverse().map((l) => store.layout.layer(l)), store.layout.tmp, `image ${img.id.slice(7, 19)}`);
}

/**
 * `dirs` (top first) stacked read-only where only a process of ours sees them (see mountImage);
 * `what` names them in an error.
 */
export async function mountView(dirs: string[], tmpDir: string, what: string): Promise<{ root: string; close(): Promise<void> }> {
  const { spawn } = await import("node:child_process");
  const base = path.join(tmpDir, `view-${randomHex(6)}`);
  const mnt = `${base}-mnt`;
  // Overlayfs wants two lower dirs at least when it has no upper one: empty ones fill in.
  const empties = dirs.length >= 2 ? [] : dirs.length === 1 ? [`${base}-e1`] : [`${base}-e1`, `${base}-e2`];
  for (const d of [mnt, ...empties]) fs.mkdirSync(d, { recursive: true });
  const lower = [...dirs, ...empties].join(":");
  const cleanup = () => {
    for (const d of [mnt, ...empties]) fs.rmSync(d, { recursive: true, force: true });
  };
  const p = spawn("unshare", ["-m", "--propagation", "private", "sh", "-c", 'mount -t overlay overlay -o "ro,lowerdir=$1" "$2" || exit 1; echo mounted; exec cat >/dev/null', "sh", lower, mnt], {
    stdio: ["pipe", "pipe", "pipe"],
  });
  let err = "";
  p.stderr.on("data", (d) => (err += d));
  p.stdin.on("error", () => {});
  const exited = new Promise<void>((r) => p.on("close", () => r()));
  const ok = await new Promise<boolean>((resolve) => {
    p.stdout.once("data", () => resolve(true));
    p.on("close", () => resolve(false));
    p.on("error", () => resolve(false));
  });
  if (!ok) {
    cleanup();
    throw new RuntimeError(`cannot mount ${what} to read it: ${err.trim() || "unshare failed"}`);
  }
  return {
    root: `/proc/${p.pid}/root${mnt}`,
    /** Unmounts (the holder exits) and removes the scratch dirs; resolves once they are gone. */
    close: () => {
      p.stdin.end();
      return exited.then(cleanup);
    },
  };
}

/**
 * Files of an image at `at` as a tar (docker's container archive route, for an image): one
 * top entry named after `at`'s last component ("." for /), owners and modes as stored.
 * Symlinks on the way resolve inside the image; with `follow` so does `at` itself (as
 * COPY --from does). A missing path is a 404 before anything is written.
 */
export async function openImagePath(store: ImageStore, ref: string, at: string, opts: { follow?: boolean } = {}): Promise<ImagePath> {
  if (!at.startsWith("/")) throw new RuntimeError(`path must be absolute, got "${at}"`, 400);
  const img = store.resolve(ref);
  const view = await mountImage(store, img);
  try {
    const found = resolveInside(view.root, at, !!opts.follow);
    if (!found) throw new RuntimeError(`no ${at} in image ${ref}: nothing at that path in its layers (check the path, or the stage that should have made it)`, 404);
    const st = fs.lstatSync(path.join(view.root, found));
    const kind = st.isDirectory() ? "directory" : st.isFile() ? "file" : st.isSymbolicLink() ? "symlink" : "other";
    const want = path.posix.basename(path.posix.normalize("/" + at)) || ".";
    const have = path.posix.basename(found) || ".";
    const args = ["-C", path.join(view.root, path.posix.dirname(found)), "--numeric-owner", "--one-file-system", "-cf", "-"];
    // A followed symlink's target is archived under the name that was asked for.
    if (want !== have) args.push(`--transform=s/^${have.replace(/[.[\]*^$\\]/g, "\\$&")}/${want.replace(/[\\&]/g, "\\$&")}/S`);
    args.push("--", have);
    return {
      kind,
      close: view.close,
      async write(out: Writable) {
        const { spawn } = await import("node:child_process");
        const p = spawn("tar", args, { stdio: ["ignore", "pipe", "pipe"] });
        let err = "";
        p.stderr.on("data", (d) => (err += d));
        const exit = new Promise<number>((r) => p.on("close", (c) => r(c ?? 1)));
        await pipeline(p.stdout, out);
        const code = await exit;
        if (code !== 0) throw new RuntimeError(`reading ${at} from image ${ref} failed: ${err.trim()}`);
      },
    };
  } catch (err) {
    void view.close();
    throw err;
  }
}
