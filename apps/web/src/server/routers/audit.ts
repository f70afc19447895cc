/** The team's audit log (audit/record.ts writes it): `paas audit -t T`, the team's page. Team admins and operators. */
import { z } from "zod";
import { db } from "@paas/db";
import { teamName } from "@paas/shared";
import { authorizeTeam } from "../authz.ts";
import { createTRPCRouter, protectedProcedure } from "../trpc.ts";

export const auditRouter = createTRPCRouter({
  list: protectedProcedure.input(z.object({ team: teamName, limit: z.int().min(1).max(1000).default(50) })).query(async ({ ctx, input }) => {
    const team = await authorizeTeam(ctx.principal, input.team, "audit");
    const rows = await db.auditEvent.findMany({ where: { teamId: team.id }, orderBy: [{ createdAt: "desc" }, { id: "desc" }], take: input.limit });
    return rows.map((r) => ({
      id: r.id,
      at: r.createdAt,
      actor: r.actor,
      token: r.tokenPrefix,
      address: r.address,
      action: r.action,
      team: r.team,
      app: r.app,
      details: JSON.parse(r.details) as Record<string, unknown>,
      // "ok", "denied: <why>" or "failed: <why>" (audit/record.ts outcomeOf).
      outcome: r.outcome,
    }));
  }),
});
