/**
 * The image store: content-addressed layers, each unpacked once and shared read-only
 * by every container (as overlayfs lower dirs), and images = layer list + config.
 *
 * Use:
 *   const store = new ImageStore(layout);
 *   const digest = await store.addLayerFromDir(stagingDir);   // moves the dir in, keyed by sha256 of its tar
 *   const img = store.createImage([digest], config, ["stack/busybox:latest"]);
 *   store.resolve("stack/busybox")                             // -> ImageInfo (tag defaults to latest)
 *   await store.importTar(fileStream, "mine:v1")               // a tar becomes a one-layer image
 *   store.remove("mine:v1", inUse)                             // refuses while a container uses it (unless forced)
 *   store.prune(inUse)                                         // unnamed images and unreferenced layers go
 *   store.history("stack/node")                                // one row per step: layer, size, created_by
 *   store.rebase("app/x:v1", "stack/node-build", "stack/node", "app/x:v1-run")  // the same app on the run stack
 *
 * An image's id is the sha256 of its OCI config JSON (kept verbatim in `ociConfig`), whose
 * rootfs.diff_ids are our layer digests (sha256 of the layer tar that `writeLayerTar`
 * makes): so an image exported and imported again (oci.ts) keeps its id, as with docker.
 */
import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { pipeline } from "node:stream/promises";
import type { Readable } from "node:stream";
import type { ImageConfig, ImageHistoryEntry, ImageHistoryRow, ImageInfo } from "@paas/shared/agent-api";
import { Layout, hex } from "./paths.ts";
import { writeLayerTar } from "./tarwriter.ts";
import { shiftOwners } from "./userns.ts";
import { RuntimeError, helperPath, randomHex, readJson, runOk, withFileLock, writeJson } from "./util.ts";

interface StoredImage {
  id: string;
  layers: string[];
  config: ImageConfig;
  createdAt: string;
  history?: ImageHistoryEntry[];
  /** The OCI image config, byte for byte (its sha256 is the id). */
  ociConfig?: string;
}

/** An OCI image config (image-spec config.md), the parts we read and write. */
export interface OciImageConfig {
  created?: string;
  architecture: string;
  os: string;
  config?: {
    User?: string;
    ExposedPorts?: Record<string, object>;
    Env?: string[];
    Entrypoint?: string[] | null;
    Cmd?: string[] | null;
    WorkingDir?: string;
    Labels?: Record<string, string> | null;
  };
  rootfs: { type: "layers"; diff_ids: string[] };
  history?: ImageHistoryEntry[];
}

/** Our config as an OCI config JSON (fixed key order, so the same input gives the same id). */
export function toOciConfig(config: ImageConfig, layers: string[], history: ImageHistoryEntry[], created: string): string {
  const c: OciImageConfig["config"] = {};
  if (config.user) c.User = config.user;
  if (config.exposedPorts?.length) c.ExposedPorts = Object.fromEntries(config.exposedPorts.map((p) => [`${p}/tcp`, {}]));
  c.Env = Object.entries(config.env ?? {}).map(([k, v]) => `${k}=${v}`);
  if (config.entrypoint?.length) c.Entrypoint = config.entrypoint;
  c.Cmd = config.cmd ?? [];
  c.WorkingDir = config.workdir || "/";
  if (config.labels && Object.keys(config.labels).length) c.Labels = config.labels;
  const oci: OciImageConfig = { created, architecture: ociArch(), os: "linux", config: c, rootfs: { type: "layers", diff_ids: layers }, history };
  return JSON.stringify(oci);
}

/** An OCI (or docker) image config -> ours. */
export function fromOciConfig(oci: OciImageConfig): ImageConfig {
  const c = oci.config ?? {};
  const env: Record<string, string> = {};
  for (const kv of c.Env ?? []) {
    const i = kv.indexOf("=");
    if (i > 0) env[kv.slice(0, i)] = kv.slice(i + 1);
  }
  const ports = Object.keys(c.ExposedPorts ?? {})
    .map((p) => Number(p.split("/")[0]))
    .filter((n) => Number.isInteger(n) && n > 0);
  const out: ImageConfig = { cmd: c.Cmd ?? [], env, workdir: c.WorkingDir || "/" };
  if (c.Entrypoint?.length) out.entrypoint = c.Entrypoint;
  if (c.User) out.user = c.User;
  if (ports.length) out.exposedPorts = ports;
  if (c.Labels && Object.keys(c.Labels).length) out.labels = c.Labels;
  return out;
}

