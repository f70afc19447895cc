/**
 * Deploy a release: start its replicas, wait until each answers, switch the
 * router to them, then commit (the release becomes active, with the caller's
 * own writes in the same transaction) and stop the old ones. The caller holds
 * the app's deploy lock (deploy-lock.ts). If anything fails before the commit,
 * what was started is removed, nothing is switched, the release is recorded as
 * failed with the reason, and the old release keeps serving.
 */
import { db, type Prisma } from "@paas/db";
import { assertDeployQuota, QuotaError } from "@paas/db/quotas";
import type { Redis } from "ioredis";
import { AgentError } from "@paas/shared";
import { agentFor, pickHost } from "./hosts.ts";
import { replicaProblem } from "./health.ts";
import { appHost, previewHost, publishHost, readHost, restoreHost } from "./routes.ts";
import type { BuildLog } from "./build-log.ts";
import { collectImages } from "./jobs/images.ts";
import { claimFence, LeaseLostError, type DeployLease } from "./deploy-lock.ts";
import { APP_PORT } from "./builders/context.ts";

const HEALTH_TIMEOUT_MS = 60_000;
const DRAIN_MS = 1000;
const STOP_GRACE_SECONDS = 10;

export class DeployError extends Error {}

/** Writes that must land only if the release goes live (a config change, a rollback's config). */
export type OnCommit = (tx: Prisma.TransactionClient) => Promise<void>;

