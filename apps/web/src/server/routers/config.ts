/**
 * Config vars: reading (masked unless revealed), setting and unsetting. A
 * change creates a new release of the current image and redeploys it,
 * without a build. Bad input changes nothing (checked before any write).
 */
import { TRPCError } from "@trpc/server";
import { z } from "zod";
import { db } from "@paas/db";
import { appName } from "@paas/shared";
import { authorizeApp } from "../authz.ts";
import { configKeysInput, configVarsInput, mask } from "../config-vars.ts";
import { runDeploy } from "../deploys.ts";
import { createTRPCRouter, protectedProcedure } from "../trpc.ts";

async function redeploy(appId: string, description: string) {
  const live = await db.release.findFirst({ where: { appId, status: "active" } });
  if (!live) return { release: null, message: "no release yet: the config applies from the next push" };
  const r = await runDeploy({ kind: "config", appId, description });
  if (!r.ok) throw new TRPCError({ code: "INTERNAL_SERVER_ERROR", message: `the config is saved, but the new release did not deploy: ${r.error}` });
  return { release: r.version ?? null, message: `released v${r.version}` };
}

export const configRouter = createTRPCRouter({
  /** Keys with masked values; `reveal` returns the values (needs "configure"). */
  get: protectedProcedure.input(z.object({ app: appName, reveal: z.boolean().default(false) })).query(async ({ ctx, input }) => {
    const app = await authorizeApp(ctx.principal, input.app, input.reveal ? "configure" : "read");
    const vars = await db.configVar.findMany({ where: { appId: app.id }, orderBy: { key: "asc" } });
    return Object.fromEntries(vars.map((v) => [v.key, input.reveal ? v.value : mask(v.value)]));
  }),

  /** One value, for the dashboard's "reveal" button. */
  reveal: protectedProcedure.input(z.object({ app: appName, key: z.string().max(255) })).mutation(async ({ ctx, input }) => {
    const app = await authorizeApp(ctx.principal, input.app, "configure");
    const v = await db.configVar.findUnique({ where: { appId_key: { appId: app.id, key: input.key } } });
    if (!v) throw new TRPCError({ code: "NOT_FOUND", message: `${input.key} is not set on ${app.name}` });
    return { key: v.key, value: v.value };
  }),

  set: protectedProcedure.input(z.object({ app: appName, vars: configVarsInput })).mutation(async ({ ctx, input }) => {
    const app = await authorizeApp(ctx.principal, input.app, "configure");
    const keys = Object.keys(input.vars).sort();
    await db.$transaction(
      keys.map((key) =>
        db.configVar.upsert({
          where: { appId_key: { appId: app.id, key } },
          create: { appId: app.id, key, value: input.vars[key] },
          update: { value: input.vars[key] },
        }),
      ),
    );
    // The description names keys only: values are secrets.
    return { keys, ...(await redeploy(app.id, `Set ${keys.join(", ")}`)) };
  }),

  unset: protectedProcedure.input(z.object({ app: appName, keys: configKeysInput })).mutation(async ({ ctx, input }) => {
    const app = await authorizeApp(ctx.principal, input.app, "configure");
    const present = await db.configVar.findMany({ where: { appId: app.id, key: { in: input.keys } } });
    if (present.length === 0) {
      throw new TRPCError({ code: "NOT_FOUND", message: `none of ${input.keys.join(", ")} is set on ${app.name}: see \`paas config -a ${app.name}\`` });
    }
    await db.configVar.deleteMany({ where: { appId: app.id, key: { in: input.keys } } });
    const keys = present.map((v) => v.key).sort();
    return { keys, ...(await redeploy(app.id, `Unset ${keys.join(", ")}`)) };
  }),
});
