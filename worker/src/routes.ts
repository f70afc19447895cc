/** The router's table in Redis: which replicas answer for which host. The one place that writes it. */
import type { Redis } from "ioredis";
import { config, ROUTES_CHANNEL, ROUTES_KEY, type RouteEntry } from "@paas/shared";

export const appHost = (app: string) => `${app}.${config().domain}`;

/** The host a preview app of `branch` answers at. */
export const previewHost = (branch: string, parent: string) => `${branch}.${appHost(parent)}`;

export async function publishHost(redis: Redis, host: string, app: string, backends: string[]): Promise<void> {
  const entry: RouteEntry = { app, backends };
  await redis.hset(ROUTES_KEY, host, JSON.stringify(entry));
  await redis.publish(ROUTES_CHANNEL, host);
}

/** Publishes an app's healthy replicas at its own host name. */
export const publishRoutes = (redis: Redis, app: string, backends: string[]) => publishHost(redis, appHost(app), app, backends);

/** Removes an app's routes (all hosts that point at it): the router answers "no such app" again. */
export async function unpublishApp(redis: Redis, app: string): Promise<void> {
  const all = await redis.hgetall(ROUTES_KEY);
  for (const [host, raw] of Object.entries(all)) {
    let entry: RouteEntry | null = null;
    try {
      entry = JSON.parse(raw) as RouteEntry;
    } catch {}
    if (entry?.app !== app) continue;
    await redis.hdel(ROUTES_KEY, host);
    await redis.publish(ROUTES_CHANNEL, host);
  }
}
