/**
 * An app's volumes: `paas volumes`, `volumes:add NAME PATH [--size 1G]`, `volumes:remove NAME
 * [--force]`. A volume is the app's (not a release's): every replica mounts it at PATH, one
 * runtime volume per host (worker/src/volumes/mounts.ts), kept across deploys, restarts and
 * rollbacks. Its size is a hard cap and counts toward the team's storage quota. Adding or
 * removing one replaces the replicas through the zero-downtime path of ps:restart (a deploy
 * job of kind "formation"); a change whose replicas do not start is undone.
 */
import { TRPCError } from "@trpc/server";
import { z } from "zod";
import { db } from "@paas/db";
import { activeRelease } from "@paas/db/formation";
import { assertStorageQuota } from "@paas/db/quotas";
import { AgentClient, appName, config, unlessAbsent } from "@paas/shared";
import { authorizeApp } from "../authz.ts";
import { runDeploy } from "../deploys.ts";
import { createTRPCRouter, protectedProcedure } from "../trpc.ts";
import { volumeName } from "./sidecars.ts";

export const VOLUME_MB_MIN = 8;
export const VOLUME_MB_MAX = 1024 * 1024;
export const VOLUME_DEFAULT_MB = 1024;
/** Where a volume would hide the system or the app's code. */
const RESERVED = ["/app", "/var/log/app", "/proc", "/sys", "/dev", "/etc", "/usr", "/bin", "/sbin", "/lib", "/lib64", "/run", "/tmp"];

const mountPath = z
  .string()
  .regex(/^\/[A-Za-z0-9._\/-]*[^/]$/, "a path in the container is absolute, e.g. /data (letters, digits, . _ - /, no trailing /)")
  .max(255)
  .refine((p) => !p.split("/").some((x) => x === ".." || x === "." || (x === "" && p.indexOf(x) !== 0)), "a path may not contain ., .. or //")
  .refine((p) => !RESERVED.some((r) => p === r || (r !== "/app" && p.startsWith(`${r}/`))), `a volume cannot be mounted at ${RESERVED.join(", ")} (or under them but /app): pick a path of its own, e.g. /data or /app/uploads`);

/** The runtime's name of an app's volume (as worker/src/volumes/mounts.ts makes it). */
const runtimeName = (app: string, volume: string) => `${app}_${volume}`;

/** Replaces the app's replicas (as ps:restart does) so they mount the volumes as they are now; null when done or nothing runs. */
async function replaceReplicas(app: { id: string; name: string }): Promise<string | null> {
  if (!(await activeRelease(db, app.id))) return null;
  const r = await runDeploy({ kind: "formation", appId: app.id, change: { restart: [] } });
  return r.ok ? null : (r.error ?? "the replicas could not be replaced");
}

/** A host that does not answer this fast is left out of a volume's use: the list is for people waiting on a page. */
const USE_TIMEOUT_MS = 3000;

/** What the app's runtime volumes hold, by runtime name, over the hosts that answer (one that does not is left out). */
async function usedBytes(app: string): Promise<Map<string, number>> {
  const used = new Map<string, number>();
  for (const h of await db.host.findMany()) {
    const list = await new AgentClient(h.agentUrl, config().agentToken).volumes({ signal: AbortSignal.timeout(USE_TIMEOUT_MS) }).catch(() => []);
    for (const v of list) {
      if (v.labels["paas.app"] === app && v.usedBytes !== undefined) used.set(v.name, (used.get(v.name) ?? 0) + v.usedBytes);
    }
  }
  return used;
}

