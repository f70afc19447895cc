/**
 * An app's processes: what runs (ps) and its formation, and the changes to it (ps:scale,
 * ps:stop, ps:restart, ps:resize). A change is checked here first (the process type exists,
 * the team's quotas hold as they would be after it), so a refusal changes nothing, then
 * handed to the worker as a deploy job: it runs under the app's deploy lock, in turn with
 * pushes and rollbacks (worker/src/jobs/formation.ts), and the answer comes once it is done.
 */
import { TRPCError } from "@trpc/server";
import { z } from "zod";
import { db, type Formation } from "@paas/db";
import { desiredState } from "@paas/db/formation";
import { assertDeployQuota } from "@paas/db/quotas";
import { AgentClient, appName, config, type ContainerInfo, type ContainerStats, type FormationChange } from "@paas/shared";
import { cpuMillis, memoryMb, processTypeName, quantity } from "@paas/shared/sizes";
import { authorizeApp } from "../authz.ts";
import { deployFailure, runDeploy } from "../deploys.ts";
import { createTRPCRouter, protectedProcedure } from "../trpc.ts";

/** How long ps waits for a host's agent before showing a replica without its live figures. */
const LIVE_TIMEOUT_MS = 2_000;

const withTimeout = <T>(p: Promise<T>): Promise<T | undefined> =>
  Promise.race([p.catch(() => undefined), new Promise<undefined>((r) => setTimeout(r, LIVE_TIMEOUT_MS))]);

/** The container as its host's agent sees it now, and its memory use (undefined when the agent cannot say). */
async function live(agentUrl: string, runtimeId: string | null): Promise<{ info?: ContainerInfo; stats?: ContainerStats }> {
  if (!runtimeId) return {};
  const agent = new AgentClient(agentUrl, config().agentToken);
  const info = await withTimeout(agent.container(runtimeId));
  const stats = info?.state === "running" ? await withTimeout(agent.stats(runtimeId)) : undefined;
  return { info, stats };
}

/**
 * Checks a change before it is queued: the app has a live release, the types exist in it,
 * and the team's quotas hold for the formation as it would be. The worker checks again
 * under the deploy lock (things may have moved meanwhile).
 */
async function assertChange(app: { id: string; name: string; teamId: string; team: { name: string } }, change: FormationChange) {
  const state = await desiredState(db, app.id);
  if (!state) throw new TRPCError({ code: "PRECONDITION_FAILED", message: `${app.name} has no release running yet: push it first (git push paas main), then scale it` });
  const types = state.formation.map((f) => f.processType);
  for (const t of [...Object.keys(change.quantity ?? {}), ...Object.keys(change.size ?? {}), ...(change.restart ?? [])]) {
    if (!types.includes(t)) {
      throw new TRPCError({ code: "NOT_FOUND", message: `${app.name} has no process type "${t}": v${state.release.version} runs ${types.join(", ")} (the Procfile declares them)` });
    }
  }
  const next = state.formation.map((f: Formation) => ({
    quantity: change.quantity?.[f.processType] ?? f.quantity,
    memoryMb: change.size?.[f.processType]?.memoryMb ?? f.memoryMb,
    cpuMillis: change.size?.[f.processType]?.cpuMillis ?? f.cpuMillis,
  }));
  // A QuotaError becomes FORBIDDEN with its message (trpc.ts).
  await assertDeployQuota(db, app, next);
}

/** Hands the change to the worker and waits; a failure says that nothing changed. */
async function apply(app: { id: string; name: string; teamId: string; team: { name: string } }, change: FormationChange) {
  await assertChange(app, change);
  const r = await runDeploy({ kind: "formation", appId: app.id, change });
  if (!r.ok) throw deployFailure(r, "the change failed");
  return { version: r.version ?? null, log: r.log };
}

const appAndType = z.object({ app: appName, type: processTypeName });

