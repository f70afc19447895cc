/**
 * Team quotas: the one module that decides whether a team may have more of something.
 * The web app (apps:create, the first push of a preview branch) and the worker (build
 * slots, deploys) import it as `@paas/db/quotas`.
 *
 * The limits are the team's Quota row. Their defaults live only in schema.prisma: a team
 * without a row gets one made here, so the database fills them in.
 *
 * Enforced: apps (creating an app or a preview app), concurrentBuilds (the build slot
 * scheduler), buildMinutesPerDay (a push, and a build's start), replicas, memoryMb and
 * cpuMillis (a deploy, ps:scale, ps:resize or sidecars:attach that would exceed them is refused
 * before anything starts; memory counts sidecars per replica), customDomains (domains:add),
 * storageMb (volumes:add: assertStorageQuota), drainsPerApp (drains:add: assertDrainQuota; a
 * limit on each app, not a sum: its use is the team's app with the most drains); all of those
 * when an operator moves an app into another team (moveApps).
 * memoryMb, cpuMillis and pids are also the kernel's caps on the team's cgroup
 * (teamCgroupLimits; the worker sets them on every host).
 *
 * Races: every check that counts and then adds runs in a transaction that first writes the
 * team's Quota row (lockTeam), so checks of one team take turns (SQLite's write lock, a row
 * lock on PostgreSQL) and two requests cannot both take the last unit. A deploy's replicas
 * are counted from the start of the deploy by a QuotaHold row (reserveDeployQuota), since
 * its Formation rows change only once the replicas serve.
 */
import type { Prisma, PrismaClient, Quota } from "./index.ts";
import { BUILD_MEMORY_MB, BUILD_PIDS } from "@paas/shared/sizes";
import { teamUse, teamUseByApp, useOf, type FormationUse } from "./formation.ts";

export class QuotaError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "QuotaError";
  }
}

type Client = PrismaClient | Prisma.TransactionClient;

/** What a team member can do about a limit. */
const RAISE = "or ask the platform's operator to raise the team's quota (paas quotas:set)";

const plural = (n: number, what: string) => `${n} ${what}${n === 1 ? "" : "s"}`;

/** The team's limits: its Quota row, made with the schema's defaults when it has none. */
/**
 * The team's Quota row, written first thing in `tx` so that counting checks of one team
 * take turns until `tx` ends (see the top of this file). Made with the defaults if missing.
 */
export async function lockTeam(tx: Prisma.TransactionClient, teamId: string): Promise<Quota> {
  return tx.quota.upsert({ where: { teamId }, create: { teamId }, update: { teamId } });
}

export async function quotaOf(client: Client, teamId: string): Promise<Quota> {
  const found = await client.quota.findUnique({ where: { teamId } });
  if (found) return found;
  return client.quota.create({ data: { teamId } }).catch(async (err: { code?: string }) => {
    // Made meanwhile by another request for the same team.
    if (err.code === "P2002") return client.quota.findUniqueOrThrow({ where: { teamId } });
    throw err;
  });
}

/**
 * The app rule, apart from the database: null when allowed, else why not. `current`
 * counts every app of the team, preview apps included: each runs replicas and holds images.
 */
export function appQuotaViolation(team: string, current: number, limit: number): string | null {
  if (current < limit) return null;
  return (
    `team "${team}" has reached its quota of ${plural(limit, "app")} (it has ${plural(current, "app")}, preview apps included): ` +
    `destroy an app it no longer needs (a preview app goes with \`git push paas :<branch>\`) ${RAISE}`
  );
}

/**
 * Throws QuotaError when the team cannot have one more app (an ordinary app or a preview
 * app). Pass the transaction that creates the app, so the count and the insert agree.
 */
export async function assertAppQuota(tx: Prisma.TransactionClient, team: { id: string; name: string }): Promise<void> {
  const quota = await lockTeam(tx, team.id);
  const why = appQuotaViolation(team.name, await tx.app.count({ where: { teamId: team.id } }), quota.apps);
  if (why) throw new QuotaError(why);
}

