/**
 * An app's log drains: `paas drains`, `drains:add URL`, `drains:remove URL`. The Drain rows are
 * the desired state; after each change the app's drains are published in Redis (@paas/db/drains)
 * and the worker's deliveries (worker/src/drains) follow within a moment. Their figures come back
 * in drainStatsKey(app). URLs are shown masked (passwords, tokens); the audit log masks them too
 * (audit/record.ts).
 */
import { TRPCError } from "@trpc/server";
import { z } from "zod";
import { db } from "@paas/db";
import { publishDrains } from "@paas/db/drains";
import { assertDrainQuota } from "@paas/db/quotas";
import { appName } from "@paas/shared";
import { drainStatsKey } from "@paas/shared/app-log";
import { drainStatus, drainUrl, maskDrainUrl, MAX_DRAIN_URL_LENGTH } from "@paas/shared/drains";
import { authorizeApp } from "../authz.ts";
import { redis } from "../redis.ts";
import { createTRPCRouter, protectedProcedure } from "../trpc.ts";

export const drainsRouter = createTRPCRouter({
  list: protectedProcedure.input(z.object({ app: appName })).query(async ({ ctx, input }) => {
    const app = await authorizeApp(ctx.principal, input.app, "read");
    const rows = await db.drain.findMany({ where: { appId: app.id }, orderBy: { createdAt: "asc" } });
    const stats = rows.length ? await redis().hgetall(drainStatsKey(app.name)) : {};
    return rows.map((r) => ({ id: r.id, url: maskDrainUrl(r.url), createdAt: r.createdAt, ...drainStatus(stats, r.id) }));
  }),

  add: protectedProcedure.input(z.object({ app: appName, url: drainUrl() })).mutation(async ({ ctx, input }) => {
    const app = await authorizeApp(ctx.principal, input.app, "configure");
    const row = await db.$transaction(async (tx) => {
      if (await tx.drain.findUnique({ where: { appId_url: { appId: app.id, url: input.url } } })) {
        throw new TRPCError({ code: "CONFLICT", message: `${app.name} drains to ${maskDrainUrl(input.url)} already: see \`paas drains -a ${app.name}\`` });
      }
      // A QuotaError becomes FORBIDDEN with its message (trpc.ts).
      await assertDrainQuota(tx, app);
      return tx.drain.create({ data: { appId: app.id, url: input.url } });
    });
    await publishDrains(db, redis(), app);
    return { id: row.id, url: maskDrainUrl(row.url), createdAt: row.createdAt };
  }),

  remove: protectedProcedure
    .input(z.object({ app: appName, url: z.string().trim().min(1, "name the drain by its URL, as `paas drains` shows it").max(MAX_DRAIN_URL_LENGTH) }))
    .mutation(async ({ ctx, input }) => {
      const app = await authorizeApp(ctx.principal, input.app, "configure");
      const rows = await db.drain.findMany({ where: { appId: app.id } });
      // The URL as added, or masked as `paas drains` shows it, or the drain's id.
      let found = rows.filter((r) => r.url === input.url || r.id === input.url);
      if (!found.length) found = rows.filter((r) => maskDrainUrl(r.url) === input.url);
      if (!found.length) throw new TRPCError({ code: "NOT_FOUND", message: `${app.name} has no drain ${maskDrainUrl(input.url)}: see \`paas drains -a ${app.name}\`` });
      if (found.length > 1) throw new TRPCError({ code: "CONFLICT", message: `${found.length} drains of ${app.name} show as ${input.url}: give the whole URL, with its password or token` });
      await db.drain.delete({ where: { id: found[0]!.id } });
      await publishDrains(db, redis(), app);
      return { id: found[0]!.id, url: maskDrainUrl(found[0]!.url) };
    }),
});
