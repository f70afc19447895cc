/**
 * The worker: takes build jobs from BullMQ and runs them. Stateless: any
 * number of workers on any number of hosts share the queue.
 */
import { Worker } from "bullmq";
import { QUEUE_BUILDS, type BuildJobData } from "@paas/shared";
import { createRedis } from "./redis.ts";
import { registerLocalHost } from "./hosts.ts";
import { runBuild } from "./build.ts";

const redis = createRedis();
const host = await registerLocalHost();
console.log(`worker: host ${host.name} registered (agent ${host.agentUrl})`);

const worker = new Worker<BuildJobData>(
  QUEUE_BUILDS,
  async (job) => {
    console.log(`worker: build ${job.data.buildId} started`);
    const status = await runBuild(redis, job.data.buildId);
    console.log(`worker: build ${job.data.buildId} ${status}`);
    return { status };
  },
  { connection: createRedis(), concurrency: 2, lockDuration: 60_000 },
);
worker.on("error", (err) => console.error("worker: queue error:", err.message));
await worker.waitUntilReady();
console.log(`worker: waiting for jobs on queue "${QUEUE_BUILDS}"`);

const shutdown = async () => {
  // close() lets running builds finish; a second signal exits at once.
  process.once("SIGTERM", () => process.exit(1));
  await worker.close();
  redis.disconnect();
  process.exit(0);
};
process.on("SIGTERM", shutdown);
process.on("SIGINT", shutdown);