/** Returns a function that retires the previous releases' replicas. */
export async function deployRelease(
  redis: Redis,
  releaseId: string,
  log: BuildLog,
  lease: DeployLease,
  onCommit?: OnCommit,
): Promise<() => Promise<void>> {
  const release = await db.release.findUniqueOrThrow({
    where: { id: releaseId },
    include: { app: { include: { team: true, previewOf: true } } },
  });
  const app = release.app;
  const config = JSON.parse(release.config) as Record<string, string>;
  const started: { rowId: string; runtimeId: string; agentUrl: string; address: string }[] = [];
  // The app's host, and a preview's also at <branch>.<parent>.<domain>; what they routed to before.
  const hosts = [appHost(app.name), ...(app.previewOf && app.previewBranch ? [previewHost(app.previewBranch, app.previewOf.name)] : [])];
  let before: (string | null)[] | null = null;
  try {
    if (lease.lost()) throw new LeaseLostError("this deploy's lease on the app ran out before it started (the worker stalled)");
    await db.release.update({ where: { id: release.id }, data: { status: "deploying" } });
    const formation =
      (await db.formation.findUnique({ where: { appId_processType: { appId: app.id, processType: "web" } } })) ??
      (await db.formation.create({ data: { appId: app.id, processType: "web", quantity: 1 } }));
    // The team's replicas and memory quota, before anything starts (the old release keeps serving).
    await assertDeployQuota(db, app, [formation]).catch((err: unknown) => {
      throw err instanceof QuotaError ? new DeployError(err.message) : err;
    });
    log.step(`Releasing v${release.version}: starting ${formation.quantity} web replica${formation.quantity === 1 ? "" : "s"}`, "start");
    for (let i = 1; i <= formation.quantity; i++) {
      const host = await pickHost();
      const agent = agentFor(host);
      const name = `${app.name}-web-v${release.version}-${i}-${Date.now().toString(36)}`;
      const row = await db.container.create({
        data: { appId: app.id, releaseId: release.id, hostId: host.id, processType: "web" },
      });
      const info = await agent.createContainer({
        name,
        image: release.imageRef,
        hostname: `${app.name}-web-${i}`,
        env: { ...config, PORT: String(APP_PORT), PAAS_APP: app.name, PAAS_RELEASE: `v${release.version}` },
        memoryBytes: formation.memoryMb * 2 ** 20,
        cgroupParent: `${app.team.name}/${app.name}`,
        network: "bridge",
        egress: false,
        labels: { "paas.app": app.name, "paas.release": `v${release.version}`, "paas.process": "web" },
      });
      started.push({ rowId: row.id, runtimeId: info.id, agentUrl: host.agentUrl, address: "" });
      const running = await agent.start(info.id);
      const address = `${running.ip}:${APP_PORT}`;
      started[started.length - 1].address = address;
      await db.container.update({
        where: { id: row.id },
        data: { runtimeId: info.id, address, state: "starting", startedAt: new Date() },
      });
    }

    log.step("Waiting for the new replicas to answer", "health check");
    for (const c of started) {
      const agent = agentFor(c);
      const problem = await replicaProblem(agent, c, APP_PORT, HEALTH_TIMEOUT_MS);
      if (problem) {
        const tail: string[] = [];
        for await (const l of agent.logs(c.runtimeId, { tail: 20 })) tail.push(l.line);
        if (tail.length) log.info(["Last lines of the app's output:", ...tail.map((l) => "  " + l)].join("\n"));
        throw new DeployError(`the new release v${release.version} did not start: ${problem}`);
      }
      await db.container.update({ where: { id: c.rowId }, data: { state: "running" } });
    }

    const addresses = started.map((c) => c.address);
    before = await Promise.all(hosts.map((h) => readHost(redis, h)));
    for (const h of hosts) await publishHost(redis, h, app.name, addresses, lease);
    log.info(`Routing ${app.name} to ${addresses.join(", ")}`);

    // The commit: fence, statuses and the caller's writes at once, or none of them.
    await db.$transaction(async (tx) => {
      await claimFence(tx, lease);
      await tx.release.updateMany({ where: { appId: app.id, status: "active" }, data: { status: "superseded" } });
      await tx.release.update({ where: { id: release.id }, data: { status: "active", error: null } });
      await onCommit?.(tx);
    });
  } catch (err) {
    // Leave the old release serving: switch back if we had switched (unless a newer
    // deploy owns the routes now), remove what we started.
    if (before && !(err instanceof LeaseLostError)) {
      for (const [i, h] of hosts.entries()) await restoreHost(redis, h, before[i], lease).catch(() => {});
    }
    for (const c of started) {
      await agentFor(c).remove(c.runtimeId, true).catch(() => {});
      await db.container.update({ where: { id: c.rowId }, data: { state: "crashed", stoppedAt: new Date() } });
    }
    const known = err instanceof DeployError || err instanceof LeaseLostError || err instanceof AgentError;
    const reason = known ? (err as Error).message : `internal error: ${(err as Error).message}`;
    await db.release.update({ where: { id: release.id }, data: { status: "failed", error: reason } });
    if (err instanceof LeaseLostError) throw new DeployError(err.message);
    throw err;
  }

  return async () => {
    await retireOldReplicas(app.id, release.version);
    // Old images go once nothing runs them any more.
    await collectImages(app.id).catch((err) => console.error(`image gc of ${app.name} failed: ${(err as Error).message}`));
  };
}

/** Stops and removes every replica of an app (a deleted preview). */
export async function removeAllReplicas(appId: string): Promise<void> {
  const rows = await db.container.findMany({ where: { appId, state: { not: "stopped" } }, include: { host: true } });
  for (const c of rows) await stopReplica(c, 0);
}

/**
 * Stops the replicas of earlier releases, once the router has switched away
 * from them. The pusher does not wait for this, and the deploy lock is free by
 * then: only lower versions go, so a newer deploy's replicas are never touched.
 */
async function retireOldReplicas(appId: string, version: number): Promise<void> {
  const old = await db.container.findMany({
    where: { appId, release: { version: { lt: version } }, state: { in: ["starting", "running"] } },
    include: { host: true },
  });
  if (!old.length) return;
  // Let the router pick up the new table and in-flight requests finish.
  await new Promise((r) => setTimeout(r, DRAIN_MS));
  for (const c of old) await stopReplica(c, STOP_GRACE_SECONDS);
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
