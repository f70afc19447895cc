/**
 * route: point the app's hosts at the new replicas and make the release the
 * active one, or neither. Also the router's table in Redis (which replicas
 * answer for which host): this file is the one place that writes it.
 */
import type { Redis } from "ioredis";
import { db, type Prisma } from "@paas/db";
import { appHostName, config, previewHostName, ROUTES_APPLIED_KEY, ROUTES_CHANNEL, ROUTES_KEY, ROUTES_SERIAL_KEY, type RouteEntry } from "@paas/shared";
import type { BuildLog } from "../build-log.ts";
import { claimFence, HOLDS_LUA, LeaseLostError, type DeployLease } from "../deploy-lock.ts";
import type { ReleaseOfApp, Replica } from "./deploy.ts";
import type { Step } from "./runner.ts";

export const appHost = (app: string) => appHostName(app, config().domain);

/** The host a preview app answers at besides its own (`label`: its branch's, naming.ts). */
export const previewHost = (label: string, parent: string) => previewHostName(label, parent, config().domain);

// KEYS: routes hash, serial, and with a lease its queue and heartbeat. ARGV: host, entry ('' removes
// it), channel, ticket. Returns the change's serial, or 0 when the lease does not hold.
const WRITE_ROUTE = `${HOLDS_LUA}
if #KEYS > 2 and not holds(KEYS[3], KEYS[4], ARGV[4]) then return 0 end
if ARGV[2] == '' then redis.call('HDEL', KEYS[1], ARGV[1]) else redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) end
local serial = redis.call('INCR', KEYS[2])
redis.call('PUBLISH', ARGV[3], serial .. ' ' .. ARGV[1])
return serial
`;

/**
 * Writes `host`'s entry ('' removes it) and announces it to the router, at once; with a lease,
 * only while it holds (so a deploy that lost its turn cannot switch the router over a newer
 * one). Returns the change's serial, for waitForRouter.
 */
async function writeRoute(redis: Redis, host: string, entry: string, lease?: DeployLease): Promise<number> {
  const keys = lease ? [ROUTES_KEY, ROUTES_SERIAL_KEY, lease.guard.queue, lease.guard.alive] : [ROUTES_KEY, ROUTES_SERIAL_KEY];
  const serial = Number(await redis.eval(WRITE_ROUTE, keys.length, ...keys, host, entry, ROUTES_CHANNEL, lease?.guard.ticket ?? ""));
  if (serial === 0) throw new LeaseLostError("this deploy's lease on the app ran out before the switch (the worker stalled); nothing was switched");
  return serial;
}

/** How long a deploy waits for the router to serve its switch (PAAS_ROUTER_APPLY_TIMEOUT_MS). */
const applyTimeoutMs = () => Number(process.env.PAAS_ROUTER_APPLY_TIMEOUT_MS) || 15_000;

/**
 * Waits until the router serves the table as of change `serial` (it acknowledges in
 * ROUTES_APPLIED_KEY), so that "Deployed" means the new release answers. True if it did within
 * the timeout; false if not (no router running, or one stalled): the change is in the table and
 * the router applies it when it can.
 */
export async function waitForRouter(redis: Redis, serial: number, timeoutMs = applyTimeoutMs()): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (Number(await redis.get(ROUTES_APPLIED_KEY)) >= serial) return true;
    if (Date.now() >= deadline) return false;
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** The table's entry for `host` as stored (null: none), to put back with restoreHost. */
export const readHost = (redis: Redis, host: string): Promise<string | null> => redis.hget(ROUTES_KEY, host);

/** Puts back what readHost returned, while the lease holds: a deploy that failed after its switch. */
export const restoreHost = (redis: Redis, host: string, saved: string | null, lease: DeployLease) =>
  writeRoute(redis, host, saved ?? "", lease);

/**
 * Points `host` at `backends` (`cert`: the sha256 of a custom domain's certificate file, which
 * the router serves for TLS to that host); with a lease, only while it holds. Returns the
 * change's serial.
 */
export function publishHost(redis: Redis, host: string, app: string, backends: string[], lease?: DeployLease, cert?: string): Promise<number> {
  return writeRoute(redis, host, JSON.stringify({ app, backends, ...(cert ? { cert } : {}) } satisfies RouteEntry), lease);
}

/** Publishes an app's healthy replicas at its own host name only (publishAppRoutes: all its hosts). */
export const publishRoutes = (redis: Redis, app: string, backends: string[], lease?: DeployLease) =>
  publishHost(redis, appHost(app), app, backends, lease);

const parseEntry = (raw: string | null): RouteEntry | null => {
  try {
    return raw ? (JSON.parse(raw) as RouteEntry) : null;
  } catch {
    return null;
  }
};

/** The hosts the table points at `app` now. */
async function publishedHosts(redis: Redis, app: string): Promise<string[]> {
  const all = await redis.hgetall(ROUTES_KEY);
  return Object.entries(all).flatMap(([host, raw]) => (parseEntry(raw)?.app === app ? [host] : []));
}

