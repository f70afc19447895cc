/**
 * Image retention: an app keeps the images of its last N releases (distinct
 * images, newest first) plus any image a live release or a running replica
 * uses; older ones are removed through the agent so disks do not fill up.
 * The Dockerfile layer cache (`cache/<app>/df:<key>`, one image per step of
 * every build) follows: what the kept images were built from stays, the rest goes.
 */
import type { ImageInfo } from "@paas/shared";
import { db } from "@paas/db";
import { agentFor, pickHost } from "../hosts.ts";
import { CACHE_KEYS_LABEL, dfCacheName } from "../builders/dockerfile/cache.ts";

/** How many images an app keeps (PAAS_KEEP_IMAGES, default 5). */
export function keepImages(env: NodeJS.ProcessEnv = process.env): number {
  const n = Number(env.PAAS_KEEP_IMAGES || 5);
  return Number.isInteger(n) && n >= 1 ? n : 5;
}

/**
 * The rule itself, apart from I/O: which of `stored` (the app's image names on
 * a host) to remove, given its releases newest first and the images in use.
 */
export function imagesToRemove(
  stored: string[],
  releasesNewestFirst: { imageRef: string }[],
  inUse: Iterable<string>,
  keep: number,
): string[] {
  const kept = new Set(inUse);
  const recent: string[] = [];
  for (const r of releasesNewestFirst) {
    if (recent.length >= keep) break;
    if (!recent.includes(r.imageRef)) recent.push(r.imageRef);
  }
  for (const ref of recent) kept.add(ref);
  return stored.filter((name) => !kept.has(name));
}

/**
 * Which Dockerfile cache images of `app` to remove: every `cache/<app>/df:*` name that no
 * kept image lists in its CACHE_KEYS_LABEL (the steps its build used or made).
 */
export function cacheImagesToRemove(app: string, stored: string[], kept: Pick<ImageInfo, "config">[]): string[] {
  const keep = new Set(kept.flatMap((i) => (i.config.labels?.[CACHE_KEYS_LABEL] ?? "").split(" ").filter(Boolean).map((k) => dfCacheName(app, k))));
  const prefix = dfCacheName(app, "");
  return stored.filter((n) => n.startsWith(prefix) && !keep.has(n));
}

/** Image names of an app's builds: `app/<name>:<build id>`. */
const appImagePrefix = (app: string) => `app/${app}:`;

/** The app's images and its build cache (`cache/<name>/<kind>:<key>`): what goes when it is destroyed. */
export const isAppImage = (app: string, name: string) => name.startsWith(appImagePrefix(app)) || name.startsWith(`cache/${app}/`);

/** Removes the app's images that retention does not keep; returns their names. */
export async function collectImages(appId: string): Promise<string[]> {
  const app = await db.app.findUniqueOrThrow({ where: { id: appId } });
  const releases = await db.release.findMany({ where: { appId }, orderBy: { version: "desc" } });
  const live = releases.filter((r) => r.status === "active" || r.status === "deploying").map((r) => r.imageRef);
  const running = await db.container.findMany({
    where: { appId, state: { in: ["starting", "running", "restarting", "stopping"] } },
    include: { release: { select: { imageRef: true } } },
  });
  // Builds in progress have no release yet; never race them for their fresh image.
  const building = await db.build.findMany({ where: { appId, status: { in: ["pending", "building"] } } });
  const inUse = [...live, ...running.map((c) => c.release.imageRef), ...building.map((b) => `app/${app.name}:${b.id}`)];
  const agent = agentFor(await pickHost());
  const images = await agent.images();
  const stored = images.flatMap((i) => i.names).filter((n) => n.startsWith(appImagePrefix(app.name)));
  const doomed = imagesToRemove(stored, releases, inUse, keepImages());
  // A build in progress uses cache images no kept image lists yet: its app's cache waits for the next round.
  if (!building.length) {
    const kept = images.filter((i) => i.names.some((n) => n.startsWith(appImagePrefix(app.name)) && !doomed.includes(n)));
    doomed.push(...cacheImagesToRemove(app.name, images.flatMap((i) => i.names), kept));
  }
  const removed: string[] = [];
  for (const name of doomed) {
    try {
      await agent.removeImage(name);
      removed.push(name);
    } catch (err) {
      console.error(`image gc: could not remove ${name}: ${(err as Error).message}`);
    }
  }
  return removed;
}
