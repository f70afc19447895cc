/**
 * An app's backups (worker/src/backups): `paas backups`, `backups:capture [--volume NAME]`,
 * `backups:restore ID [--to NEW_VOLUME]`, `backups:schedule CRON [--keep N]`,
 * `backups:unschedule`. Captures and restores are deploy jobs of kind "backup" the caller waits
 * for; a schedule is a BullMQ job scheduler on the deploys queue making the same capture jobs.
 * A failed backup is kept with its reason, so `paas backups` and the app's page show it.
 * (The download is a stream: app/api/backups/[id]/download.)
 */
import { TRPCError } from "@trpc/server";
import { Queue } from "bullmq";
import { z } from "zod";
import { db } from "@paas/db";
import { QUEUE_DEPLOYS, appName, backupScheduleId, type DeployJobData } from "@paas/shared";
import { authorizeApp } from "../authz.ts";
import { runDeploy } from "../deploys.ts";
import { createRedis } from "../redis.ts";
import { createTRPCRouter, protectedProcedure } from "../trpc.ts";
import { volumeName } from "./sidecars.ts";

/** A backup takes as long as its volume's size asks; the CLI waits for it. */
const BACKUP_TIMEOUT_MS = 30 * 60_000;
export const KEEP_MAX = 1000;

const g = globalThis as unknown as { __paasBackupQueue?: Queue<DeployJobData> };
const queue = () => (g.__paasBackupQueue ??= new Queue<DeployJobData>(QUEUE_DEPLOYS, { connection: createRedis() }));

const backupId = z.string().regex(/^[a-z0-9]{8,40}$/, "a backup id as `paas backups` lists it");

function failed(error: string | undefined, what: string): never {
  throw new TRPCError({ code: "PRECONDITION_FAILED", message: error ?? `${what} failed` });
}

export const backupsRouter = createTRPCRouter({
  list: protectedProcedure.input(z.object({ app: appName })).query(async ({ ctx, input }) => {
    const app = await authorizeApp(ctx.principal, input.app, "read");
    const rows = await db.backup.findMany({ where: { appId: app.id }, orderBy: { createdAt: "desc" }, take: 200 });
    const sched = await queue().getJobScheduler(backupScheduleId(app.id));
    return {
      schedule: sched ? { cron: sched.pattern ?? "", keep: (sched.template?.data as { keep?: number } | undefined)?.keep ?? null, next: sched.next ? new Date(sched.next) : null } : null,
      backups: rows.map((b) => ({ id: b.id, volume: b.volume, status: b.status, createdAt: b.createdAt, finishedAt: b.finishedAt, sizeBytes: b.sizeBytes, addedBytes: b.addedBytes, pausedMs: b.pausedMs, error: b.error, scheduled: b.scheduled })),
    };
  }),

  capture: protectedProcedure.input(z.object({ app: appName, volume: volumeName.optional() })).mutation(async ({ ctx, input }) => {
    const app = await authorizeApp(ctx.principal, input.app, "deploy");
    const r = await runDeploy({ kind: "backup", appId: app.id, op: "capture", ...(input.volume ? { volume: input.volume } : {}) }, BACKUP_TIMEOUT_MS);
    if (!r.ok || !r.backupId) failed(r.error, "the backup");
    return { id: r.backupId, log: r.log };
  }),

  restore: protectedProcedure.input(z.object({ app: appName, id: backupId, to: volumeName.optional() })).mutation(async ({ ctx, input }) => {
    const app = await authorizeApp(ctx.principal, input.app, "deploy");
    const r = await runDeploy({ kind: "backup", appId: app.id, op: "restore", backupId: input.id, ...(input.to ? { to: input.to } : {}) }, BACKUP_TIMEOUT_MS);
    if (!r.ok) failed(r.error, "the restore");
    return { log: r.log };
  }),

  schedule: protectedProcedure
    .input(z.object({ app: appName, cron: z.string().min(9).max(100), keep: z.int().min(1).max(KEEP_MAX).optional(), volume: volumeName.optional() }))
    .mutation(async ({ ctx, input }) => {
      const app = await authorizeApp(ctx.principal, input.app, "deploy");
      const vols = await db.appVolume.findMany({ where: { appId: app.id } });
      if (!vols.length) throw new TRPCError({ code: "PRECONDITION_FAILED", message: `${app.name} has no volume to back up: add one with \`paas volumes:add NAME PATH -a ${app.name}\`` });
      if (!input.volume && vols.length > 1) throw new TRPCError({ code: "BAD_REQUEST", message: `${app.name} has ${vols.length} volumes (${vols.map((v) => v.name).join(", ")}): name one with --volume NAME` });
      if (input.volume && !vols.some((v) => v.name === input.volume)) throw new TRPCError({ code: "NOT_FOUND", message: `${app.name} has no volume ${input.volume}: see \`paas volumes -a ${app.name}\`` });
      const data: DeployJobData = { kind: "backup", appId: app.id, op: "capture", scheduled: true, ...(input.volume ? { volume: input.volume } : {}), ...(input.keep ? { keep: input.keep } : {}) };
      try {
        const job = await queue().upsertJobScheduler(backupScheduleId(app.id), { pattern: input.cron, tz: "UTC" }, { name: "backup", data, opts: { removeOnComplete: { count: 100 }, removeOnFail: { count: 100 } } });
        return { cron: input.cron, keep: input.keep ?? null, next: job?.timestamp && job.delay !== undefined ? new Date(job.timestamp + job.delay) : null };
      } catch (err) {
        throw new TRPCError({ code: "BAD_REQUEST", message: `"${input.cron}" is not a cron schedule (${(err as Error).message}): write five fields, e.g. "0 3 * * *" for 03:00 UTC daily` });
      }
    }),

  unschedule: protectedProcedure.input(z.object({ app: appName })).mutation(async ({ ctx, input }) => {
    const app = await authorizeApp(ctx.principal, input.app, "deploy");
    const removed = await queue().removeJobScheduler(backupScheduleId(app.id));
    return { removed };
  }),
});