/** The custom domain rule, apart from the database: null when one more fits, else why not. */
export function domainQuotaViolation(team: string, current: number, limit: number): string | null {
  if (current < limit) return null;
  return (
    `team "${team}" has reached its quota of ${plural(limit, "custom domain")} (its apps have ${current}): ` +
    `remove one it no longer needs with \`paas domains:remove HOST -a APP\` ${RAISE}`
  );
}

/**
 * Throws QuotaError when the team's apps cannot have one more custom domain. Pass the
 * transaction that adds it, so the count and the insert agree.
 */
export async function assertDomainQuota(tx: Prisma.TransactionClient, team: { id: string; name: string }): Promise<void> {
  const quota = await lockTeam(tx, team.id);
  const why = domainQuotaViolation(team.name, await tx.domain.count({ where: { app: { teamId: team.id } } }), quota.customDomains);
  if (why) throw new QuotaError(why);
}

/** How many builds of the team may run at once. */
export async function concurrentBuildLimit(client: Client, teamId: string): Promise<number> {
  return (await quotaOf(client, teamId)).concurrentBuilds;
}

export type ReplicaUse = FormationUse;

/** Millicores as people write them (`--cpus 0.5`): "0.5 CPU", "4 CPUs". */
const cpus = (millis: number) => `${Number((millis / 1000).toFixed(3))} CPU${millis === 1000 ? "" : "s"}`;

/**
 * The deploy and scale rule, apart from the database: `others` is what the team's other apps
 * are scaled to, `wanted` what `app` will run. Null when it fits, else why not.
 */
export function deployQuotaViolation(team: string, app: string, others: ReplicaUse, wanted: ReplicaUse, quota: ReplicaUse): string | null {
  const over: string[] = [];
  if (others.replicas + wanted.replicas > quota.replicas) {
    over.push(`${plural(quota.replicas, "replica")} (its other apps run ${others.replicas}, ${app} would run ${wanted.replicas})`);
  }
  if (others.memoryMb + wanted.memoryMb > quota.memoryMb) {
    over.push(`${quota.memoryMb} MB of memory (its other apps take ${others.memoryMb} MB, ${app} would take ${wanted.memoryMb} MB)`);
  }
  if (others.cpuMillis + wanted.cpuMillis > quota.cpuMillis) {
    over.push(`${cpus(quota.cpuMillis)} (its other apps take ${cpus(others.cpuMillis)}, ${app} would take ${cpus(wanted.cpuMillis)})`);
  }
  if (!over.length) return null;
  return `team "${team}" would exceed its quota of ${over.join(" and ")}: destroy or scale down an app it no longer needs ${RAISE}`;
}

/**
 * Throws QuotaError when `app` running `formation` (its process types, as they would be
 * scaled and sized after a deploy or a ps change) would take the team over its replicas,
 * memory or CPU quota. Counted from the formations (formation.ts: what each app is scaled
 * to), not the containers running, so the replicas a rolling deploy starts beside the old
 * ones do not count twice. Each replica's memory counts its sidecars' too (one container of
 * each of the app's sidecars per replica, at its memory limit).
 */
export async function assertDeployQuota(
  client: Client,
  app: { id: string; name: string; teamId: string; team: { name: string } },
  formation: { quantity: number; memoryMb: number; cpuMillis: number }[],
  /** The memory of the app's sidecars per replica (default: the Sidecar rows'; sidecars:attach gives the set it will have). */
  sidecarMb?: number,
): Promise<void> {
  const quota = await quotaOf(client, app.teamId);
  sidecarMb ??= (await client.sidecar.findMany({ where: { appId: app.id }, select: { memoryMb: true } })).reduce((n, s) => n + s.memoryMb, 0);
  const why = deployQuotaViolation(app.team.name, app.name, await othersUse(client, app.teamId, app.id), useOf(formation, sidecarMb), quota);
  if (why) throw new QuotaError(why);
}

/** The storage rule, apart from the database: null when `wantedMb` more fits, else why not. */
export function storageQuotaViolation(team: string, usedMb: number, wantedMb: number, limitMb: number): string | null {
  if (usedMb + wantedMb <= limitMb) return null;
  return (
    `team "${team}" would exceed its storage quota of ${limitMb} MB (its volumes take ${usedMb} MB, this one would take ${wantedMb} MB): ` +
    `give it a smaller --size, or remove a volume it no longer needs with \`paas volumes:remove NAME -a APP\` ${RAISE}`
  );
}

