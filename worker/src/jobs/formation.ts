/**
 * ps changes (deploy jobs of kind "formation"): ps:scale, ps:stop, ps:resize, ps:restart of
 * the active release's replicas. jobs/deploys.ts runs them holding the app's deploy lock, so
 * they take turns with pushes, config changes and rollbacks. The steps:
 *   1. plan: the formation as it will be (quotas checked on it, before anything starts), and
 *      per process type which replica numbers start, which stay, which go;
 *   2. start the new replicas (a scale-up, or the replacements of a restart or resize) and
 *      wait until each is up (pipeline/replicas.ts);
 *   3. route: the app's web replicas as they will be, and the Formation rows, committed at
 *      once (pipeline/route.ts, fenced by the lease);
 *   4. what goes is out of the route by then: after a drain (PAAS_DRAIN_SECONDS) it gets
 *      SIGTERM, then SIGKILL after PAAS_STOP_GRACE_SECONDS (retire.ts drainThenStop).
 * If 2 or 3 fails, what was started is removed and the formation stays as it was: the
 * running replicas keep serving.
 */
import type { Redis } from "ioredis";
import { db, type Formation } from "@paas/db";
import { desiredState, WEB } from "@paas/db/formation";
import { QuotaError, reserveDeployQuota } from "@paas/db/quotas";
import type { FormationChange } from "@paas/shared";
import type { BuildLog } from "../build-log.ts";
import type { DeployLease } from "../deploy-lock.ts";
import { PushError } from "../pipeline/push-error.ts";
import { checkReplicas, removeReplicas, replicaName, startReplica, stopReplica, type Replica } from "../pipeline/replicas.ts";
import { drainThenStop } from "../pipeline/retire.ts";
import { config } from "@paas/shared";
import { route } from "../pipeline/route.ts";
import type { ReleaseOfApp } from "../pipeline/deploy.ts";
import { egressSpec } from "../pipeline/egress.ts";

/** A change that cannot be made as asked (an unknown type, a quota, a replica that did not start); nothing changed. */
export class FormationError extends PushError {}

/** A replica that runs now: its row as the plan needs it. */
interface Running {
  id: string;
  processType: string;
  number: number;
  runtimeId: string | null;
  address: string | null;
  host: { agentUrl: string };
}

export interface FormationPlan {
  /** The rows as they will be. */
  next: Formation[];
  /** Replica numbers to start, by process type. */
  start: { processType: string; number: number }[];
  /** Running replicas that stay. */
  keep: Running[];
  /** Running replicas that go once the new ones serve (scaled away, or replaced). */
  stop: Running[];
}

/**
 * The plan, apart from the database: `rows` the formation now, `running` the active release's
 * replicas now. Replicas keep their numbers; a scale-down stops the highest; a restart or a
 * new size replaces each number; a missing number (a replica lost) is started again.
 */
export function planFormation(rows: Formation[], running: Running[], change: FormationChange): FormationPlan {
  const next = rows.map((f) => ({
    ...f,
    quantity: change.quantity?.[f.processType] ?? f.quantity,
    memoryMb: change.size?.[f.processType]?.memoryMb ?? f.memoryMb,
    cpuMillis: change.size?.[f.processType]?.cpuMillis ?? f.cpuMillis,
  }));
  const plan: FormationPlan = { next, start: [], keep: [], stop: [] };
  for (const f of next) {
    const now = rows.find((r) => r.processType === f.processType)!;
    const replace = (change.restart && (change.restart.length === 0 || change.restart.includes(f.processType))) || f.memoryMb !== now.memoryMb || f.cpuMillis !== now.cpuMillis;
    const mine = running.filter((c) => c.processType === f.processType).sort((a, b) => a.number - b.number);
    const have = new Set<number>();
    for (const c of mine) {
      // Numbered 1..quantity, each once; others (0: made before replicas had numbers) go.
      if (c.number >= 1 && c.number <= f.quantity && !have.has(c.number)) {
        have.add(c.number);
        (replace ? plan.stop : plan.keep).push(c);
        if (replace) plan.start.push({ processType: f.processType, number: c.number });
      } else plan.stop.push(c);
    }
    for (let n = 1; n <= f.quantity; n++) if (!have.has(n)) plan.start.push({ processType: f.processType, number: n });
  }
  return plan;
}

