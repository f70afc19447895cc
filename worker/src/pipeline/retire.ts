/**
 * retire: once the router has switched to the new release, the replicas of
 * earlier ones drain and stop, and their images go once nothing runs them.
 * The pusher does not wait for it: the step says what will go and returns the
 * work, which runs after the log has ended. Only lower versions go, so a newer
 * deploy's replicas are never touched.
 *
 * A drain (drainThenStop): the replicas are out of the route already (the
 * router puts a server that left the table in maintenance: HAProxy sends it no
 * new request, and finishes those it has, on connections of their own; a
 * client's keep-alive connection is to HAProxy, not to the replica, so it
 * stays). They keep running PAAS_DRAIN_SECONDS for the router to apply the
 * change and their requests to finish, then get SIGTERM, then SIGKILL after
 * PAAS_STOP_GRACE_SECONDS.
 */
import { db } from "@paas/db";
import { config } from "@paas/shared";
import type { BuildLog } from "../build-log.ts";
import { collectImages } from "../jobs/images.ts";
import { stopReplica } from "./replicas.ts";
import type { Step } from "./runner.ts";

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
      where: { appId: app.id, release: { version: { lt: version } }, state: { in: ["starting", "running", "restarting"] } },
      include: { host: true },
    });
    if (old.length) log.step(`Retiring ${old.length} replica${old.length === 1 ? "" : "s"} of earlier releases after a ${config().drainSeconds}s drain`);
    return async () => {
      await drainThenStop(old);
      // Old images go once nothing runs them any more.
      await collectImages(app.id).catch((err) => console.error(`image gc of ${app.name} failed: ${(err as Error).message}`));
    };
  },
};

type ReplicaRow = Parameters<typeof stopReplica>[0];

/**
 * Replicas that left the route: PAAS_DRAIN_SECONDS for their requests to finish, then SIGTERM,
 * and SIGKILL after PAAS_STOP_GRACE_SECONDS. Whoever takes replicas out of service (a deploy,
 * a scale-down) unpublishes them first (route.ts), then calls this.
 */
export async function drainThenStop(replicas: ReplicaRow[]): Promise<void> {
  if (!replicas.length) return;
  const { drainSeconds, stopGraceSeconds } = config();
  await new Promise((r) => setTimeout(r, drainSeconds * 1000));
  await Promise.all(replicas.map((c) => stopReplica(c, stopGraceSeconds)));
}

/** Stops and removes every replica of an app (a destroyed app: jobs/destroy.ts). */
export async function removeAllReplicas(appId: string): Promise<void> {
  const rows = await db.container.findMany({ where: { appId, state: { not: "stopped" } }, include: { host: true } });
  for (const c of rows) await stopReplica(c, 0);
}
