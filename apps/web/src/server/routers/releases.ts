/** Releases of an app: list, one release, rollback. */
import { TRPCError } from "@trpc/server";
import { z } from "zod";
import { db } from "@paas/db";
import { appName } from "@paas/shared";
import { authorizeApp } from "../authz.ts";
import { runDeploy } from "../deploys.ts";
import { createTRPCRouter, protectedProcedure } from "../trpc.ts";

const version = z
  .union([z.number().int().min(1), z.string().regex(/^v?\d+$/, "a version is vN, e.g. v3")])
  .transform((v) => (typeof v === "number" ? v : Number(v.replace(/^v/, ""))));

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
        /** Why it failed (status "failed"). */
        error: r.error,
        buildId: r.build?.id ?? null,
        commit: r.build?.commit ?? null,
        createdAt: r.createdAt,
      }));
    }),

  /** One release: image, process types, and the names (not values) of its config vars. */
  info: protectedProcedure.input(z.object({ app: appName, version })).query(async ({ ctx, input }) => {
    const app = await authorizeApp(ctx.principal, input.app, "read");
    const r = await db.release.findUnique({
      where: { appId_version: { appId: app.id, version: input.version } },
      include: { build: { select: { id: true, commit: true } } },
    });
    if (!r) throw new TRPCError({ code: "NOT_FOUND", message: `release v${input.version} of ${app.name} not found: see \`paas releases -a ${app.name}\`` });
    return {
      version: r.version,
      status: r.status,
      description: r.description,
      error: r.error,
      imageRef: r.imageRef,
      processTypes: JSON.parse(r.processTypes) as Record<string, string>,
      configKeys: Object.keys(JSON.parse(r.config) as Record<string, string>).sort(),
      buildId: r.build?.id ?? null,
      commit: r.build?.commit ?? null,
      createdAt: r.createdAt,
    };
  }),

  /** A new release with vN's image and config, deployed; answers once it serves. */
  rollback: protectedProcedure.input(z.object({ app: appName, version })).mutation(async ({ ctx, input }) => {
    const app = await authorizeApp(ctx.principal, input.app, "deploy");
    const r = await db.release.findUnique({ where: { appId_version: { appId: app.id, version: input.version } } });
    if (!r) throw new TRPCError({ code: "NOT_FOUND", message: `release v${input.version} of ${app.name} not found: see \`paas releases -a ${app.name}\`` });
    const res = await runDeploy({ kind: "rollback", appId: app.id, version: input.version });
    if (!res.ok) {
      const kept = res.stillRunning ? "" : `; the running release and the config vars are as they were (see \`paas releases -a ${app.name}\`)`;
      throw new TRPCError({ code: "PRECONDITION_FAILED", message: `rollback to v${input.version} failed${res.version ? ` (release v${res.version})` : ""}: ${res.error}${kept}` });
    }
    return { version: res.version!, rolledBackTo: input.version };
  }),
});
