/**
 * The worker's jobs process (see job-process.ts): runs the build and deploy jobs main.ts
 * hands it, any number at once, and answers each by its id. It registers this host's agent
 * when it starts. It exits when main.ts disconnects (idle, or the worker stopping) once its
 * jobs are done; signals are left to main.ts, which owns its lifetime.
 */
import { db } from "@paas/db";
import { createRedis } from "./redis.ts";
import { registerLocalHost } from "./hosts.ts";
import { applyTeamCaps } from "./team-caps.ts";
import { runBuild } from "./build.ts";
import { discardSource } from "./pipeline/receive.ts";
import { BuildLog } from "./build-log.ts";
import { acquireBuildSlot, SupersededError } from "./jobs/build-slots.ts";
import { QuotaError } from "@paas/db/quotas";
import { runDeployJob } from "./jobs/deploys.ts";
import { reconcileAll } from "./reconcile.ts";
import type { BuildResult, JobReply, JobRequest, ReconcileResult } from "./job-process.ts";

if (!process.send) throw new Error("job-runner.ts is the worker's child process: run worker/src/main.ts");

const redis = createRedis();
let running = 0;
let disconnected = false;

// main.ts stops the worker: it lets the jobs under way finish, then disconnects.
process.on("SIGTERM", () => {});
process.on("SIGINT", () => {});

const registered = registerLocalHost().then(
  async (host) => {
    console.log(`worker: host ${host.name} registered (agent ${host.agentUrl})`);
    // The teams' kernel caps on this host before anything of theirs starts here.
    for (const line of await applyTeamCaps().catch((err: Error) => [err.message])) console.error(`worker: team caps: ${line}`);
  },
  (err: Error) => {
    // The jobs waiting on it fail with this; main.ts starts a new process for the next one.
    console.error(`worker: registering this host's agent failed: ${err.message}`);
    throw err;
  },
);

async function build(buildId: string): Promise<BuildResult> {
  try {
    let release: () => Promise<void>;
    const log = new BuildLog(redis, buildId);
    try {
      release = await acquireBuildSlot(redis, buildId, log);
    } catch (err) {
      // Superseded, or the team's build minutes of the day are used up: said to the pusher.
      if (!(err instanceof SupersededError || err instanceof QuotaError)) throw err;
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
  } finally {
    // The job is run once (attempts: 1): whatever its end, nothing fetches this source again.
    // (A worker that dies mid-build never gets here; the stalled job's next run needs it.)
    await discardSource(buildId).catch((err) => console.error(`worker: ${(err as Error).message}`));
  }
}

async function reconcile(): Promise<ReconcileResult> {
  const reports = await reconcileAll(redis);
  return { changed: reports.filter((r) => r.started || r.removed || r.rerouted).map(({ app, started, removed, rerouted }) => ({ app, started, removed, rerouted })) };
}

async function handle(job: JobRequest): Promise<JobReply> {
  running++;
  try {
    // Republishing an app's routes (its domains changed) drives no host: it need not wait for the agent.
    if (!(job.kind === "deploy" && job.data.kind === "routes")) await registered;
    const result =
      job.kind === "build" ? await build(job.data.buildId) : job.kind === "deploy" ? await runDeployJob(redis, job.jobId, job.data) : await reconcile();
    return { id: job.id, ok: true, result };
  } catch (err) {
    return { id: job.id, ok: false, error: (err as Error).message };
  } finally {
    running--;
  }
}

async function exitWhenDone() {
  if (!disconnected || running > 0) return;
  redis.disconnect();
  await db.$disconnect().catch(() => {});
  process.exit(0);
}

process.on("message", (job: JobRequest) => {
  void handle(job).then((reply) => {
    if (process.connected) process.send!(reply);
    return exitWhenDone();
  });
});
process.on("disconnect", () => {
  disconnected = true;
  void exitWhenDone();
});
// A failed registration ends the process once its jobs have had their answer.
registered.catch(() => {
  disconnected = true;
  void exitWhenDone();
});
