/**
 * deploy -> route -> retire for a release made under the app's deploy lock:
 * the end of every push, and the whole of a config change or a rollback
 * (jobs/deploys.ts). If anything fails before the commit, what was started is
 * removed, nothing stays switched, the release is recorded as failed with the
 * reason, and the old release keeps serving.
 */
import type { Redis } from "ioredis";
import { db } from "@paas/db";
import { WEB } from "@paas/db/formation";
import type { BuildLog } from "../build-log.ts";
import { LeaseLostError, type DeployLease } from "../deploy-lock.ts";
import { deploy, removeReplicas, type Replica } from "./deploy.ts";
import { pusherMessage } from "./push-error.ts";
import { route, type OnCommit } from "./route.ts";
import { retire } from "./retire.ts";
import { StepRunner } from "./runner.ts";
import { platformEvent } from "../app-events.ts";

export interface GoLiveInput {
  redis: Redis;
  releaseId: string;
  log: BuildLog;
  /** The app's deploy lock, held by the caller. */
  lease: DeployLease;
  onCommit?: OnCommit;
}

/** Returns the retirement of the previous releases' replicas, to run once the caller has answered. */
export async function goLive(steps: StepRunner, { redis, releaseId, log, lease, onCommit }: GoLiveInput): Promise<() => Promise<void>> {
  const release = await db.release.findUniqueOrThrow({
    where: { id: releaseId },
    include: { app: { include: { team: true, previewOf: true } } },
  });
  let replicas: Replica[] = [];
  const said = release.description ? ` (${release.description})` : "";
  await platformEvent(redis, release.app.name, { type: "deploy", line: `Deploying v${release.version}${said}` });
  try {
    if (lease.lost()) throw new LeaseLostError("this deploy's lease on the app ran out before it started (the worker stalled)");
    await db.release.update({ where: { id: release.id }, data: { status: "deploying" } });
    replicas = await steps.run(deploy, { release, log });
    // Only web replicas are routed; the other types run beside them.
    await steps.run(route, { redis, release, replicas: replicas.filter((c) => c.processType === WEB), lease, log, onCommit });
  } catch (err) {
    await removeReplicas(replicas);
    await db.release.update({ where: { id: release.id }, data: { status: "failed", error: pusherMessage(err).message } });
    await platformEvent(redis, release.app.name, { type: "deploy", line: `Deploy of v${release.version} failed: ${pusherMessage(err).message}; the running release keeps serving` });
    throw err;
  }
  await platformEvent(redis, release.app.name, { type: "deploy", line: `Deployed v${release.version}: ${replicas.map((r) => `${r.processType}.${r.number}`).join(", ") || "no replicas"}` });
  return steps.run(retire, { app: release.app, version: release.version, log });
}
