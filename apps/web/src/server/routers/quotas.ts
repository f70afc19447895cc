/**
 * Team quotas: `paas quotas -t T` (each limit with the team's current use; members read it)
 * and `paas quotas:set NAME=VALUE ... --team T` (operators only, authz.ts "set-quotas").
 * The rules themselves are @paas/db/quotas; a change also goes to the kernel at once: the
 * team's cgroup caps on every host (the worker's reconcile pass repeats it).
 */
import { z } from "zod";
import { db } from "@paas/db";
import { QUOTA_FIELDS, quotaOf, setQuota, teamCgroupLimits, teamUsage, type QuotaLimits } from "@paas/db/quotas";
import { AgentClient, config, teamName } from "@paas/shared";
import { authorizeTeam } from "../authz.ts";
import { createTRPCRouter, protectedProcedure } from "../trpc.ts";

/** Above any host this platform runs on; stops a typo (memory=4000G) from meaning "no limit" by accident. */
const limit = (max: number) => z.int("a quota is a whole number").min(0, "a quota is 0 or more").max(max, `a quota is at most ${max}`);
const limitsInput = z
  .strictObject({
    apps: limit(10_000),
    replicas: limit(100_000),
    memoryMb: limit(64 * 1024 * 1024),
    cpuMillis: limit(10_000_000),
    storageMb: limit(1024 * 1024 * 1024),
    concurrentBuilds: limit(1000),
    buildMinutesPerDay: limit(24 * 60 * 1000),
    customDomains: limit(100_000),
    drainsPerApp: limit(1000),
    pids: limit(4_194_304),
  })
  .partial()
  .refine((l) => Object.keys(l).length > 0, "name at least one limit, e.g. apps=5");

/** A team's limits and use, and which limits its use is over (after a quota was lowered). */
async function view(team: { id: string; name: string }) {
  const [quota, usage] = await Promise.all([quotaOf(db, team.id), teamUsage(db, team.id)]);
  const limits = Object.fromEntries(QUOTA_FIELDS.map((f) => [f, quota[f]])) as QuotaLimits;
  const over = (Object.keys(usage) as (keyof typeof usage)[]).filter((f) => usage[f] > limits[f]);
  return { team: team.name, limits, usage, over };
}

/** The team's caps on every host now; returns the hosts that did not take them. */
async function applyCaps(team: { id: string; name: string }): Promise<string[]> {
  const caps = teamCgroupLimits(await quotaOf(db, team.id));
  const hosts = await db.host.findMany();
  const failed: string[] = [];
  await Promise.all(
    hosts.map((h) =>
      new AgentClient(h.agentUrl, config().agentToken)
        .setTeamLimits(team.name, caps)
        .catch((err: Error) => void failed.push(`${h.name} (${err.message})`)),
    ),
  );
  return failed;
}

export const quotasRouter = createTRPCRouter({
  get: protectedProcedure.input(z.object({ team: teamName })).query(async ({ ctx, input }) => {
    const team = await authorizeTeam(ctx.principal, input.team, "read");
    return view(team);
  }),

  /** Lowering a limit below the use is allowed: nothing stops, growth is refused until the use is below it. */
  set: protectedProcedure.input(z.object({ team: teamName, limits: limitsInput })).mutation(async ({ ctx, input }) => {
    const team = await authorizeTeam(ctx.principal, input.team, "set-quotas");
    await setQuota(db, team.id, input.limits);
    const failed = await applyCaps(team);
    // Saved either way (and audited as a change): the worker's reconcile pass sets the caps it could not.
    const warning = failed.length
      ? `the kernel's caps were not set on ${failed.join(", ")}: the worker's next reconcile pass sets them; check the agent there`
      : null;
    return { ...(await view(team)), warning };
  }),
});
