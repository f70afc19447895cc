/**
 * The host-wide cache of stack layers, keyed by what made them (a recipe, the apt sources, a
 * host binary's fingerprint, the layers below): every data dir (the agent's, each test's)
 * gets a layer as hard links (cp -al) instead of building it again, which for the Debian
 * layers means minutes of mmdebstrap and apt. Layers are read-only lower dirs, so sharing
 * inodes is safe.
 *
 * Use:
 *   const digest = await cachedLayer(store, `run ${recipeHash}`, () => buildIt(store));
 *
 * A key is built by one process at a time: the first takes an flock on `<key>.lock` and the
 * others wait for it, then find the layer cached. The lock is the kernel's (held by a child
 * `flock` process tied to ours), so a build that dies releases it.
 */
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import type { ImageStore } from "../images.ts";
import { RuntimeError, exists, randomHex, run, runOk } from "../util.ts";

export function stackCacheRoot(): string {
  return process.env.PAAS_STACK_CACHE || "/var/cache/paas-runtime/stacks";
}

interface CachedLayer {
  digest: string;
  size: number;
  key: string;
}

/**
 * Holds an exclusive flock on `file` until the returned release() (or this process's end).
 * `flock` (util-linux) holds it for as long as its `cat` reads our pipe.
 */
async function lockFile(file: string): Promise<() => void> {
  const p = spawn("flock", ["-x", file, "sh", "-c", "echo locked; exec cat"], { stdio: ["pipe", "pipe", "pipe"] });
  let err = "";
  p.stderr.on("data", (d) => (err += d));
  await new Promise<void>((resolve, reject) => {
    p.stdout.once("data", () => resolve());
    p.once("error", (e) => reject(new RuntimeError(`cannot lock ${file}: ${e.message} (is util-linux's flock installed?)`)));
    p.once("exit", (code) => reject(new RuntimeError(`cannot lock ${file}: flock exited ${code} ${err.trim()}`)));
  });
  p.removeAllListeners("exit");
  return () => p.stdin.end();
}

/** Hard links when `src` and `dest` are on one filesystem, else a copy. */
async function linkOrCopy(src: string, dest: string): Promise<void> {
  if ((await run("cp", ["-al", src, dest])).code === 0) return;
  fs.rmSync(dest, { recursive: true, force: true });
  await runOk("cp", ["-a", src, dest]);
}

/** The layer into `store` from the cache dir. */
async function adopt(store: ImageStore, dir: string, cached: CachedLayer): Promise<void> {
  const tmp = path.join(store.layout.tmp, `stack-${randomHex(6)}`);
  await linkOrCopy(path.join(dir, "layer"), tmp);
  store.adoptLayer(tmp, cached.digest, cached.size);
}

function readCached(dir: string): CachedLayer | undefined {
  try {
    const c = JSON.parse(fs.readFileSync(path.join(dir, "layer.json"), "utf8")) as CachedLayer;
    return exists(path.join(dir, "layer")) ? c : undefined;
  } catch {
    return undefined;
  }
}

/** The layer `key` names: from the store, else the cache, else `build()` (then cached). */
export async function cachedLayer(store: ImageStore, key: string, build: () => Promise<string>): Promise<string> {
  const root = stackCacheRoot();
  const dir = path.join(root, createHash("sha256").update(key).digest("hex").slice(0, 24));
  const hit = readCached(dir);
  if (hit && store.hasLayer(hit.digest)) return hit.digest;
  if (hit) {
    await adopt(store, dir, hit);
    return hit.digest;
  }
  let release: (() => void) | undefined;
  try {
    fs.mkdirSync(root, { recursive: true });
    release = await lockFile(`${dir}.lock`);
  } catch {
    // no cache here (read-only /var): this data dir builds its own
    return build();
  }
  try {
    // another process may have built it while we waited for the lock
    const now = readCached(dir);
    if (now) {
      if (!store.hasLayer(now.digest)) await adopt(store, dir, now);
      return now.digest;
    }
    const digest = await build();
    const tmp = `${dir}.tmp-${randomHex(4)}`;
    fs.mkdirSync(tmp, { recursive: true });
    await linkOrCopy(store.layout.layer(digest), path.join(tmp, "layer"));
    fs.writeFileSync(path.join(tmp, "layer.json"), JSON.stringify({ digest, size: store.layerSize(digest), key } satisfies CachedLayer));
    fs.rmSync(dir, { recursive: true, force: true });
    fs.renameSync(tmp, dir);
    return digest;
  } finally {
    release();
  }
}