export const volumesRouter = createTRPCRouter({
  list: protectedProcedure.input(z.object({ app: appName })).query(async ({ ctx, input }) => {
    const app = await authorizeApp(ctx.principal, input.app, "read");
    const rows = await db.appVolume.findMany({ where: { appId: app.id }, orderBy: { createdAt: "asc" } });
    const sidecars = await db.sidecar.findMany({ where: { appId: app.id } });
    const used = rows.length ? await usedBytes(app.name) : new Map<string, number>();
    return rows.map((v) => ({
      name: v.name,
      path: v.path,
      sizeMb: v.sizeMb,
      // On every host that has it, summed; null when none said (not made yet: nothing ran with it).
      usedBytes: used.get(runtimeName(app.name, v.name)) ?? null,
      createdAt: v.createdAt,
      sidecars: sidecars.filter((s) => (JSON.parse(s.spec) as { volumes?: { name: string }[] }).volumes?.some((x) => x.name === v.name)).map((s) => s.kind),
    }));
  }),

  add: protectedProcedure
    .input(z.object({ app: appName, name: volumeName, path: mountPath, sizeMb: z.int().min(VOLUME_MB_MIN, `a volume is at least ${VOLUME_MB_MIN}M`).max(VOLUME_MB_MAX, "a volume is at most 1T").default(VOLUME_DEFAULT_MB) }))
    .mutation(async ({ ctx, input }) => {
      const app = await authorizeApp(ctx.principal, input.app, "deploy");
      const row = await db.$transaction(async (tx) => {
        const same = await tx.appVolume.findFirst({ where: { appId: app.id, OR: [{ name: input.name }, { path: input.path }] } });
        if (same?.name === input.name) throw new TRPCError({ code: "CONFLICT", message: `${app.name} has a volume ${input.name} already (at ${same.path}): pick another name, or remove it first` });
        if (same) throw new TRPCError({ code: "CONFLICT", message: `${app.name}'s volume ${same.name} is mounted at ${input.path} already: pick another path` });
        // A QuotaError becomes FORBIDDEN with its message (trpc.ts).
        await assertStorageQuota(tx, app.team, input.sizeMb);
        return tx.appVolume.create({ data: { appId: app.id, name: input.name, path: input.path, sizeMb: input.sizeMb } });
      });
      const failed = await replaceReplicas(app);
      if (failed) {
        await db.appVolume.delete({ where: { id: row.id } }).catch(() => {});
        throw new TRPCError({ code: "PRECONDITION_FAILED", message: `the replicas with the volume did not start (${failed}); nothing changed` });
      }
      const running = await db.container.count({ where: { appId: app.id, state: { in: ["starting", "running", "restarting"] } } });
      return { name: row.name, path: row.path, sizeMb: row.sizeMb, replicas: running };
    }),

  remove: protectedProcedure.input(z.object({ app: appName, name: volumeName, force: z.boolean().default(false) })).mutation(async ({ ctx, input }) => {
    const app = await authorizeApp(ctx.principal, input.app, "deploy");
    const row = await db.appVolume.findUnique({ where: { appId_name: { appId: app.id, name: input.name } } });
    if (!row) throw new TRPCError({ code: "NOT_FOUND", message: `${app.name} has no volume ${input.name}: see \`paas volumes -a ${app.name}\`` });
    const users = (await db.sidecar.findMany({ where: { appId: app.id } })).filter((s) => (JSON.parse(s.spec) as { volumes?: { name: string }[] }).volumes?.some((v) => v.name === row.name));
    if (users.length) {
      throw new TRPCError({ code: "PRECONDITION_FAILED", message: `sidecar ${users.map((s) => s.kind).join(", ")} of ${app.name} mounts volume ${row.name}: detach it first (paas sidecars:detach ${users[0]!.kind} -a ${app.name})` });
    }
    const live = await db.container.findMany({ where: { appId: app.id, state: { in: ["starting", "running", "restarting", "stopping"] } }, orderBy: [{ processType: "asc" }, { number: "asc" }] });
    if (live.length && !input.force) {
      throw new TRPCError({
        code: "PRECONDITION_FAILED",
        message: `volume ${row.name} is mounted by ${[...new Set(live.map((c) => `${c.processType}.${c.number}`))].join(", ")} of ${app.name}: pass --force to replace them without it (its data is deleted), or scale them to 0 first`,
      });
    }
    await db.appVolume.delete({ where: { id: row.id } });
    const failed = live.length ? await replaceReplicas(app) : null;
    if (failed) {
      await db.appVolume.create({ data: { appId: app.id, name: row.name, path: row.path, sizeMb: row.sizeMb, createdAt: row.createdAt } }).catch(() => {});
      throw new TRPCError({ code: "PRECONDITION_FAILED", message: `the replicas without the volume did not start (${failed}); nothing changed` });
    }
    // The replicas that mounted it are gone now (the change drains and stops them): its data goes.
    const left: string[] = [];
    for (const h of await db.host.findMany()) {
      const agent = new AgentClient(h.agentUrl, config().agentToken);
      await unlessAbsent(agent.removeVolume(runtimeName(app.name, row.name))).catch((err: Error) => left.push(`${h.name}: ${err.message}`));
    }
    return { name: row.name, replaced: live.length, left };
  }),
});
