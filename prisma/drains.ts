/**
 * Log drains' published copy: the Drain rows are the desired state, and what the worker's
 * deliveries follow is their copy in Redis (DRAINS_KEY, per app), with a message on
 * DRAINS_CHANGED. The one writer of that copy, imported as `@paas/db/drains` by the API (after
 * each drains:add / drains:remove) and by the reconcile pass (restoreDrains: a copy Redis lost
 * is made again, one left by an app that is gone is removed).
 */
import type { Redis } from "ioredis";
import { appLogKey, DRAINS_CHANGED, DRAINS_KEY, drainStatsKey } from "@paas/shared/app-log";
import { DRAIN_STAT_FIELDS, drainStatField, parseStreamInfo, type PublishedDrain } from "@paas/shared/drains";
import type { PrismaClient } from "./index.ts";

/** The app's log stream's end now: a new drain gets the lines from here on. */
async function streamEnd(redis: Redis, app: string): Promise<PublishedDrain["start"]> {
  const s = parseStreamInfo(await redis.xinfo("STREAM", appLogKey(app)).catch(() => null));
  return { id: s.lastId, ord: s.entriesAdded };
}

/** Publishes the app's drains as its rows are now (a drain published before keeps its start); the figures of drains gone go too. */
export async function publishDrains(client: PrismaClient, redis: Redis, app: { id: string; name: string }): Promise<void> {
  const rows = await client.drain.findMany({ where: { appId: app.id }, orderBy: { createdAt: "asc" } });
  const before = new Map<string, PublishedDrain>();
  try {
    for (const d of JSON.parse((await redis.hget(DRAINS_KEY, app.name)) ?? "[]") as PublishedDrain[]) before.set(d.id, d);
  } catch {
    /* not JSON: made anew */
  }
  const published: PublishedDrain[] = [];
  for (const r of rows) published.push({ id: r.id, url: r.url, start: before.get(r.id)?.start ?? (await streamEnd(redis, app.name)) });
  const m = redis.multi();
  if (published.length) m.hset(DRAINS_KEY, app.name, JSON.stringify(published));
  else m.hdel(DRAINS_KEY, app.name);
  const gone = [...before.keys()].filter((id) => !rows.some((r) => r.id === id));
  if (gone.length) m.hdel(drainStatsKey(app.name), ...gone.flatMap((id) => DRAIN_STAT_FIELDS.map((f) => drainStatField(id, f))));
  await m.publish(DRAINS_CHANGED, app.name).exec();
}

/**
 * Puts the published copy back in line where it cannot be racing a change the API is making:
 * an app with drains but no copy (Redis lost it) is published, a copy of an app without drains
 * (or gone) is removed. The copy is read before the rows, so a drains:add or drains:remove under
 * way is seen as done or not yet begun, never half. Returns the apps it published anew or removed.
 */
export async function restoreDrains(client: PrismaClient, redis: Redis): Promise<string[]> {
  const copied = new Set(Object.keys(await redis.hgetall(DRAINS_KEY)));
  const apps = await client.app.findMany({ where: { drains: { some: {} } }, select: { id: true, name: true } });
  const changed: string[] = [];
  for (const app of apps) {
    if (copied.has(app.name)) continue;
    await publishDrains(client, redis, app);
    changed.push(app.name);
  }
  const withDrains = new Set(apps.map((a) => a.name));
  for (const name of copied) {
    if (withDrains.has(name)) continue;
    // Read again: a first drain added since the copy was read is the API's to publish.
    if (await client.drain.count({ where: { app: { name } } })) continue;
    await redis.multi().hdel(DRAINS_KEY, name).publish(DRAINS_CHANGED, name).exec();
    changed.push(name);
  }
  return changed;
}
