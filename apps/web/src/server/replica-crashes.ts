/**
 * Crash loops of an app's replicas, as the reconcile loop recorded them on their Container
 * rows (worker/src/reconcile.ts): the last exit code, whether the memory limit killed it,
 * how often its host's agent restarted it, and the last lines of its output. For the app's
 * page and `paas ps` (call it with an app the caller was authorized for: authz.ts).
 */
import { db } from "@paas/db";

export interface ReplicaCrash {
  /** The Container row. */
  id: string;
  processType: string;
  release: number;
  /** "restarting" while it is down waiting for its next start; "running" once back up. */
  state: string;
  exitCode: number | null;
  oomKilled: boolean;
  restartCount: number;
  lastExitAt: Date;
  /** The last lines of its output before that exit (oldest first). */
  lastLines: string[];
}

/** Replicas of the app that run (or should) and have exited at least once, latest exit first. */
export async function replicaCrashes(appId: string): Promise<ReplicaCrash[]> {
  const rows = await db.container.findMany({
    where: { appId, state: { in: ["starting", "running", "restarting"] }, lastExitAt: { not: null } },
    orderBy: { lastExitAt: "desc" },
    include: { release: { select: { version: true } } },
  });
  return rows.map((c) => ({
    id: c.id,
    processType: c.processType,
    release: c.release.version,
    state: c.state,
    exitCode: c.exitCode,
    oomKilled: c.oomKilled,
    restartCount: c.restartCount,
    lastExitAt: c.lastExitAt!,
    lastLines: c.lastOutput ? c.lastOutput.split("\n") : [],
  }));
}