export const psRouter = createTRPCRouter({
  /** Each replica of the app (type, number, state, release, uptime, host, address, memory) and its formation. */
  list: protectedProcedure.input(z.object({ app: appName })).query(async ({ ctx, input }) => {
    const app = await authorizeApp(ctx.principal, input.app, "read");
    const state = await desiredState(db, app.id);
    const rows = await db.container.findMany({
      where: { appId: app.id, stoppedAt: null, state: { not: "stopped" } },
      orderBy: [{ processType: "asc" }, { number: "asc" }, { createdAt: "asc" }],
      include: { host: true, release: { select: { version: true } } },
    });
    const now = Date.now();
    const replicas = await Promise.all(
      rows.map(async (c) => {
        const { info, stats } = await live(c.host.agentUrl, c.runtimeId);
        // The agent's word wins over the row's: a replica whose process ended shows as crashed.
        const exited = info?.state === "exited";
        const restarting = !exited && (info?.restartCount ?? 0) > 0 && c.state !== "stopping";
        const startedAt = info?.startedAt ? new Date(info.startedAt) : c.startedAt;
        return {
          id: c.id,
          type: c.processType,
          number: c.number,
          name: `${c.processType}.${c.number}`,
          state: exited && c.state !== "stopping" ? "crashed" : c.state,
          release: c.release.version,
          startedAt,
          uptimeSeconds: startedAt && !exited ? Math.max(0, Math.round((now - startedAt.getTime()) / 1000)) : null,
          host: c.host.name,
          address: c.address,
          memoryBytes: stats?.memoryBytes ?? null,
          memoryLimitBytes: stats?.memoryLimitBytes ?? info?.memoryLimitBytes ?? null,
          exitCode: exited ? (info?.exitCode ?? null) : null,
          oomKilled: exited ? Boolean(info?.oomKilled) : false,
          restarts: info?.restartCount ?? 0,
          restarting,
        };
      }),
    );
    return {
      release: state?.release.version ?? null,
      formation: (state?.formation ?? []).map((f) => ({ type: f.processType, quantity: f.quantity, memoryMb: f.memoryMb, cpuMillis: f.cpuMillis })),
      replicas,
    };
  }),

  /** ps:scale web=3 worker=2 (0 stops a type; the formation keeps it). */
  scale: protectedProcedure
    .input(z.object({ app: appName, quantities: z.record(processTypeName, quantity).refine((q) => Object.keys(q).length > 0, "name at least one process type, e.g. web=2") }))
    .mutation(async ({ ctx, input }) => {
      const app = await authorizeApp(ctx.principal, input.app, "deploy");
      return apply(app, { quantity: input.quantities });
    }),

  /** ps:stop TYPE: scaled to 0, kept in the formation (ps:scale brings it back). */
  stop: protectedProcedure.input(appAndType).mutation(async ({ ctx, input }) => {
    const app = await authorizeApp(ctx.principal, input.app, "deploy");
    return apply(app, { quantity: { [input.type]: 0 } });
  }),

  /** ps:restart [TYPE]: new replicas up and routed before the old ones drain and stop. */
  restart: protectedProcedure.input(z.object({ app: appName, type: processTypeName.optional() })).mutation(async ({ ctx, input }) => {
    const app = await authorizeApp(ctx.principal, input.app, "deploy");
    return apply(app, { restart: input.type ? [input.type] : [] });
  }),

  /** ps:resize TYPE --memory 512M --cpus 0.5: replicas replaced by ones of the new size. */
  resize: protectedProcedure
    .input(
      appAndType
        .extend({ memoryMb: memoryMb.optional(), cpuMillis: cpuMillis.optional() })
        .refine((r) => r.memoryMb !== undefined || r.cpuMillis !== undefined, "give --memory, --cpus or both"),
    )
    .mutation(async ({ ctx, input }) => {
      const app = await authorizeApp(ctx.principal, input.app, "deploy");
      const size = { ...(input.memoryMb !== undefined ? { memoryMb: input.memoryMb } : {}), ...(input.cpuMillis !== undefined ? { cpuMillis: input.cpuMillis } : {}) };
      return apply(app, { size: { [input.type]: size } });
    }),
});
