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
 *   store.removeName("mine:v1")                                // and layers no image nor container uses go
 */
import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { pipeline } from "node:stream/promises";
import type { Readable } from "node:stream";
import * as tar from "tar";
import type { ImageConfig, ImageInfo } from "@paas/shared/agent-api";
import { Layout, hex } from "./paths.ts";
import { writeLayerTar } from "./tarwriter.ts";
import { RuntimeError, helperPath, randomHex, readJson, runOk, withFileLock, writeJson } from "./util.ts";

interface StoredImage {
  id: string;
  layers: string[];
  config: ImageConfig;
  createdAt: string;
}

/** "repo" -> "repo:latest"; ids pass through. */
export function normalizeName(name: string): string {
  if (name.startsWith("sha256:")) return name;
  const slash = name.lastIndexOf("/");
  return name.indexOf(":", slash + 1) >= 0 ? name : `${name}:latest`;
}

const NAME_RE = /^[a-z0-9][a-z0-9._\-/]*(:[A-Za-z0-9._-]{1,128})?$/;

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
  async digestDir(dir: string): Promise<{ digest: string; size: number }> {
    const opaque = new Set((await runOk(helperPath(), ["opaque", dir])).split("\n").filter(Boolean));
    const h = createHash("sha256");
    const size = writeLayerTar(dir, (c) => h.update(c), opaque);
    return { digest: `sha256:${h.digest("hex")}`, size };
  }

  /**
   * Makes `dir` a layer. With `move` the dir itself is renamed into the store (it must be on
   * the same filesystem); otherwise it is copied (cp -a keeps whiteouts and xattrs).
   */
  async addLayerFromDir(dir: string, move = false): Promise<string> {
    const { digest, size } = await this.digestDir(dir);
    const dest = this.layout.layer(digest);
    if (this.hasLayer(digest)) {
      if (move) fs.rmSync(dir, { recursive: true, force: true });
      return digest;
    }
    fs.rmSync(dest, { recursive: true, force: true });
    if (move) fs.renameSync(dir, dest);
    else {
      const tmp = path.join(this.layout.tmp, `layer-${randomHex(6)}`);
      await runOk("cp", ["-a", dir, tmp]);
      fs.renameSync(tmp, dest);
    }
    writeJson(path.join(this.layout.layers, `${hex(digest)}.json`), { size });
    return digest;
  }

  /** Unpacks a layer tar (OCI whiteouts are turned into overlayfs ones). */
  async addLayerFromTar(stream: Readable): Promise<string> {
    const tmp = path.join(this.layout.tmp, `import-${randomHex(6)}`);
    fs.mkdirSync(tmp, { recursive: true });
    try {
      await pipeline(stream, tar.x({ cwd: tmp, preserveOwner: true, unlink: true }));
      await runOk(helperPath(), ["unwhiteout", tmp]);
      return await this.addLayerFromDir(tmp, true);
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  }

  createImage(layers: string[], config: ImageConfig, names: string[] = []): ImageInfo {
    for (const l of layers) if (!this.hasLayer(l)) throw new RuntimeError(`layer ${l} is not in the store`);
    const id = `sha256:${createHash("sha256").update(JSON.stringify({ layers, config })).digest("hex")}`;
    const file = path.join(this.layout.images, `${hex(id)}.json`);
    if (!fs.existsSync(file)) writeJson(file, { id, layers, config, createdAt: new Date().toISOString() } satisfies StoredImage);
    for (const n of names) this.tag(n, id);
    return this.info(id)!;
  }

  tag(name: string, id: string) {
    const n = normalizeName(name);
    if (!NAME_RE.test(n)) throw new RuntimeError(`bad image name "${name}": use lowercase repo[:tag], e.g. app/hello:v3`, 400);
    withFileLock(this.layout.lock, () => {
      const names = this.names();
      names[n] = id;
      writeJson(this.layout.names, names);
    });
  }

  private info(id: string): ImageInfo | undefined {
    const img = readJson<StoredImage>(path.join(this.layout.images, `${hex(id)}.json`));
    if (!img) return undefined;
    const names = Object.entries(this.names())
      .filter(([, v]) => v === img.id)
      .map(([k]) => k);
    return { ...img, names, sizeBytes: img.layers.reduce((s, l) => s + this.layerSize(l), 0) };
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
   * Removes a name; the image goes when no name points at it and `inUse` (containers)
   * does not hold it, and then layers no image or container needs go too.
   */
  remove(ref: string, layersInUse: Set<string>, imagesInUse: Set<string>): string[] {
    const img = this.resolve(ref);
    const removed: string[] = [];
    withFileLock(this.layout.lock, () => {
      const names = this.names();
      const n = normalizeName(ref);
      if (names[n]) {
        delete names[n];
        removed.push(n);
      } else {
        for (const [k, v] of Object.entries(names)) if (v === img.id) delete names[k], removed.push(k);
      }
      writeJson(this.layout.names, names);
      if (!Object.values(names).includes(img.id) && !imagesInUse.has(img.id)) {
        fs.rmSync(path.join(this.layout.images, `${hex(img.id)}.json`), { force: true });
        removed.push(img.id);
      }
    });
    this.gcLayers(layersInUse);
    return removed;
  }

  gcLayers(layersInUse: Set<string>) {
    const used = new Set([...layersInUse].map(hex));
    for (const img of this.list()) for (const l of img.layers) used.add(hex(l));
    for (const f of fs.readdirSync(this.layout.layers)) {
      if (!f.endsWith(".json")) continue;
      const h = f.replace(/\.json$/, "");
      if (used.has(h)) continue;
      fs.rmSync(path.join(this.layout.layers, f), { force: true });
      fs.rmSync(path.join(this.layout.layers, h), { recursive: true, force: true });
    }
  }

  /** Imports a single-layer image from a tar stream (the `import` verb). */
  async importTar(stream: Readable, name: string, config?: Partial<ImageConfig>): Promise<ImageInfo> {
    const digest = await this.addLayerFromTar(stream);
    return this.createImage([digest], { cmd: ["/bin/sh"], env: { PATH: "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin" }, workdir: "/", ...config }, [name]);
  }
}
