/** The router's table in Redis: which replicas answer for which host. The one place that writes it. */
import type { Redis } from "ioredis";
import { appHostName, config, previewHostName, ROUTES_CHANNEL, ROUTES_KEY, type RouteEntry } from "@paas/shared";
import { HOLDS_LUA, LeaseLostError, type DeployLease } from "./deploy-lock.ts";

export const appHost = (app: string) => appHostName(app, config().domain);

/** The host a preview app answers at besides its own (`label`: its branch's, naming.ts). */
export const previewHost = (label: string, parent: string) => previewHostName(label, parent, config().domain);

// KEYS: routes hash, lease queue, lease heartbeat. ARGV: host, entry ('' removes it), channel, ticket.
const PUBLISH_FENCED = `${HOLDS_LUA}
if not holds(KEYS[2], KEYS[3], ARGV[4]) then return 0 end
if ARGV[2] == '' then redis.call('HDEL', KEYS[1], ARGV[1]) else redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) end
redis.call('PUBLISH', ARGV[3], ARGV[1])
return 1
`;

async function writeFenced(redis: Redis, host: string, entry: string, lease: DeployLease): Promise<void> {
  const { queue, alive, ticket } = lease.guard;
  const ok = await redis.eval(PUBLISH_FENCED, 3, ROUTES_KEY, queue, alive, host, entry, ROUTES_CHANNEL, ticket);
  if (ok !== 1) throw new LeaseLostError("this deploy's lease on the app ran out before the switch (the worker stalled); nothing was switched");
}

/** The table's entry for `host` as stored (null: none), to put back with restoreHost. */
export const readHost = (redis: Redis, host: string): Promise<string | null> => redis.hget(ROUTES_KEY, host);

/** Puts back what readHost returned, while the lease holds: a deploy that failed after its switch. */
export const restoreHost = (redis: Redis, host: string, saved: string | null, lease: DeployLease) =>
  writeFenced(redis, host, saved ?? "", lease);

/**
 * Points `host` at `backends`. A deploy passes its lease: the switch happens
 * only while the lease holds (atomically, in Redis), so a deploy that lost its
 * turn cannot switch the router over a newer one.
 */
export async function publishHost(redis: Redis, host: string, app: string, backends: string[], lease?: DeployLease): Promise<void> {
  const entry = JSON.stringify({ app, backends } satisfies RouteEntry);
  if (lease) return writeFenced(redis, host, entry, lease);
  await redis.hset(ROUTES_KEY, host, entry);
  await redis.publish(ROUTES_CHANNEL, host);
}

/** Publishes an app's healthy replicas at its own host name. */
export const publishRoutes = (redis: Redis, app: string, backends: string[], lease?: DeployLease) =>
  publishHost(redis, appHost(app), app, backends, lease);

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
