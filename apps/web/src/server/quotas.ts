/**
 * Team quotas: the one module that decides whether a team may have more of
 * something. Every entry point that creates apps calls it.
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

/** The rule itself, apart from the database: null when allowed, else why not. */
export function appQuotaViolation(team: string, current: number, limit: number): string | null {
  if (current < limit) return null;
  return `team "${team}" has reached its quota of ${limit} app${limit === 1 ? "" : "s"}: delete an app or ask an admin to raise it (paas quotas:set apps=N --team ${team})`;
}

/**
 * Throws QuotaError when the team cannot have one more app. Pass the
 * transaction that creates the app, so the count and the insert agree.
 */
export async function assertAppQuota(tx: Prisma.TransactionClient, team: { id: string; name: string }): Promise<void> {
  const quota = await tx.quota.findUnique({ where: { teamId: team.id } });
  const current = await tx.app.count({ where: { teamId: team.id } });
  const why = appQuotaViolation(team.name, current, quota?.apps ?? DEFAULT_APP_QUOTA);
  if (why) throw new QuotaError(why);
}
