/**
 * retire: once the router has switched to the new release, the replicas of
 * earlier ones stop (SIGTERM, then SIGKILL after a grace) and their images go
 * once nothing runs them. The pusher does not wait for it: the step says what
 * will go and returns the work, which runs after the log has ended. Only lower
 * versions go, so a newer deploy's replicas are never touched.
 */
import { db } from "@paas/db";
import type { BuildLog } from "../build-log.ts";
import { agentFor } from "../hosts.ts";
import { collectImages } from "../jobs/images.ts";
import type { Step } from "./runner.ts";

const DRAIN_MS = 1000;
const STOP_GRACE_SECONDS = 10;

export interface RetireInput {
  app: { id: string; name: string };
  /** The version now live: replicas of lower versions go. */
  version: number;
  log: BuildLog;
}

export const retire: Step<RetireInput, () => Promise<void>> = {
  name: "retire",
  async run({ app, version, log }) {
    const old = await db.container.findMany({
      where: { appId: app.id, release: { version: { lt: version } }, state: { in: ["starting", "running"] } },
      include: { host: true },
    });
    if (old.length) log.step(`Retiring ${old.length} replica${old.length === 1 ? "" : "s"} of earlier releases after a ${DRAIN_MS / 1000}s drain`);
    return async () => {
      if (old.length) {
        // Let the router pick up the new table and in-flight requests finish.
        await new Promise((r) => setTimeout(r, DRAIN_MS));
        for (const c of old) await stopReplica(c, STOP_GRACE_SECONDS);
      }
      // Old images go once nothing runs them any more.
      await collectImages(app.id).catch((err) => console.error(`image gc of ${app.name} failed: ${(err as Error).message}`));
    };
  },
};

/** Stops and removes every replica of an app (a deleted preview). */
export async function removeAllReplicas(appId: string): Promise<void> {
  const rows = await db.container.findMany({ where: { appId, state: { not: "stopped" } }, include: { host: true } });
  for (const c of rows) await stopReplica(c, 0);
}

/** SIGTERM, then SIGKILL after `graceSeconds` (0: at once); the row follows. */
async function stopReplica(c: { id: string; runtimeId: string | null; host: { agentUrl: string } }, graceSeconds: number) {
  await db.container.update({ where: { id: c.id }, data: { state: "stopping" } });
  if (c.runtimeId) {
    const agent = agentFor(c.host);
    if (graceSeconds > 0) await agent.stop(c.runtimeId, graceSeconds).catch(() => {});
    await agent.remove(c.runtimeId, true).catch(() => {});
  }
  await db.container.update({ where: { id: c.id }, data: { state: "stopped", stoppedAt: new Date() } });
}