function ociArch(): string {
  return ({ x64: "amd64", arm64: "arm64", arm: "arm", ia32: "386", ppc64: "ppc64le", s390x: "s390x" } as Record<string, string>)[process.arch] ?? process.arch;
}

/** One row of `history`: the step, the layer it made (if any) and that layer's size. */

/** What `rmi`/`prune` need to know about containers: the images and layers they use. */
export interface InUse {
  layers: Set<string>;
  images: Set<string>;
  /** image id -> names of containers using it, for the refusal message */
  users?: Map<string, string[]>;
}

/** "repo" -> "repo:latest"; ids pass through. */
export function normalizeName(name: string): string {
  if (name.startsWith("sha256:")) return name;
  const slash = name.lastIndexOf("/");
  return name.indexOf(":", slash + 1) >= 0 ? name : `${name}:latest`;
}

const NAME_RE = /^[a-z0-9][a-z0-9._\-/]*(:[A-Za-z0-9._-]{1,128})?$/;

/** Throws a clear error unless `name` is a valid repo[:tag]. */
export function checkName(name: string): string {
  const n = normalizeName(name);
  if (n.startsWith("sha256:") || !NAME_RE.test(n) || n.includes("//") || /[/.]$/.test(n.split(":")[0])) {
    throw new RuntimeError(`bad image name "${name}": use lowercase repo[:tag], e.g. app/hello:v3`, 400);
  }
  return n;
}

/**
 * The steps of an image's history after those of its base: `base`'s steps when the history
 * starts with them (a commit or build on it keeps them), else the steps up to the base's last layer.
 */
function ownSteps(hist: ImageHistoryEntry[], base: ImageHistoryEntry[], baseLayers: number): ImageHistoryEntry[] {
  if (base.length <= hist.length && base.every((b, i) => hist[i].created_by === b.created_by && !!hist[i].empty_layer === !!b.empty_layer)) return hist.slice(base.length);
  let seen = 0;
  let i = 0;
  while (i < hist.length && seen < baseLayers) if (!hist[i++].empty_layer) seen++;
  return hist.slice(i);
}

export class ImageStore {
  constructor(readonly layout: Layout) {
    for (const d of [layout.layers, layout.images, layout.tmp]) fs.mkdirSync(d, { recursive: true });
  }

  private names(): Record<string, string> {
    return readJson<Record<string, string>>(this.layout.names) ?? {};
  }

  hasLayer(digest: string) {
    return fs.existsSync(path.join(this.layout.layers, `${hex(digest)}.json`));
  }

  layerSize(digest: string): number {
    return readJson<{ size: number }>(path.join(this.layout.layers, `${hex(digest)}.json`))?.size ?? 0;
  }

  /** Digest of a directory as a layer tar (whiteouts and opaque dirs included). */
  async digestDir(dir: string, mapId?: (id: number) => number): Promise<{ digest: string; size: number }> {
    const opaque = new Set((await runOk(helperPath(), ["opaque", dir])).split("\n").filter(Boolean));
    const h = createHash("sha256");
    const size = writeLayerTar(dir, (c) => h.update(c), opaque, mapId);
    return { digest: `sha256:${h.digest("hex")}`, size };
  }

  /**
   * Makes `dir` a layer. With `move` the dir itself is renamed into the store (it must be on
   * the same filesystem); otherwise it is copied (cp -a keeps whiteouts and xattrs). `mapId`
   * maps the ids on disk to the layer's (a user-namespaced container's upper dir).
   */
  async addLayerFromDir(dir: string, move = false, mapId?: (id: number) => number): Promise<string> {
    const { digest, size } = await this.digestDir(dir, mapId);
    if (this.hasLayer(digest)) {
      if (move) fs.rmSync(dir, { recursive: true, force: true });
      return digest;
    }
    let staged = dir;
    if (!move) {
      staged = path.join(this.layout.tmp, `layer-${randomHex(6)}`);
      await runOk("cp", ["-a", dir, staged]);
    }
    if (mapId) shiftOwners(staged, mapId);
    this.placeLayer(staged, digest, size);
    return digest;
  }

  /** Takes in a layer dir whose digest is known (a stack from the host-wide cache). */
  adoptLayer(dir: string, digest: string, size: number) {
    if (this.hasLayer(digest)) fs.rmSync(dir, { recursive: true, force: true });
    else this.placeLayer(dir, digest, size);
  }