/** What the change did, one line per process type it touched ("web: 3 replicas, 256 MB, 0.25 CPU each (2 started)"). */
function summary(plan: FormationPlan, touched: Set<string>): string[] {
  return plan.next
    .filter((f) => touched.has(f.processType))
    .map((f) => {
      const started = plan.start.filter((s) => s.processType === f.processType).length;
      const stopped = plan.stop.filter((s) => s.processType === f.processType).length;
      const what = [started && `${started} started`, stopped && `${stopped} stopped`].filter(Boolean).join(", ");
      return `${f.processType}: ${f.quantity} replica${f.quantity === 1 ? "" : "s"}, ${f.memoryMb} MB, ${f.cpuMillis / 1000} CPU each${what ? ` (${what})` : ""}`;
    });
}

/** Applies `change` to the app's replicas (see the top of this file); returns the version that runs. */
export async function applyFormationChange(redis: Redis, lease: DeployLease, appId: string, change: FormationChange, log: BuildLog): Promise<number> {
  const app = await db.app.findUniqueOrThrow({ where: { id: appId }, include: { team: true, previewOf: true } });
  const state = await desiredState(db, app.id);
  if (!state) throw new FormationError(`${app.name} has no release running yet: push it first (git push paas main), then scale it`);
  const release: ReleaseOfApp = { ...state.release, app };
  const types = state.formation.map((f) => f.processType);
  const touched = new Set([...Object.keys(change.quantity ?? {}), ...Object.keys(change.size ?? {}), ...(change.restart?.length === 0 ? types : (change.restart ?? []))]);
  for (const t of touched) {
    if (!types.includes(t)) throw new FormationError(`${app.name} has no process type "${t}": v${release.version} runs ${types.join(", ")} (the Procfile declares them)`);
  }

  const running = await db.container.findMany({
    where: { appId: app.id, releaseId: release.id, stoppedAt: null, state: { in: ["starting", "running", "crashed"] } },
    select: { id: true, processType: true, number: true, runtimeId: true, address: true, host: { select: { agentUrl: true } } },
  });
  const plan = planFormation(state.formation, running, change);
  // Held until the deploy lock's end, so another app's change meanwhile counts this one.
  await reserveDeployQuota(db, app, plan.next).catch((err: unknown) => {
    throw err instanceof QuotaError ? new FormationError(`${err.message}; nothing changed`, undefined, { cause: err }) : err;
  });

  const started: Replica[] = [];
  try {
    if (plan.start.length) {
      // The app's outbound network as it is set now, as a deploy would start them.
      const egress = await egressSpec(app);
      log.step(`Starting ${plan.start.map(replicaName).join(", ")} of v${release.version}`);
      for (const s of plan.start) started.push(await startReplica(release, plan.next.find((f) => f.processType === s.processType)!, s.number, egress.spec));
      await checkReplicas(release, started, log, (failed, c) =>
        new FormationError(`${replicaName(c)} of v${release.version} ${failed.failed === "check" ? "failed its check" : "did not start"}: ${failed.problem}; nothing changed, the running replicas keep serving`),
      );
    }
    // The web replicas as they will be, and the rows, at once (or neither).
    const web = [
      ...plan.keep.filter((c) => c.processType === WEB).map((c) => ({ rowId: c.id, runtimeId: c.runtimeId ?? "", agentUrl: c.host.agentUrl, address: c.address ?? "", processType: WEB, number: c.number })),
      ...started.filter((c) => c.processType === WEB),
    ].sort((a, b) => a.number - b.number);
    await route.run({
      redis,
      release,
      replicas: web,
      lease,
      log,
      onCommit: async (tx) => {
        for (const f of plan.next) await tx.formation.update({ where: { id: f.id }, data: { quantity: f.quantity, memoryMb: f.memoryMb, cpuMillis: f.cpuMillis } });
      },
    });
  } catch (err) {
    await removeReplicas(started);
    throw err;
  }

  if (plan.stop.length) {
    const web = plan.stop.some((c) => c.processType === WEB);
    log.step(`Stopping ${plan.stop.map(replicaName).join(", ")}${web ? ` after a ${config().drainSeconds}s drain` : ""}`);
    // Web ones left the route above: the router's switch and their in-flight requests get the drain.
    if (web) await drainThenStop(plan.stop);
    else await Promise.all(plan.stop.map((c) => stopReplica(c)));
  }
  for (const line of summary(plan, touched)) log.info(line);
  return release.version;
}
