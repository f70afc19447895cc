/**
 * The image service: images as containers see them (containerd's images + content + GC). The
 * image store (images.ts) keeps layers, image configs and names; this service adds what
 * needs the containers too: a commit of a container's writable layer, and the GC roots (the
 * images and layers that containers use), so rmi and prune never take a layer from under one.
 *
 * Use:
 *   const images = new ImageService(store, containers, helper);
 *   await images.commit(rec, "app/hello:v3");      // the upper dir -> a layer on top of the image's
 *   images.remove("app/hello:v2");                 // refused while a container uses it (force: untag)
 *   images.prune();                                // unnamed, unused images and unreferenced layers
 *   await images.save(["stack/node"], out);        // OCI archive; load() takes one (or docker's)
 */
import type { Readable, Writable } from "node:stream";
import type { ImageConfig, ImageHistoryRow, ImageInfo } from "@paas/shared/agent-api";
import type { HelperServer } from "./helper.ts";
import type { ImageStore, InUse } from "./images.ts";
import { ensureContainerDisk, upperDir } from "./limits/container.ts";
import { type ImagePath, exportLayout, loadImages, openImagePath, saveImages } from "./oci.ts";
import { hex } from "./paths.ts";
import { ensureStacks } from "./stacks.ts";
import type { ContainerRecord, ContainerStore } from "./store.ts";
import { toContainerId } from "./userns.ts";
import { RuntimeError } from "./util.ts";

export class ImageService {
  constructor(
    private readonly images: ImageStore,
    private readonly containers: ContainerStore,
    private readonly helper: HelperServer,
  ) {}

  list(): ImageInfo[] {
    return this.images.list();
  }
  find(ref: string): ImageInfo | undefined {
    return this.images.find(ref);
  }
  /** As find, or a 404 that says how to list them. */
  resolve(ref: string): ImageInfo {
    return this.images.resolve(ref);
  }
  history(ref: string): ImageHistoryRow[] {
    return this.images.history(ref);
  }
  tag(source: string, target: string): ImageInfo {
    return this.images.tagImage(source, target);
  }
  rebase(req: { image: string; from: string; onto: string; name: string }): ImageInfo {
    return this.images.rebase(req.image, req.from, req.onto, req.name);
  }
  /** The image's OCI config JSON, as stored. */
  ociConfig(ref: string): string {
    return this.images.ociConfig(this.images.resolve(ref).id);
  }

  /** The GC roots: layers and images that containers on this host still use. */
  inUse(): InUse {
    const layers = new Set<string>();
    const images = new Set<string>();
    const users = new Map<string, string[]>();
    for (const r of this.containers.all()) {
      images.add(r.imageId);
      users.set(r.imageId, [...(users.get(r.imageId) ?? []), r.name]);
      for (const l of r.layers) layers.add(hex(l));
    }
    return { layers, images, users };
  }

  /** `rmi`: refused while a container uses the image, unless forced (see ImageStore.remove). */
  remove(ref: string, force = false): string[] {
    return this.images.remove(ref, this.inUse(), force);
  }

  prune(): { images: string[]; layers: string[]; bytes: number } {
    return this.images.prune(this.inUse());
  }

  /** A stopped container's writable layer as a new image on top of its image's layers. */
  async commit(rec: ContainerRecord, name: string, config?: Partial<ImageConfig>): Promise<ImageInfo> {
    if (typeof name !== "string" || !name) throw new RuntimeError("commit needs a name, e.g. app/hello:v3", 400);
    if (this.containers.state(rec).state === "running") throw new RuntimeError("cannot commit a running container; wait for it or stop it", 409);
    const dir = this.containers.dir(rec.id);
    // after a reboot the quota'd layer must be mounted again before it is read
    await ensureContainerDisk(this.helper, dir, rec.spec);
    const nsBase = rec.usernsBase;
    const digest = await this.images.addLayerFromDir(upperDir(dir), false, nsBase !== undefined ? (id) => toContainerId(nsBase, id) : undefined);
    const merged: ImageConfig = {
      ...rec.config,
      ...config,
      env: { ...rec.config.env, ...(config?.env ?? {}) },
      labels: { ...(rec.config.labels ?? {}), ...(config?.labels ?? {}) },
    };
    const layers = rec.layers.includes(digest) ? rec.layers : [...rec.layers, digest];
    const base = this.images.find(rec.imageId)?.history ?? rec.layers.map(() => ({}));
    const step = { created: new Date().toISOString(), created_by: `commit ${rec.name}: ${[...(rec.config.entrypoint ?? []), ...(rec.spec.cmd ?? rec.config.cmd ?? [])].join(" ")}`.slice(0, 500), ...(layers === rec.layers ? { empty_layer: true } : {}) };
    return this.images.createImage(layers, merged, [name], [...base, step]);
  }

  /** A tar of a root filesystem as a one-layer image (docker import). */
  importTar(stream: Readable, name: string, config?: Partial<ImageConfig>): Promise<ImageInfo> {
    return this.images.importTar(stream, name, config);
  }
  /** An OCI image layout or docker-save archive (a file path or a stream) into the store. */
  load(source: string | Readable, opts: { name?: string } = {}): Promise<ImageInfo[]> {
    return loadImages(this.images, source, opts);
  }
  /** An OCI archive of the images to `out`. */
  save(refs: string[], out: Writable, opts: { gzip?: boolean } = {}): Promise<ImageInfo[]> {
    return saveImages(this.images, refs, out, opts);
  }
  /** The images as an OCI image layout in directory `dir`. */
  exportLayout(refs: string[], dir: string, opts: { gzip?: boolean } = {}): Promise<ImageInfo[]> {
    return exportLayout(this.images, refs, dir, opts);
  }
  /** A path inside an image, to stream as a tar (close() it once done). */
  openPath(ref: string, at: string, opts: { follow?: boolean } = {}): Promise<ImagePath> {
    return openImagePath(this.images, ref, at, opts);
  }
  /** The built-in stacks (stack/busybox, stack/node, stack/python), made or refreshed; the names made. */
  ensureStacks(log?: (msg: string) => void, only?: string[]): Promise<string[]> {
    return ensureStacks(this.images, log, only);
  }
}
