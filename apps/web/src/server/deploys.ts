/**
 * Deploy jobs as the web process sees them: it adds them to the "deploys"
 * queue (the worker runs them: worker/src/jobs/deploys.ts) and waits for the
 * result, so `paas config:set` answers once the new release serves.
 */
import { TRPCError } from "@trpc/server";
import { Queue, QueueEvents } from "bullmq";
import { createRedis } from "./redis.ts";

import { QUEUE_DEPLOYS, type DeployJobData, type DeployJobResult } from "@paas/shared";

export type { DeployJobData, DeployJobResult };

const g = globalThis as unknown as { __paasDeployQueue?: Queue<DeployJobData>; __paasDeployEvents?: QueueEvents };

function deployQueue() {
  g.__paasDeployQueue ??= new Queue<DeployJobData>(QUEUE_DEPLOYS, {
    connection: createRedis(),
    defaultJobOptions: { attempts: 1, removeOnComplete: { count: 1000 }, removeOnFail: { count: 1000 } },
  });
  g.__paasDeployEvents ??= new QueueEvents(QUEUE_DEPLOYS, { connection: createRedis() });
  return { queue: g.__paasDeployQueue, events: g.__paasDeployEvents };
}

/**
 * A job that did not succeed as the caller's error: a quota's refusal is FORBIDDEN (as the
 * web's own quota checks, trpc.ts; the audit log records it as denied), anything else
 * PRECONDITION_FAILED.
 */
export function deployFailure(r: DeployJobResult, fallback: string): TRPCError {
  return new TRPCError({ code: r.denied ? "FORBIDDEN" : "PRECONDITION_FAILED", message: r.error ?? fallback });
}

/**
 * Queues the job and waits for its result (or says it still runs after `timeoutMs`).
 * `forget`: the job is removed once it succeeded (removing an app keeps nothing naming it).
 */
export async function runDeploy(data: DeployJobData, timeoutMs = 120_000, opts: { forget?: boolean } = {}): Promise<DeployJobResult> {
  const { queue, events } = deployQueue();
  await events.waitUntilReady();
  const job = await queue.add(data.kind, data);
  try {
    const result = (await job.waitUntilFinished(events, timeoutMs)) as DeployJobResult;
    if (opts.forget && result.ok) await job.remove().catch(() => {});
    return result;
  } catch (err) {
    const msg = (err as Error).message;
    if (/timed out/i.test(msg)) {
      return { ok: false, stillRunning: true, error: `the deploy is still running after ${timeoutMs / 1000}s (is the worker running?); see \`paas releases\``, log: [] };
    }
    return { ok: false, error: msg, log: [] };
  }
}
