/**
 * Config vars: reading (masked unless revealed), setting and unsetting. A
 * change creates a new release of the current image and redeploys it,
 * without a build. Bad input changes nothing (checked before any write), and
 * neither does a change whose release fails.
 */
import { TRPCError } from "@trpc/server";
import { z } from "zod";
import { db } from "@paas/db";
import { appName } from "@paas/shared";
import { authorizeApp } from "../authz.ts";
import { configKeysInput, configVarsInput, mask } from "@paas/shared/config-vars";
import { runDeploy } from "../deploys.ts";
import { createTRPCRouter, protectedProcedure } from "../trpc.ts";

/**
 * Hands the change to the worker, which applies it in turn with the app's other
 * deploys: it makes a release of the current image with the changed config and
 * writes the vars only once that release serves. A change that fails changes
 * nothing. The values stay in the database (a ConfigChange row), never in Redis.
 */
async function applyChange(app: { id: string; name: string }, change: { set?: Record<string, string>; unset?: string[] }, description: string) {
  const row = await db.configChange.create({
    data: { appId: app.id, set: JSON.stringify(change.set ?? {}), unset: JSON.stringify(change.unset ?? []) },
  });
  const r = await runDeploy({ kind: "config", appId: app.id, changeId: row.id, description });
  if (!r.ok) {
    // A job that still runs will apply or drop the change itself.
    if (!r.stillRunning) await db.configChange.deleteMany({ where: { id: row.id } });
    throw new TRPCError({
      code: "PRECONDITION_FAILED",
      message: r.stillRunning
        ? r.error!
        : `the config change was not applied${r.version ? ` (release v${r.version} failed)` : ""}: ${r.error}. The config vars and the running release are as they were; see \`paas releases -a ${app.name}\``,
    });
  }
  if (!r.version) return { release: null, message: "no release yet: the config applies from the next push" };
  return { release: r.version, message: `released v${r.version}` };
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
    // The description names keys only: values are secrets.
    return { keys, ...(await applyChange(app, { set: input.vars }, `Set ${keys.join(", ")}`)) };
  }),

  unset: protectedProcedure.input(z.object({ app: appName, keys: configKeysInput })).mutation(async ({ ctx, input }) => {
    const app = await authorizeApp(ctx.principal, input.app, "configure");
    const present = await db.configVar.findMany({ where: { appId: app.id, key: { in: input.keys } } });
    if (present.length === 0) {
      throw new TRPCError({ code: "NOT_FOUND", message: `none of ${input.keys.join(", ")} is set on ${app.name}: see \`paas config -a ${app.name}\`` });
    }
    const keys = present.map((v) => v.key).sort();
    return { keys, ...(await applyChange(app, { unset: keys }, `Unset ${keys.join(", ")}`)) };
  }),
});
