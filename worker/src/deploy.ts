/**
 * Deploy a release: start its replicas, wait until each answers, switch the
 * router to them, then stop the old ones. If the new replicas never become
 * healthy, nothing is switched and the old release keeps serving.
 */
import { db } from "@paas/db";
import type { Redis } from "ioredis";
import { agentFor, pickHost } from "./hosts.ts";
import { waitHealthy } from "./health.ts";
import { previewHost, publishHost, publishRoutes } from "./routes.ts";
import type { BuildLog } from "./build-log.ts";
import { collectImages } from "./jobs/images.ts";

/** The port every web process listens on inside its container ($PORT). */
export const WEB_PORT = 5000;
const HEALTH_TIMEOUT_MS = 60_000;
const DRAIN_MS = 1000;
const STOP_GRACE_SECONDS = 10;

export class DeployError extends Error {}

/** Returns a function that retires the previous release's replicas. */
export async function deployRelease(redis: Redis, releaseId: string, log: BuildLog): Promise<() => Promise<void>> {
  const release = await db.release.findUniqueOrThrow({
    where: { id: releaseId },
    include: { app: { include: { team: true, previewOf: true } } },
  });
  const app = release.app;
  const formation =
    (await db.formation.findUnique({ where: { appId_processType: { appId: app.id, processType: "web" } } })) ??
    (await db.formation.create({ data: { appId: app.id, processType: "web", quantity: 1 } }));
  const config = JSON.parse(release.config) as Record<string, string>;
  await db.release.update({ where: { id: release.id }, data: { status: "deploying" } });

  log.step(`Releasing v${release.version}: starting ${formation.quantity} web replica${formation.quantity === 1 ? "" : "s"}`, "start");
  const started: { rowId: string; runtimeId: string; agentUrl: string; address: string }[] = [];
  try {
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
        env: { ...config, PORT: String(WEB_PORT), PAAS_APP: app.name, PAAS_RELEASE: `v${release.version}` },
        memoryBytes: formation.memoryMb * 2 ** 20,
        cgroupParent: `${app.team.name}/${app.name}`,
        network: "bridge",
        egress: false,
        labels: { "paas.app": app.name, "paas.release": `v${release.version}`, "paas.process": "web" },
      });
      const running = await agent.start(info.id);
      const address = `${running.ip}:${WEB_PORT}`;
      await db.container.update({
        where: { id: row.id },
        data: { runtimeId: info.id, address, state: "starting", startedAt: new Date() },
      });
      started.push({ rowId: row.id, runtimeId: info.id, agentUrl: host.agentUrl, address });
    }

    log.step("Waiting for the new replicas to answer", "health check");
    for (const c of started) {
      const agent = agentFor(c);
      const problem = await waitHealthy(
        c.address,
        async () => (await agent.container(c.runtimeId)).state === "running",
        HEALTH_TIMEOUT_MS,
      );
      if (problem) {
        const tail: string[] = [];
        for await (const l of agent.logs(c.runtimeId, { tail: 20 })) tail.push(l.line);
        if (tail.length) log.info(["Last lines of the app's output:", ...tail.map((l) => "  " + l)].join("\n"));
        throw new DeployError(`the new release v${release.version} did not start: ${problem}`);
      }
      await db.container.update({ where: { id: c.rowId }, data: { state: "running" } });
    }
  } catch (err) {
    // Leave the old release serving: remove what we started, switch nothing.
    for (const c of started) {
      await agentFor(c).remove(c.runtimeId, true).catch(() => {});
      await db.container.update({ where: { id: c.rowId }, data: { state: "crashed", stoppedAt: new Date() } });
    }
    await db.release.update({ where: { id: release.id }, data: { status: "failed" } });
    throw err;
  }

  await publishRoutes(redis, app.name, started.map((c) => c.address));
  // A preview app also answers at <branch>.<parent>.<domain>.
  if (app.previewOf && app.previewBranch) {
    await publishHost(redis, previewHost(app.previewBranch, app.previewOf.name), app.name, started.map((c) => c.address));
  }
  log.info(`Routing ${app.name} to ${started.map((c) => c.address).join(", ")}`);

  await db.release.updateMany({ where: { appId: app.id, status: "active" }, data: { status: "superseded" } });
  await db.release.update({ where: { id: release.id }, data: { status: "active" } });
  return async () => {
    await retireOldReplicas(app.id, release.id);
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
 * from them. The pusher does not wait for this.
 */
async function retireOldReplicas(appId: string, releaseId: string): Promise<void> {
  const old = await db.container.findMany({
    where: { appId, releaseId: { not: releaseId }, state: { in: ["starting", "running"] } },
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
