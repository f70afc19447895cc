/**
 * The worker: takes build jobs and deploy jobs (config changes, rollbacks,
 * preview removal) from BullMQ and runs them. Stateless: any number of
 * workers on any number of hosts share the queues.
 */
import { Worker } from "bullmq";
import { db } from "@paas/db";
import { QUEUE_BUILDS, type BuildJobData } from "@paas/shared";
import { createRedis } from "./redis.ts";
import { registerLocalHost } from "./hosts.ts";
import { runBuild } from "./build.ts";
import { BuildLog } from "./build-log.ts";
import { acquireBuildSlot, SupersededError } from "./jobs/build-slots.ts";
import { QUEUE_DEPLOYS, runDeployJob, type DeployJobData } from "./jobs/deploys.ts";

const redis = createRedis();
const host = await registerLocalHost();
console.log(`worker: host ${host.name} registered (agent ${host.agentUrl})`);

// Builds waiting for their app or team slot hold a job slot while they wait,
// so take more jobs than builds may run (per-team limits come from quotas).
const concurrency = Number(process.env.PAAS_WORKER_CONCURRENCY) || 8;

const worker = new Worker<BuildJobData>(
  QUEUE_BUILDS,
  async (job) => {
    const { buildId } = job.data;
    let release: (() => Promise<void>) | null = null;
    const log = new BuildLog(redis, buildId);
    try {
      release = await acquireBuildSlot(redis, buildId, log);
    } catch (err) {
      if (!(err instanceof SupersededError)) throw err;
      log.error(err.message);
      await db.build.update({ where: { id: buildId }, data: { status: "failed", error: err.message, finishedAt: new Date() } });
      await log.finish("failed", { error: err.message });
      console.log(`worker: build ${buildId} ${err.message}`);
      return { status: "failed" };
    }
    try {
      console.log(`worker: build ${buildId} started`);
      const status = await runBuild(redis, buildId);
      console.log(`worker: build ${buildId} ${status}`);
      return { status };
    } finally {
      await release().catch((err) => console.error(`worker: freeing the slot of build ${buildId}: ${(err as Error).message}`));
    }
  },
  { connection: createRedis(), concurrency, lockDuration: 60_000 },
);
worker.on("error", (err) => console.error("worker: queue error:", err.message));

const deployer = new Worker<DeployJobData>(
  QUEUE_DEPLOYS,
  async (job) => {
    // Only the kind and app are logged: a job never carries config values.
    console.log(`worker: ${job.data.kind} job ${job.id} for app ${job.data.appId} started`);
    const t0 = Date.now();
    const result = await runDeployJob(redis, job.id!, job.data);
    const took = `${((Date.now() - t0) / 1000).toFixed(2)}s`;
    console.log(`worker: ${job.data.kind} job ${job.id} ${result.ok ? `done${result.version ? ` (v${result.version})` : ""} in ${took}` : `failed after ${took}: ${result.error}`}`);
    return result;
  },
  { connection: createRedis(), concurrency: 4, lockDuration: 60_000 },
);
deployer.on("error", (err) => console.error("worker: deploy queue error:", err.message));

await worker.waitUntilReady();
await deployer.waitUntilReady();
console.log(`worker: waiting for jobs on queues "${QUEUE_BUILDS}" and "${QUEUE_DEPLOYS}"`);

const shutdown = async () => {
  // close() lets running jobs finish; a second signal exits at once.
  process.once("SIGTERM", () => process.exit(1));
  await Promise.all([worker.close(), deployer.close()]);
  redis.disconnect();
  process.exit(0);
};
process.on("SIGTERM", shutdown);
process.on("SIGINT", shutdown);
