/**
 * The worker: takes build jobs and deploy jobs (config changes, rollbacks,
 * preview removal) from BullMQ and runs them. Stateless: any number of
 * workers on any number of hosts share the queues.
 *
 * This process is only the queues' consumer; the jobs run in a child process
 * (job-process.ts) that holds the database client and the pipeline while there
 * is work, and is stopped when there has been none for a while.
 */
import { Queue, Worker } from "bullmq";
import { QUEUE_BUILDS, QUEUE_DEPLOYS, QUEUE_RECONCILE, RECONCILE_EVERY_MS, type BuildJobData, type DeployJobData } from "@paas/shared/redis-keys";
import { createRedis } from "./redis.ts";
import { JobProcess } from "./job-process.ts";
import { checkReconcile } from "./reconcile-watch.ts";
import { DrainManager } from "./drains/manager.ts";

/** PAAS_WORKER_LINGER_SECONDS: how long the jobs process outlives its last job (default in job-process.ts). */
function lingerMs(raw = process.env.PAAS_WORKER_LINGER_SECONDS): number | undefined {
  if (raw === undefined || raw === "") return undefined;
  const seconds = Number(raw);
  if (!Number.isFinite(seconds) || seconds < 0) throw new Error(`PAAS_WORKER_LINGER_SECONDS must be a number of seconds, 0 or more; got "${raw}"`);
  return seconds * 1000;
}

const jobs = new JobProcess(lingerMs());

// Builds waiting for their app or team slot hold a job slot while they wait,
// so take more jobs than builds may run (per-team limits come from quotas).
const concurrency = Number(process.env.PAAS_WORKER_CONCURRENCY) || 8;

const worker = new Worker<BuildJobData>(QUEUE_BUILDS, (job) => jobs.build(job.data), {
  connection: createRedis(),
  concurrency,
  lockDuration: 60_000,
});
worker.on("error", (err) => console.error("worker: queue error:", err.message));

const deployer = new Worker<DeployJobData>(
  QUEUE_DEPLOYS,
  async (job) => {
    // Only the kind and app are logged: a job never carries config values.
    console.log(`worker: ${job.data.kind} job ${job.id} for app ${job.data.appId} started`);
    const t0 = Date.now();
    const result = await jobs.deploy(job.id!, job.data);
    const took = `${((Date.now() - t0) / 1000).toFixed(2)}s`;
    console.log(`worker: ${job.data.kind} job ${job.id} ${result.ok ? `done${result.version ? ` (v${result.version})` : ""} in ${took}` : `failed after ${took}: ${result.error}`}`);
    return result;
  },
  { connection: createRedis(), concurrency: 4, lockDuration: 60_000 },
);
deployer.on("error", (err) => console.error("worker: deploy queue error:", err.message));

// The reconcile loop: this process only watches (reconcile-watch.ts) and asks for a pass when
// what runs differs from what the last one left; the pass runs in the jobs process. One job id
// for all workers, so one pass is queued at a time however many ask.
const reconcileQueue = new Queue(QUEUE_RECONCILE, { connection: createRedis() });
// The job carries nothing (no app's name or ids stay in Redis after it: apps:destroy checks).
const askReconcile = (why: string) =>
  reconcileQueue.add("reconcile", {}, { jobId: "reconcile", removeOnComplete: true, removeOnFail: true }).then(
    () => console.log(`worker: reconcile pass asked for: ${why}`),
    (err: Error) => {
      console.error(`worker: asking for a reconcile pass: ${err.message}`);
    },
  );
// (The pass logs what it changed.)
const reconciler = new Worker(
  QUEUE_RECONCILE,
  async () => {
    await jobs.reconcile();
  },
  { connection: createRedis(), concurrency: 1, lockDuration: 60_000 },
);
reconciler.on("error", (err) => console.error("worker: reconcile queue error:", err.message));
const watchRedis = createRedis();
let watching = false;
const watch = setInterval(() => {
  if (watching) return;
  watching = true;
  checkReconcile(watchRedis)
    .then(async (why) => {
      if (why) await askReconcile(why);
    })
    .catch((err: Error) => console.error(`worker: reconcile watch: ${err.message}`))
    .finally(() => (watching = false));
}, RECONCILE_EVERY_MS);
// Once at start: after `up` (or a host's reboot) the apps come back without waiting for a difference.
void askReconcile("the worker started");

// Log drains: delivered from this process (always up), each by the worker that holds its lease.
const drains = new DrainManager(createRedis(), createRedis);
await drains.start();

await worker.waitUntilReady();
await deployer.waitUntilReady();
await reconciler.waitUntilReady();
console.log(`worker: waiting for jobs on queues "${QUEUE_BUILDS}", "${QUEUE_DEPLOYS}" and "${QUEUE_RECONCILE}"`);

const shutdown = async () => {
  // close() lets running jobs finish; a second signal exits at once.
  process.once("SIGTERM", () => process.exit(1));
  clearInterval(watch);
  await Promise.all([worker.close(), deployer.close(), reconciler.close(), reconcileQueue.close(), drains.stop()]);
  await jobs.stop();
  process.exit(0);
};
process.on("SIGTERM", shutdown);
process.on("SIGINT", shutdown);
