/** Teams the caller belongs to, with the caller's role and the team's quota. */
import { db } from "@paas/db";
import { visibleTeamIds } from "../authz.ts";
import { quotaOf } from "@paas/db/quotas";
import { createTRPCRouter, protectedProcedure } from "../trpc.ts";

export const teamsRouter = createTRPCRouter({
  list: protectedProcedure.query(async ({ ctx }) => {
    const ids = await visibleTeamIds(ctx.principal);
    const teams = await db.team.findMany({
      where: { id: { in: ids } },
      orderBy: { name: "asc" },
      include: {
        quota: true,
        memberships: { where: { userId: ctx.principal.userId } },
        _count: { select: { apps: true, memberships: true } },
      },
    });
    return Promise.all(
      teams.map(async (t) => ({
        name: t.name,
        role: t.memberships[0]?.role ?? null,
        apps: t._count.apps,
        members: t._count.memberships,
        quota: { apps: (t.quota ?? (await quotaOf(db, t.id))).apps },
        createdAt: t.createdAt,
      })),
    );
  }),
});
