/**
 * Team quotas: the one module that decides whether a team may have more of
 * something. Every entry point that creates apps calls it: `apps:create` and
 * the first push of a preview branch.
 */
import type { Prisma } from "@paas/db";

export class QuotaError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "QuotaError";
  }
}

/** Teams without a Quota row get the schema's defaults. */
export const DEFAULT_APP_QUOTA = 10;

/**
 * The rule itself, apart from the database: null when allowed, else why not.
 * `current` counts every app of the team, preview apps included: each runs
 * replicas and holds images of its own.
 */
export function appQuotaViolation(team: string, current: number, limit: number): string | null {
  if (current < limit) return null;
  const apps = (n: number) => `${n} app${n === 1 ? "" : "s"}`;
  return (
    `team "${team}" has reached its quota of ${apps(limit)} (it has ${apps(current)}, preview apps included): ` +
    `destroy an app it no longer needs (a preview app goes with \`git push paas :<branch>\`) ` +
    `or ask a team admin to raise the quota (paas quotas:set apps=N --team ${team})`
  );
}

/**
 * Throws QuotaError when the team cannot have one more app (an ordinary app or
 * a preview app). Pass the transaction that creates the app, so the count and
 * the insert agree.
 */
export async function assertAppQuota(tx: Prisma.TransactionClient, team: { id: string; name: string }): Promise<void> {
  const quota = await tx.quota.findUnique({ where: { teamId: team.id } });
  const current = await tx.app.count({ where: { teamId: team.id } });
  const why = appQuotaViolation(team.name, current, quota?.apps ?? DEFAULT_APP_QUOTA);
  if (why) throw new QuotaError(why);
}