/**
 * Throws QuotaError when the team's volumes cannot take `wantedMb` more (each volume counts
 * its size cap, whatever it holds). Pass the transaction that adds it, so the sum and the insert agree.
 */
export async function assertStorageQuota(tx: Prisma.TransactionClient, team: { id: string; name: string }, wantedMb: number): Promise<void> {
  const quota = await lockTeam(tx, team.id);
  const used = (await tx.appVolume.aggregate({ where: { app: { teamId: team.id } }, _sum: { sizeMb: true } }))._sum.sizeMb ?? 0;
  const why = storageQuotaViolation(team.name, used, wantedMb, quota.storageMb);
  if (why) throw new QuotaError(why);
}

/** The drains rule, apart from the database: null when `app` may have one more drain, else why not. */
export function drainQuotaViolation(team: string, app: string, current: number, limit: number): string | null {
  if (current < limit) return null;
  return (
    `${app} has ${plural(current, "drain")}, and team "${team}"'s quota is ${plural(limit, "drain")} per app: ` +
    `remove one it no longer needs with \`paas drains:remove URL -a ${app}\` ${RAISE}`
  );
}

/** Throws QuotaError when the app has as many drains as its team's quota allows; in the transaction that adds one. */
export async function assertDrainQuota(tx: Prisma.TransactionClient, app: { id: string; name: string; teamId: string; team: { name: string } }): Promise<void> {
  const quota = await lockTeam(tx, app.teamId);
  const why = drainQuotaViolation(app.team.name, app.name, await tx.drain.count({ where: { appId: app.id } }), quota.drainsPerApp);
  if (why) throw new QuotaError(why);
}

/** The most drains one of the team's apps has (the drains quota is per app). */
async function mostDrainsOfAnApp(client: Client, teamId: string): Promise<number> {
  const byApp = await client.drain.groupBy({ by: ["appId"], where: { app: { teamId } }, _count: { _all: true } });
  return byApp.reduce((most, g) => Math.max(most, g._count._all), 0);
}

/** A hold older than this is from a deploy that died with its worker: no longer counted. */
export const HOLD_TTL_MS = 30 * 60_000;

/**
 * What the team's apps other than `appId` take: per app, the larger of its formation and a
 * live hold of a deploy of it (which may still fail and leave the formation as it is).
 */
async function othersUse(client: Client, teamId: string, appId: string): Promise<ReplicaUse> {
  const [byApp, holds] = await Promise.all([
    teamUseByApp(client, teamId),
    client.quotaHold.findMany({ where: { teamId, appId: { not: appId }, createdAt: { gt: new Date(Date.now() - HOLD_TTL_MS) } } }),
  ]);
  const use: ReplicaUse = { replicas: 0, memoryMb: 0, cpuMillis: 0 };
  for (const [id, f] of byApp) {
    if (id === appId) continue;
    const h = holds.find((x) => x.appId === id);
    use.replicas += Math.max(f.replicas, h?.replicas ?? 0);
    use.memoryMb += Math.max(f.memoryMb, h?.memoryMb ?? 0);
    use.cpuMillis += Math.max(f.cpuMillis, h?.cpuMillis ?? 0);
  }
  return use;
}

/**
 * The deploy rule with no race: checks `formation` as assertDeployQuota does, with the team
 * locked, and holds the room until releaseDeployQuota (the deploy lock's end), so that a
 * deploy of another app of the team meanwhile counts it. Throws QuotaError.
 */
