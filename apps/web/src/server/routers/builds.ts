/** Builds of an app: the list, and one build with its log. */
import { TRPCError } from "@trpc/server";
import { z } from "zod";
import { db } from "@paas/db";
import { appName, config } from "@paas/shared";
import { authorizeApp } from "../authz.ts";
import { createTRPCRouter, protectedProcedure } from "../trpc.ts";

export const buildsRouter = createTRPCRouter({
  list: protectedProcedure
    .input(z.object({ app: appName, limit: z.number().int().min(1).max(200).default(50) }))
    .query(async ({ ctx, input }) => {
      const app = await authorizeApp(ctx.principal, input.app, "read");
      const builds = await db.build.findMany({
        where: { appId: app.id },
        orderBy: { createdAt: "desc" },
        take: input.limit,
        include: { user: { select: { email: true } } },
      });
      return builds.map((b) => ({
        id: b.id,
        status: b.status,
        commit: b.commit,
        message: b.message,
        builder: b.builder,
        error: b.error,
        user: b.user?.email ?? null,
        createdAt: b.createdAt,
        startedAt: b.startedAt,
        finishedAt: b.finishedAt,
      }));
    }),

  get: protectedProcedure
    .input(z.object({ app: appName, id: z.string().min(1).max(100) }))
    .query(async ({ ctx, input }) => {
      const app = await authorizeApp(ctx.principal, input.app, "read");
      const b = await db.build.findFirst({
        where: { id: input.id, appId: app.id },
        include: { user: { select: { email: true } }, releases: { select: { version: true } } },
      });
      if (!b) throw new TRPCError({ code: "NOT_FOUND", message: `build "${input.id}" of app "${input.app}" not found: see \`paas builds -a ${input.app}\`` });
      return {
        id: b.id,
        app: app.name,
        appUrl: config().appUrl(app.name),
        status: b.status,
        commit: b.commit,
        message: b.message,
        builder: b.builder,
        error: b.error,
        imageRef: b.imageRef,
        user: b.user?.email ?? null,
        log: b.log,
        releases: b.releases.map((r) => r.version),
        createdAt: b.createdAt,
        startedAt: b.startedAt,
        finishedAt: b.finishedAt,
      };
    }),
});
