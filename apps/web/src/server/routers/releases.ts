/** Releases of an app, newest first. */
import { z } from "zod";
import { db } from "@paas/db";
import { appName } from "@paas/shared";
import { authorizeApp } from "../authz.ts";
import { createTRPCRouter, protectedProcedure } from "../trpc.ts";

export const releasesRouter = createTRPCRouter({
  list: protectedProcedure
    .input(z.object({ app: appName, limit: z.number().int().min(1).max(200).default(50) }))
    .query(async ({ ctx, input }) => {
      const app = await authorizeApp(ctx.principal, input.app, "read");
      const releases = await db.release.findMany({
        where: { appId: app.id },
        orderBy: { version: "desc" },
        take: input.limit,
        include: { build: { select: { id: true, commit: true } } },
      });
      return releases.map((r) => ({
        version: r.version,
        status: r.status,
        imageRef: r.imageRef,
        description: r.description,
        buildId: r.build?.id ?? null,
        commit: r.build?.commit ?? null,
        createdAt: r.createdAt,
      }));
    }),
});