export async function reserveDeployQuota(
  client: PrismaClient,
  app: { id: string; name: string; teamId: string; team: { name: string } },
  formation: { quantity: number; memoryMb: number; cpuMillis: number }[],
): Promise<void> {
  await client.$transaction(async (tx) => {
    // The write first: a transaction that holds a read lock when it first writes gets SQLITE_BUSY
    // ("Operation has timed out") at once, without waiting, when another connection is writing
    // meanwhile (SQLite's deadlock rule), as the web's audit rows of refused scale-ups were.
    const quota = await lockTeam(tx, app.teamId);
    const sidecarMb = (await tx.sidecar.findMany({ where: { appId: app.id }, select: { memoryMb: true } })).reduce((n, x) => n + x.memoryMb, 0);
    const wanted = useOf(formation, sidecarMb);
    const why = deployQuotaViolation(app.team.name, app.name, await othersUse(tx, app.teamId, app.id), wanted, quota);
    if (why) throw new QuotaError(why);
    const data = { teamId: app.teamId, ...wanted, createdAt: new Date() };
    await tx.quotaHold.upsert({ where: { appId: app.id }, create: { appId: app.id, ...data }, update: data });
  });
}

/** The deploy of the app is over (its Formation rows say what runs): its hold goes. */
export async function releaseDeployQuota(client: Client, appId: string): Promise<void> {
  await client.quotaHold.deleteMany({ where: { appId } });
}

/** The start of the quota day: 00:00 UTC. */
export const quotaDayStart = (now = new Date()) => new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate()));

/** Minutes of build time the team's builds took since 00:00 UTC (a running build counts until now). */
export async function buildMinutesToday(client: Client, teamId: string, now = new Date()): Promise<number> {
  const builds = await client.build.findMany({
    where: { app: { teamId }, startedAt: { not: null }, OR: [{ finishedAt: null }, { finishedAt: { gte: quotaDayStart(now) } }] },
    select: { startedAt: true, finishedAt: true, status: true },
  });
  const day = quotaDayStart(now).getTime();
  let ms = 0;
  for (const b of builds) {
    // A build row left "building" by a dead worker would count forever: only running ones count to now.
    const end = b.finishedAt?.getTime() ?? (b.status === "building" ? now.getTime() : b.startedAt!.getTime());
    ms += Math.max(0, end - Math.max(day, b.startedAt!.getTime()));
  }
  return ms / 60_000;
}

/** The build-minutes rule apart from the database. */
export function buildMinutesViolation(team: string, usedMinutes: number, limit: number): string | null {
  if (usedMinutes < limit) return null;
  return (
    `team "${team}" has used its quota of ${limit} build minutes today (${Math.floor(usedMinutes)} used since 00:00 UTC): ` +
    `push again after midnight UTC ${RAISE}`
  );
}

/** Throws QuotaError when the team has used its build minutes of the day (a push, a build's start). */
export async function assertBuildMinutes(client: Client, team: { id: string; name: string }): Promise<void> {
  const quota = await quotaOf(client, team.id);
  const why = buildMinutesViolation(team.name, await buildMinutesToday(client, team.id), quota.buildMinutesPerDay);
  if (why) throw new QuotaError(why);
}

/** The quota's fields people set (quotas:set NAME=VALUE), with how each is counted. */
export const QUOTA_FIELDS = ["apps", "replicas", "memoryMb", "cpuMillis", "storageMb", "concurrentBuilds", "buildMinutesPerDay", "customDomains", "drainsPerApp", "pids"] as const;
export type QuotaField = (typeof QUOTA_FIELDS)[number];
export type QuotaLimits = Record<QuotaField, number>;

/** Sets some of the team's limits; below the current use is allowed (it stops growth only). */
export async function setQuota(client: PrismaClient, teamId: string, limits: Partial<QuotaLimits>): Promise<Quota> {
  return client.quota.upsert({ where: { teamId }, create: { teamId, ...limits }, update: limits });
}

/** What the team uses of each limit now (pids: the kernel's to count, not shown). */
export async function teamUsage(client: Client, teamId: string): Promise<Omit<QuotaLimits, "pids">> {
  const [apps, formation, domains, building, minutes, storage, drains] = await Promise.all([
    client.app.count({ where: { teamId } }),
    teamUse(client, teamId),
    client.domain.count({ where: { app: { teamId } } }),
    client.build.count({ where: { app: { teamId }, status: "building" } }),
    buildMinutesToday(client, teamId),
    client.appVolume.aggregate({ where: { app: { teamId } }, _sum: { sizeMb: true } }),
    mostDrainsOfAnApp(client, teamId),
  ]);
  return {
    apps,
    replicas: formation.replicas,
    memoryMb: formation.memoryMb,
    cpuMillis: formation.cpuMillis,
    storageMb: storage._sum.sizeMb ?? 0,
    concurrentBuilds: building,
    // Up to the next tenth: a build of a few seconds is use, not 0.
    buildMinutesPerDay: Math.ceil(minutes * 10) / 10,
    customDomains: domains,
    drainsPerApp: drains,
  };
}