  /**
   * Renames a complete layer dir to its digest's place. Layers are content-addressed, so when
   * another commit of the same content got there first (builds sharing their dependencies,
   * at once), its layer is as good as ours: ours is dropped. A dir there without its record
   * is what a crash mid-commit or mid-GC left: it is set aside and ours takes its place.
   */
  private placeLayer(staged: string, digest: string, size: number): void {
    const dest = this.layout.layer(digest);
    try {
      fs.renameSync(staged, dest);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== "ENOTEMPTY" && code !== "EEXIST") throw e;
      if (!this.hasLayer(digest)) {
        const stale = path.join(this.layout.tmp, `stale-${randomHex(6)}`);
        fs.renameSync(dest, stale);
        fs.renameSync(staged, dest);
        fs.rmSync(stale, { recursive: true, force: true });
      }
    }
    fs.rmSync(staged, { recursive: true, force: true });
    writeJson(path.join(this.layout.layers, `${hex(digest)}.json`), { size });
  }

  /**
   * Unpacks a layer tar (OCI whiteouts are turned into overlayfs ones). GNU tar, as it
   * restores directory and symlink mtimes (node-tar does not), and the mtimes of dirs that
   * get whiteouts are put back: so a layer we exported unpacks to the same digest.
   */
  async addLayerFromTar(stream: Readable): Promise<string> {
    const tmp = path.join(this.layout.tmp, `import-${randomHex(6)}`);
    fs.mkdirSync(tmp, { recursive: true });
    try {
      const { spawn } = await import("node:child_process");
      const p = spawn("tar", ["-x", "-f", "-", "-C", tmp, "--same-owner", "--numeric-owner", "-p", "--no-overwrite-dir"], { stdio: ["pipe", "ignore", "pipe"] });
      let err = "";
      p.stderr.on("data", (d) => (err += d));
      const exit = new Promise<number>((r) => p.on("close", (c) => r(c ?? 1)));
      let pipeErr: (Error & { code?: string }) | undefined;
      try {
        await pipeline(stream, p.stdin);
      } catch (e) {
        pipeErr = e as Error & { code?: string };
      }
      // tar stops reading at the end-of-archive blocks: padding left unread closes its stdin
      // early (EPIPE, "premature close"); only the source's own errors count.
      const closedEarly = pipeErr && (pipeErr.code === "EPIPE" || pipeErr.code === "ERR_STREAM_PREMATURE_CLOSE");
      if (pipeErr && !closedEarly) {
        p.kill();
        await exit;
        throw new RuntimeError(`cannot read the layer: ${pipeErr.message}`, 400);
      }
      if ((await exit) !== 0) throw new RuntimeError(`the layer is not a valid tar: ${err.trim()}`, 400);
      // The whiteout devices get the .wh. file's owner and mtime (our tars carry them).
      const times = new Map<string, fs.Stats>();
      const whiteouts = new Map<string, fs.Stats>();
      const walk = (dir: string) => {
        for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
          if (e.name.startsWith(".wh.")) {
            times.set(dir, times.get(dir) ?? fs.statSync(dir));
            if (e.name !== ".wh..wh..opq") whiteouts.set(path.join(dir, e.name.slice(4)), fs.lstatSync(path.join(dir, e.name)));
          }
          if (e.isDirectory()) walk(path.join(dir, e.name));
        }
      };
      walk(tmp);
      await runOk(helperPath(), ["unwhiteout", tmp]);
      for (const [p, st] of whiteouts) {
        try {
          fs.lchownSync(p, st.uid, st.gid);
          fs.lutimesSync(p, st.atime, st.mtime);
        } catch {}
      }
      for (const [d, st] of times) fs.utimesSync(d, st.atime, st.mtime);
      return await this.addLayerFromDir(tmp, true);
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  }

  /**
   * Makes an image of `layers` + `config`. `history` (OCI's) defaults to one step per layer;
   * `ociConfig` (an imported config, verbatim) keeps an imported image's id.
   */
  createImage(layers: string[], config: ImageConfig, names: string[] = [], history?: ImageHistoryEntry[], ociConfig?: string): ImageInfo {
    for (const l of layers) if (!this.hasLayer(l)) throw new RuntimeError(`layer ${l} is not in the store`);
    const createdAt = new Date().toISOString();
    const hist = history ?? layers.map((l) => ({ created: createdAt, created_by: `layer ${hex(l).slice(0, 12)}` }));
    const raw = ociConfig ?? toOciConfig(config, layers, hist, createdAt);
    const id = `sha256:${createHash("sha256").update(raw).digest("hex")}`;
    const file = path.join(this.layout.images, `${hex(id)}.json`);
    if (!fs.existsSync(file)) writeJson(file, { id, layers, config, createdAt, history: hist, ociConfig: raw } satisfies StoredImage);
    for (const n of names) this.tag(n, id);
    return this.info(id)!;
  }

  /** The stored OCI config of an image (made for images stored before configs were kept). */
  ociConfig(ref: string): string {
    const img = this.resolve(ref);
    const stored = readJson<StoredImage>(path.join(this.layout.images, `${hex(img.id)}.json`))!;
    return stored.ociConfig ?? toOciConfig(img.config, img.layers, img.history ?? [], img.createdAt);
  }

  tag(name: string, id: string) {
    const n = checkName(name);
    withFileLock(this.layout.lock, () => {
      const names = this.names();
      names[n] = id;
      writeJson(this.layout.names, names);
    });
  }

  /** `tag SOURCE TARGET`: another name for an existing image. */
  tagImage(source: string, target: string): ImageInfo {
    const img = this.resolve(source);
    this.tag(target, img.id);
    return this.info(img.id)!;
  }

  /**
   * `name` := `onto`'s layers + the layers `image` has above `from`'s, with `image`'s config
   * (what a build on `from` set: cmd, env, workdir). History: `onto`'s steps, then `image`'s
   * own. A 400 unless `image`'s layers start with all of `from`'s: the layers above them
   * would otherwise be changes to some other base, and on `onto` a different file system.
   */
  rebase(imageRef: string, fromRef: string, ontoRef: string, name: string): ImageInfo {
    checkName(name);
    const img = this.resolve(imageRef);
    const from = this.resolve(fromRef);
    const onto = this.resolve(ontoRef);
    const n = from.layers.length;
    const starts = img.layers.length >= n && from.layers.every((l, i) => img.layers[i] === l);
    if (!starts) {
      const k = from.layers.findIndex((l, i) => img.layers[i] !== l) + 1;
      throw new RuntimeError(
        `cannot rebase ${imageRef} from ${fromRef}: it was not built on ${fromRef} (its layer ${k} is not ${fromRef}'s layer ${k}; ${fromRef} has ${n} layers, ${imageRef} ${img.layers.length}); name the image it was built on as "from"`,
        400,
      );
    }
    const steps = (i: ImageInfo): ImageHistoryEntry[] => (i.history?.length ? i.history : i.layers.map((l) => ({ created_by: `layer ${hex(l).slice(0, 12)}` })));
    return this.createImage([...onto.layers, ...img.layers.slice(n)], img.config, [name], [...steps(onto), ...ownSteps(steps(img), steps(from), n)]);
  }

  /** The steps that made the image, newest first (like `docker history`). */
  history(ref: string): ImageHistoryRow[] {
    const img = this.resolve(ref);
    const hist: ImageHistoryEntry[] = img.history?.length ? img.history : img.layers.map((l) => ({ created_by: `layer ${hex(l).slice(0, 12)}` }));
    const rows: ImageHistoryRow[] = [];
    let li = 0;
    for (const h of hist) {
      const layer = h.empty_layer ? undefined : img.layers[li++];
      rows.push({ ...h, layer, sizeBytes: layer ? this.layerSize(layer) : 0 });
    }
    return rows.reverse();
  }

  private info(id: string): ImageInfo | undefined {
    const img = readJson<StoredImage>(path.join(this.layout.images, `${hex(id)}.json`));
    if (!img) return undefined;
    const names = Object.entries(this.names())
      .filter(([, v]) => v === img.id)
      .map(([k]) => k);
    const { ociConfig: _raw, ...rest } = img;
    return { ...rest, names, sizeBytes: img.layers.reduce((s, l) => s + this.layerSize(l), 0) };
  }

  /** Finds an image by name (tag defaults to latest), full id, or id prefix. */
  find(ref: string): ImageInfo | undefined {
    const names = this.names();
    const byName = names[normalizeName(ref)];
    if (byName) return this.info(byName);
    const h = hex(ref);
    if (/^[0-9a-f]{6,64}$/.test(h)) {
      const match = fs.readdirSync(this.layout.images).find((f) => f.startsWith(h));
      if (match) return this.info(match.replace(/\.json$/, ""));
    }
    return undefined;
  }

  resolve(ref: string): ImageInfo {
    const img = this.find(ref);
    if (!img) throw new RuntimeError(`no image "${ref}" on this host; list them with GET /v1/images`, 404);
    return img;
  }

  list(): ImageInfo[] {
    return fs
      .readdirSync(this.layout.images)
      .filter((f) => f.endsWith(".json"))
      .map((f) => this.info(f.replace(/\.json$/, "")))
      .filter((i): i is ImageInfo => !!i);
  }

  /**
   * `rmi`: removes a name (or, given an id, every name of the image). The image goes when no
   * name points at it; while a container uses it that is refused unless `force` (then only
   * the names go: the image stays until its containers are removed). Layers no image and no
   * container needs go too.
   */
  remove(ref: string, inUse: InUse, force = false): string[] {
    const img = this.resolve(ref);
    const removed: string[] = [];
    withFileLock(this.layout.lock, () => {
      const names = this.names();
      const n = normalizeName(ref);
      const drop = names[n] === img.id ? [n] : Object.keys(names).filter((k) => names[k] === img.id);
      const left = Object.keys(names).filter((k) => names[k] === img.id && !drop.includes(k));
      if (!left.length && inUse.images.has(img.id) && !force) {
        const users = inUse.users?.get(img.id) ?? [];
        throw new RuntimeError(
          `image ${drop[0] ?? img.id.slice(7, 19)} is used by container(s) ${users.join(", ") || "on this host"}; remove them first or force it (rmi -f untags it, the image stays until they go)`,
          409,
        );
      }
      for (const k of drop) delete names[k], removed.push(k);
      writeJson(this.layout.names, names);
      if (!left.length && !inUse.images.has(img.id)) {
        fs.rmSync(path.join(this.layout.images, `${hex(img.id)}.json`), { force: true });
        removed.push(img.id);
      }
    });
    this.gcLayers(inUse.layers);
    return removed;
  }

  /**
   * Garbage collection: images without a name that no container uses, then layers that no
   * image and no container references. Returns what went and the bytes freed (layer tars).
   */
  prune(inUse: InUse): { images: string[]; layers: string[]; bytes: number } {
    const images: string[] = [];
    withFileLock(this.layout.lock, () => {
      const named = new Set(Object.values(this.names()));
      for (const f of fs.readdirSync(this.layout.images)) {
        if (!f.endsWith(".json")) continue;
        const id = `sha256:${f.replace(/\.json$/, "")}`;
        if (named.has(id) || inUse.images.has(id)) continue;
        fs.rmSync(path.join(this.layout.images, f), { force: true });
        images.push(id);
      }
    });
    return { images, ...this.gcLayers(inUse.layers) };
  }

  gcLayers(layersInUse: Set<string>): { layers: string[]; bytes: number } {
    const used = new Set([...layersInUse].map(hex));
    for (const img of this.list()) for (const l of img.layers) used.add(hex(l));
    const layers: string[] = [];
    let bytes = 0;
    for (const f of fs.readdirSync(this.layout.layers)) {
      if (!f.endsWith(".json")) continue;
      const h = f.replace(/\.json$/, "");
      if (used.has(h)) continue;
      bytes += this.layerSize(h);
      fs.rmSync(path.join(this.layout.layers, h), { recursive: true, force: true });
      fs.rmSync(path.join(this.layout.layers, f), { force: true });
      layers.push(`sha256:${h}`);
    }
    // Staging dirs of imports or commits that a crash left behind (older than an hour).
    for (const f of fs.readdirSync(this.layout.tmp)) {
      const p = path.join(this.layout.tmp, f);
      try {
        if (Date.now() - fs.lstatSync(p).mtimeMs > 3600_000) fs.rmSync(p, { recursive: true, force: true });
      } catch {}
    }
    return { layers, bytes };
  }

  /** Streams a stored layer as its tar (the bytes its digest is of). */
  async writeLayer(digest: string, sink: (c: Buffer) => void): Promise<number> {
    const dir = this.layout.layer(digest);
    if (!this.hasLayer(digest)) throw new RuntimeError(`layer ${digest} is not in the store`, 404);
    const opaque = new Set((await runOk(helperPath(), ["opaque", dir])).split("\n").filter(Boolean));
    return writeLayerTar(dir, sink, opaque);
  }

  /** Imports a single-layer image from a tar stream (the `import` verb). */
  async importTar(stream: Readable, name: string, config?: Partial<ImageConfig>): Promise<ImageInfo> {
    checkName(name);
    const digest = await this.addLayerFromTar(stream);
    const created = new Date().toISOString();
    // ENV of `config` adds to the default PATH (or replaces it), as commit's does to the image's env
    const env = { PATH: "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin", ...config?.env };
    return this.createImage([digest], { cmd: ["/bin/sh"], workdir: "/", ...config, env }, [name], [
      { created, created_by: "paas-runtime import", comment: `root filesystem tarball as ${normalizeName(name)}` },
    ]);
  }
}
