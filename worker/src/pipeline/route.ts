/**
 * route: point the app's hosts at the new replicas and make the release the
 * active one, or neither. Also the router's table in Redis (which replicas
 * answer for which host): this file is the one place that writes it.
 */
import type { Redis } from "ioredis";
import { db, type Prisma } from "@paas/db";
import { appHostName, config, previewHostName, ROUTES_CHANNEL, ROUTES_KEY, type RouteEntry } from "@paas/shared";
import type { BuildLog } from "../build-log.ts";
import { claimFence, HOLDS_LUA, LeaseLostError, type DeployLease } from "../deploy-lock.ts";
import type { ReleaseOfApp, Replica } from "./deploy.ts";
import type { Step } from "./runner.ts";

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

/** Writes that must land only if the release goes live (a config change, a rollback's config). */
export type OnCommit = (tx: Prisma.TransactionClient) => Promise<void>;

export interface RouteInput {
  redis: Redis;
  release: ReleaseOfApp;
  replicas: Replica[];
  lease: DeployLease;
  log: BuildLog;
  onCommit?: OnCommit;
}

export const route: Step<RouteInput, void> = {
  name: "route",
  async run({ redis, release, replicas, lease, log, onCommit }) {
    const app = release.app;
    // The app's host, and a preview's also at <branch>.<parent>.<domain>.
    const hosts = [appHost(app.name), ...(app.previewOf && app.previewBranch ? [previewHost(app.previewBranch, app.previewOf.name)] : [])];
    const addresses = replicas.map((c) => c.address);
    log.step(`Routing ${hosts.join(", ")} to ${addresses.join(", ")}`);
    const before = await Promise.all(hosts.map((h) => readHost(redis, h)));
    let switched = false;
    try {
      for (const h of hosts) {
        switched = true;
        await publishHost(redis, h, app.name, addresses, lease);
      }
      // The commit: fence, statuses and the caller's writes at once, or none of them.
      await db.$transaction(async (tx) => {
        await claimFence(tx, lease);
        await tx.release.updateMany({ where: { appId: app.id, status: "active" }, data: { status: "superseded" } });
        await tx.release.update({ where: { id: release.id }, data: { status: "active", error: null } });
        await onCommit?.(tx);
      });
    } catch (err) {
      // Switch back, unless the lease went (a newer deploy owns the routes now).
      if (switched && !(err instanceof LeaseLostError)) {
        for (const [i, h] of hosts.entries()) await restoreHost(redis, h, before[i], lease).catch(() => {});
      }
      throw err;
    }
  },
};
