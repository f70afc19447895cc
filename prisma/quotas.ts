/**
 * Team quotas: the one module that decides whether a team may have more of something.
 * The web app (apps:create, the first push of a preview branch) and the worker (build
 * slots, deploys) import it as `@paas/db/quotas`.
 *
 * The limits are the team's Quota row. Their defaults live only in schema.prisma: a team
 * without a row gets one made here, so the database fills them in.
 *
 * Enforced: apps (creating an app or a preview app), concurrentBuilds (the build slot
 * scheduler), replicas and memoryMb (a deploy that would exceed them is refused).
 * cpuMillis and storageMb are not enforced yet (schema.prisma says so too).
 */
import type { Prisma, PrismaClient, Quota } from "./index.ts";

export class QuotaError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "QuotaError";
  }
}

type Client = PrismaClient | Prisma.TransactionClient;

/** What a team member can do about a limit today (no command sets quotas yet). */
const RAISE = "or ask the platform's operator to raise the team's quota (no command sets quotas yet)";

const plural = (n: number, what: string) => `${n} ${what}${n === 1 ? "" : "s"}`;

/** The team's limits: its Quota row, made with the schema's defaults when it has none. */
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
  const quota = await quotaOf(tx, team.id);
  const why = appQuotaViolation(team.name, await tx.app.count({ where: { teamId: team.id } }), quota.apps);
  if (why) throw new QuotaError(why);
}

/** How many builds of the team may run at once. */
export async function concurrentBuildLimit(client: Client, teamId: string): Promise<number> {
  return (await quotaOf(client, teamId)).concurrentBuilds;
}

export interface ReplicaUse {
  replicas: number;
  memoryMb: number;
}

/**
 * The deploy rule, apart from the database: `others` is what the team's other apps are
 * scaled to, `wanted` what the deployed app will run. Null when it fits, else why not.
 */
export function deployQuotaViolation(team: string, app: string, others: ReplicaUse, wanted: ReplicaUse, quota: ReplicaUse): string | null {
  const over: string[] = [];
  if (others.replicas + wanted.replicas > quota.replicas) {
    over.push(`${plural(quota.replicas, "replica")} (its other apps run ${others.replicas}, ${app} would run ${wanted.replicas})`);
  }
  if (others.memoryMb + wanted.memoryMb > quota.memoryMb) {
    over.push(`${quota.memoryMb} MB of memory (its other apps take ${others.memoryMb} MB, ${app} would take ${wanted.memoryMb} MB)`);
  }
  if (!over.length) return null;
  return `team "${team}" would exceed its quota of ${over.join(" and ")}: destroy or scale down an app it no longer needs ${RAISE}`;
}

/**
 * Throws QuotaError when deploying `app` with `formations` (its processes, scaled) would
 * take the team over its replicas or memory quota. Counted from the formations (what each
 * app is scaled to), not the containers running, so the replicas a rolling deploy starts
 * beside the old ones do not count twice.
 */
export async function assertDeployQuota(
  client: Client,
  app: { id: string; name: string; teamId: string; team: { name: string } },
  formations: { quantity: number; memoryMb: number }[],
): Promise<void> {
  const quota = await quotaOf(client, app.teamId);
  const others = await client.formation.findMany({ where: { app: { teamId: app.teamId }, appId: { not: app.id } }, select: { quantity: true, memoryMb: true } });
  const sum = (fs: { quantity: number; memoryMb: number }[]): ReplicaUse => ({
    replicas: fs.reduce((n, f) => n + f.quantity, 0),
    memoryMb: fs.reduce((n, f) => n + f.quantity * f.memoryMb, 0),
  });
  const why = deployQuotaViolation(app.team.name, app.name, sum(others), sum(formations), quota);
  if (why) throw new QuotaError(why);
}