/** Removes an app's routes (all hosts that point at it): the router answers "no such app" again. */
export async function unpublishApp(redis: Redis, app: string): Promise<void> {
  for (const host of await publishedHosts(redis, app)) await writeRoute(redis, host, "");
}

/** What `publishAppRoutes` is given: the app, and its preview parent when it is a preview. */
export interface RoutedApp {
  id: string;
  name: string;
  previewBranch?: string | null;
  previewOf?: { name: string } | null;
}

export interface HostRoute {
  host: string;
  /** The sha256 of the host's certificate file (custom domains with one). */
  cert?: string;
}

/** Every host an app answers at: its own, a preview's `<branch>.<parent>` host, its custom domains. */
export async function appHosts(app: RoutedApp): Promise<HostRoute[]> {
  const domains = await db.domain.findMany({ where: { appId: app.id }, orderBy: { hostname: "asc" } });
  return [
    { host: appHost(app.name) },
    ...(app.previewOf && app.previewBranch ? [{ host: previewHost(app.previewBranch, app.previewOf.name) }] : []),
    ...domains.map((d) => ({ host: d.hostname, ...(d.certSha256 ? { cert: d.certSha256 } : {}) })),
  ];
}

export interface AppRoutesPlan {
  hosts: HostRoute[];
  /** Hosts the table points at the app that are not its any more (a removed domain). */
  stale: string[];
}

export async function planAppRoutes(redis: Redis, app: RoutedApp): Promise<AppRoutesPlan> {
  const hosts = await appHosts(app);
  const stale = (await publishedHosts(redis, app.name)).filter((h) => !hosts.some((x) => x.host === h));
  return { hosts, stale };
}

/** Points every host of `plan` at `backends` and removes its stale ones, while the lease holds. Returns the last change's serial. */
export async function writeAppRoutes(redis: Redis, app: string, plan: AppRoutesPlan, backends: string[], lease: DeployLease): Promise<number> {
  let serial = 0;
  for (const h of plan.hosts) serial = await publishHost(redis, h.host, app, backends, lease, h.cert);
  for (const h of plan.stale) serial = await writeRoute(redis, h, "", lease);
  return serial;
}

/**
 * The app's custom domains changed (domains:add/remove, certs:add; jobs/deploys.ts runs this
 * under the app's deploy lock): its hosts are published again at the replicas its own host
 * serves now, and hosts that are not its any more leave the table. An app not deployed yet
 * gets its domains with its first deploy. Returns what changed, for the job's log.
 */
export async function syncAppRoutes(redis: Redis, app: RoutedApp, lease: DeployLease): Promise<string> {
  const plan = await planAppRoutes(redis, app);
  const own = parseEntry(await readHost(redis, appHost(app.name)));
  const routed = own ? plan : { hosts: [], stale: plan.stale };
  await writeAppRoutes(redis, app.name, routed, own?.backends ?? [], lease);
  const parts = [
    ...(own ? [`routed ${plan.hosts.map((h) => h.host).join(", ")}`] : ["not deployed yet: its domains are routed from its first deploy"]),
    ...(plan.stale.length ? [`removed ${plan.stale.join(", ")}`] : []),
  ];
  return `${app.name}: ${parts.join("; ")}`;
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

/** The hosts an app answers at: its own, and a preview's also at <branch>.<parent>.<domain>. */
export const routeHosts = (app: { name: string; previewBranch: string | null; previewOf: { name: string } | null }) => [
  appHost(app.name),
  ...(app.previewOf && app.previewBranch ? [previewHost(app.previewBranch, app.previewOf.name)] : []),
];

/** The backends published for `host` (null: no entry). */
export async function publishedBackends(redis: Redis, host: string): Promise<string[] | null> {
  const raw = await readHost(redis, host);
  if (raw === null) return null;
  try {
    return (JSON.parse(raw) as RouteEntry).backends;
  } catch {
    return null;
  }
}

export const route: Step<RouteInput, void> = {
  name: "route",
  async run({ redis, release, replicas, lease, log, onCommit }) {
    const app = release.app;
    // The app's host, a preview's also at <branch>.<parent>.<domain>, and its custom domains;
    // hosts that are not the app's any more (a domain removed meanwhile) leave the table.
    const plan = await planAppRoutes(redis, app);
    const touched = [...plan.hosts.map((h) => h.host), ...plan.stale];
    const addresses = replicas.map((c) => c.address);
    log.step(`Routing ${plan.hosts.map((h) => h.host).join(", ")} to ${addresses.join(", ")}`);
    const before = await Promise.all(touched.map((h) => readHost(redis, h)));
    let switched = false;
    try {
      switched = true;
      const serial = await writeAppRoutes(redis, app.name, plan, addresses, lease);
      // "Deployed" means the new release answers: the router has applied the switch.
      if (!(await waitForRouter(redis, serial))) {
        log.info(`The router has not applied the switch within ${applyTimeoutMs() / 1000} s (is it running? ./infra/status); it will serve the new release once it does`);
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
        for (const [i, h] of touched.entries()) await restoreHost(redis, h, before[i], lease).catch(() => {});
      }
      throw err;
    }
  },
};
