/**
 * The build queue as the web process sees it: it only adds jobs; the worker
 * (worker/) consumes them.
 */
import { Queue } from "bullmq";
import { QUEUE_BUILDS, type BuildJobData } from "@paas/shared";
import { createRedis } from "./redis.ts";

const g = globalThis as unknown as { __paasBuildQueue?: Queue<BuildJobData> };

export function buildQueue(): Queue<BuildJobData> {
  g.__paasBuildQueue ??= new Queue<BuildJobData>(QUEUE_BUILDS, {
    connection: createRedis(),
    defaultJobOptions: {
      // A failed build is not transient (bad code, failing script): never retry.
      // A crashed worker is covered by BullMQ's stalled-job recovery instead.
      attempts: 1,
      removeOnComplete: { count: 1000, age: 7 * 24 * 3600 },
      removeOnFail: { count: 5000, age: 30 * 24 * 3600 },
    },
  });
  return g.__paasBuildQueue;
}

/** Queue the build; the job id is the build id, so adding it twice is a no-op. */
export async function enqueueBuild(buildId: string): Promise<void> {
  await buildQueue().add("build", { buildId }, { jobId: buildId });
}

/** BullMQ's view of a build job: "waiting", "active", "completed", "failed", ... or "unknown". */
export async function buildJobState(buildId: string): Promise<{ state: string; failedReason?: string }> {
  const job = await buildQueue().getJob(buildId);
  if (!job) return { state: "unknown" };
  return { state: await job.getState(), failedReason: job.failedReason || undefined };
}
