/**
 * Destroying an app (`paas apps:destroy`, and a preview whose branch was deleted): everything
 * it has on the platform goes and its name is free again. In order:
 *   1. its preview apps, each the same way;
 *   2. its builds: pending ones are failed ("the app was destroyed"), running ones have their
 *      build containers killed until they end (a build cannot deploy after it);
 *   3. under the app's deploy lock, so a deploy under way cannot publish routes after ours go:
 *      its routes (the router stops sending it requests first), its replicas, any container
 *      labelled with it that no row knows, its images and build cache (`app/<app>:*`,
 *      `cache/<app>/*`, and the layers nothing else uses), its cgroup node on every host, and
 *      its custom domains' certificate files, and its rows (builds, releases, config,
 *      formation, containers, domains go by cascade);
 *   4. its Redis state: deploy lock, build slots, build and deploy logs, its jobs in the
 *      queues, its router figures.
 * The web app removes what it keeps in its data dir (the git repository, build sources).
 * A step that fails fails the job with the app still there: running it again finishes the work.
 */
import type { Redis } from "ioredis";
import { Queue } from "bullmq";
import { db } from "@paas/db";
import { removeAppDomains } from "@paas/db/domains";
import { backupScheduleId, buildLogKey, QUEUE_BUILDS, QUEUE_DEPLOYS, RECONCILE_EXPECTED_KEY, ROUTER_FIGURES_KEY, unlessAbsent, type DeployJobData } from "@paas/shared";
import { removeAppRepo } from "../backups/repo.ts";
import { agentFor } from "../hosts.ts";
import { createRedis } from "../redis.ts";
import { appLogKey, DRAINS_CHANGED, DRAINS_KEY, drainStatsKey } from "@paas/shared/app-log";
import { forgetDeployLock, withDeployLock, type LockWaitLog } from "../deploy-lock.ts";
import { unpublishApp } from "../pipeline/route.ts";
import { removeAllReplicas } from "../pipeline/retire.ts";
import { forgetBuildSlots } from "./build-slots.ts";
import { isAppImage } from "./images.ts";

/** How long running builds get to end once their containers are killed. */
const BUILDS_END_MS = 60_000;
const POLL_MS = 300;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** What the app was: the names of the apps destroyed (previews first), empty when it was gone already. */
export async function destroyApp(redis: Redis, appId: string, wait?: LockWaitLog): Promise<string[]> {
  const app = await db.app.findUnique({ where: { id: appId }, include: { team: true, previewApps: { select: { id: true } } } });
  if (!app) return [];
  const destroyed: string[] = [];
  for (const p of app.previewApps) destroyed.push(...(await destroyApp(redis, p.id, wait)));

  const buildIds = (await db.build.findMany({ where: { appId }, select: { id: true } })).map((b) => b.id);
  await endBuilds(app);
  const hosts = await db.host.findMany();
  await withDeployLock(redis, app.id, `the destruction of ${app.name}`, wait, async () => {
    await unpublishApp(redis, app.name);
    await removeAllReplicas(app.id);
    for (const host of hosts) {
      const agent = agentFor(host);
      // Containers no row knows: a deploy that died before writing its row, a build's.
      for (const c of await agent.containers()) {
        if (c.labels?.["paas.app"] === app.name) await unlessAbsent(agent.remove(c.id, true));
      }
      // Its volumes (paas volumes:add) and their data.
      for (const v of await agent.volumes()) if (v.labels["paas.app"] === app.name) await unlessAbsent(agent.removeVolume(v.name));
      const names = (await agent.images()).flatMap((i) => i.names).filter((n) => isAppImage(app.name, n));
      for (const name of names) await unlessAbsent(agent.removeImage(name, true));
      await agent.removeAppCgroup(app.team.name, app.name);
    }
    // Its custom domains' certificates in Redis (the rows would go by cascade, the PEMs would not).
    await removeAppDomains(db, redis, app.id);
    // Its backups' repository and key (a remote store's is left to its operator).
    removeAppRepo(app.name);
    await db.app.delete({ where: { id: app.id } });
  });
  await forgetRedisState(redis, app, buildIds);
  destroyed.push(app.name);
  return destroyed;
}

/**
 * No build of the app runs or starts after this: pending ones are failed, running ones lose
 * their containers (again each round: a build between two steps starts its next one) until
 * each has ended, at most BUILDS_END_MS.
 */
async function endBuilds(app: { id: string; name: string }): Promise<void> {
  await db.build.updateMany({
    where: { appId: app.id, status: "pending" },
    data: { status: "failed", error: "the app was destroyed", finishedAt: new Date() },
  });
  const until = Date.now() + BUILDS_END_MS;
  for (;;) {
    const running = await db.build.findMany({ where: { appId: app.id, status: "building" }, select: { id: true } });
    if (!running.length) return;
    if (Date.now() > until) {
      console.error(`destroy ${app.name}: builds ${running.map((b) => b.id).join(", ")} did not end in ${BUILDS_END_MS / 1000}s; destroying anyway`);
      return;
    }
    const ids = new Set(running.map((b) => b.id));
    for (const host of await db.host.findMany()) {
      const agent = agentFor(host);
      for (const c of await agent.containers().catch(() => [])) {
        if (ids.has(c.labels?.["paas.build"] ?? "")) await agent.remove(c.id, true).catch(() => {});
      }
    }
    await sleep(POLL_MS);
  }
}

/** The app's deploy lock, build slots, logs, queued jobs and router figures. */
async function forgetRedisState(redis: Redis, app: { id: string; name: string; teamId: string }, buildIds: string[]): Promise<void> {
  await forgetDeployLock(redis, app.id);
  await forgetBuildSlots(redis, app.id, app.teamId, buildIds);
  await redis.hdel(ROUTER_FIGURES_KEY, app.name);
  // Its log stream and drains: a new app of the same name starts with none of them.
  await redis.del(appLogKey(app.name), drainStatsKey(app.name));
  // (Its Drain rows go with the app's row.) The deliveries stop at once.
  await redis.hdel(DRAINS_KEY, app.name);
  await redis.publish(DRAINS_CHANGED, app.name);
  // What the last reconcile pass left names the app's containers: the next pass writes it again without them.
  await redis.del(RECONCILE_EXPECTED_KEY);

  const connection = createRedis();
  const builds = new Queue(QUEUE_BUILDS, { connection });
  const deploys = new Queue<DeployJobData>(QUEUE_DEPLOYS, { connection });
  try {
    // A build job's id is its build's. One still running (its last writes) is locked: retried a while.
    let left = buildIds;
    for (let i = 0; left.length && i < 20; i++) {
      if (i) await sleep(500);
      const next: string[] = [];
      for (const id of left) if ((await builds.remove(id)) === 0 && (await builds.getJob(id))) next.push(id);
      left = next;
    }
    // Its backup schedule (it names the app by id) goes before its jobs, so none is made after.
    await deploys.removeJobScheduler(backupScheduleId(app.id));
    // Deploy jobs name the app by id; the one running this destroy is the web app's to remove.
    const jobs = await deploys.getJobs(["completed", "failed", "waiting", "delayed", "prioritized", "waiting-children"]);
    for (const job of jobs) {
      if (job?.data?.appId !== app.id || !job.id) continue;
      await job.remove().catch(() => {});
      await redis.del(buildLogKey(`deploy-${job.id}`));
    }
  } finally {
    await Promise.all([builds.close(), deploys.close()]);
    connection.disconnect();
  }
  // Last: a build stopped above writes its log's end before its job ends.
  if (buildIds.length) await redis.del(...buildIds.map(buildLogKey));
}