/** The limits a move of apps into a team must hold (the rest are the team's own doing: builds, build minutes). */
const MOVE_FIELDS = ["apps", "replicas", "memoryMb", "cpuMillis", "storageMb", "customDomains", "drainsPerApp"] as const;
const MOVE_UNITS: Record<(typeof MOVE_FIELDS)[number], (n: number) => string> = {
  apps: (n) => plural(n, "app"),
  replicas: (n) => plural(n, "replica"),
  memoryMb: (n) => `${n} MB of memory`,
  cpuMillis: cpus,
  storageMb: (n) => `${n} MB of volume storage`,
  customDomains: (n) => plural(n, "custom domain"),
  drainsPerApp: (n) => `${plural(n, "drain")} per app`,
};

/**
 * The move rule, apart from the database: `before` and `after` are the team's use without and
 * with the apps moved in. Null when it fits, else why not. A limit the team was over already
 * and the move does not add to is no reason to refuse (as a lowered quota stops growth only).
 */
export function moveQuotaViolation(team: string, app: string, before: Omit<QuotaLimits, "pids">, after: Omit<QuotaLimits, "pids">, quota: Pick<Quota, (typeof MOVE_FIELDS)[number]>): string | null {
  const over = MOVE_FIELDS.filter((f) => after[f] > quota[f] && after[f] > before[f]).map((f) =>
    // Drains are counted per app: the most of one app, not a sum.
    f === "drainsPerApp"
      ? `${MOVE_UNITS[f](quota[f])} (${app} or a preview of it has ${plural(after[f], "drain")})`
      : `${MOVE_UNITS[f](quota[f])} (it has ${MOVE_UNITS[f](before[f])}, ${app} brings ${MOVE_UNITS[f](after[f] - before[f])})`,
  );
  if (!over.length) return null;
  return `team "${team}" cannot take ${app}: it would exceed its quota of ${over.join(" and ")}; raise the team's quota first (paas quotas:set), or scale ${app} down`;
}

/**
 * Moves an app and its preview apps into `team` in one transaction, refused with QuotaError
 * (and nothing moved) when the team's quotas would not hold with them: the same counting as
 * everywhere else (teamUsage), before and after the move inside the transaction.
 */
export async function moveApps(client: PrismaClient, app: { id: string; name: string }, team: { id: string; name: string }): Promise<void> {
  await client.$transaction(async (tx) => {
    const quota = await lockTeam(tx, team.id);
    const before = await teamUsage(tx, team.id);
    await tx.app.updateMany({ where: { OR: [{ id: app.id }, { previewOfId: app.id }] }, data: { teamId: team.id } });
    const why = moveQuotaViolation(team.name, app.name, before, await teamUsage(tx, team.id), quota);
    if (why) throw new QuotaError(why);
  });
}

/**
 * The kernel's caps on the team's cgroup (agent PUT /v1/cgroups/:team), from its quota. The
 * team's builds run in that cgroup too, each under its own limits: the caps add room for the
 * builds it may run at once, so a build does not eat into what the quota gives the apps.
 */
export function teamCgroupLimits(quota: Pick<Quota, "memoryMb" | "cpuMillis" | "pids" | "concurrentBuilds">): { memoryBytes: number; cpuMillis: number; pids: number } {
  return {
    memoryBytes: (quota.memoryMb + quota.concurrentBuilds * BUILD_MEMORY_MB) * 2 ** 20,
    cpuMillis: quota.cpuMillis,
    pids: quota.pids + quota.concurrentBuilds * BUILD_PIDS,
  };
}
