/**
 * Deploy jobs (queue "deploys"): releases that need no build.
 * - config:  a config change (a ConfigChange row); a new release of the current image.
 * - rollback: a new release with the image, process types and config of vN.
 * - destroy-preview: a preview branch was deleted; its replicas, routes, images and app go.
 * Each runs holding the app's deploy lock (deploy-lock.ts), in turn with builds'
 * deploys. A config change or a rollback writes the app's config vars in the
 * transaction that makes its release live, so a failed one changes nothing.
 * The API waits for the job and shows its result; values of config vars are
 * never logged here (only keys are named, in the release description).
 */
import type { Redis } from "ioredis";
import { db, type Prisma, type Release } from "@paas/db";
import { QUEUE_DEPLOYS, unlessAbsent, type DeployJobData, type DeployJobResult } from "@paas/shared";
import { BuildLog } from "../build-log.ts";
import { configVars, createRelease } from "../pipeline/release.ts";
import { goLive } from "../pipeline/go-live.ts";
import { PushError, pusherMessage } from "../pipeline/push-error.ts";
import { removeAllReplicas } from "../pipeline/retire.ts";
import { unpublishApp } from "../pipeline/route.ts";
import { StepRunner } from "../pipeline/runner.ts";
import { agentFor, pickHost } from "../hosts.ts";
import { collectImages } from "./images.ts";
import { forgetDeployLock, withDeployLock } from "../deploy-lock.ts";

export { QUEUE_DEPLOYS, type DeployJobData, type DeployJobResult };

export class UserError extends PushError {}

/** The config vars after a change: `set` added or replaced, `unset` removed. */
export function applyConfigChange(vars: Record<string, string>, set: Record<string, string>, unset: string[]): Record<string, string> {
  const next = { ...vars, ...set };
  for (const k of unset) delete next[k];
  return next;
}

/** Makes the app's config vars exactly `vars` (inside the transaction that commits a release). */
async function replaceConfigVars(tx: Prisma.TransactionClient, appId: string, vars: Record<string, string>): Promise<void> {
  await tx.configVar.deleteMany({ where: { appId } });
  for (const [key, value] of Object.entries(vars)) await tx.configVar.create({ data: { appId, key, value } });
}

export async function runDeployJob(redis: Redis, jobId: string, data: DeployJobData): Promise<DeployJobResult> {
  const log = new BuildLog(redis, `deploy-${jobId}`);
  const wait = { waiting: (holder: string) => log.step(`Waiting: ${holder || "another deploy"} is deploying; this one follows`) };
  const steps = new StepRunner();
  // The release this job made, to name it when it fails.
  let made: Release | undefined;
  try {
    if (data.kind === "destroy-preview") {
      const app = await db.app.findUnique({ where: { id: data.appId } });
      if (!app) return { ok: true, log: [] };
      // Not while a deploy of the preview runs: it would publish routes after ours went.
      await withDeployLock(redis, app.id, "the removal of this preview", wait, async () => {
        await unpublishApp(redis, app.name);
        await removeAllReplicas(app.id);
        // No release is live any more: every image of the app goes.
        await db.release.deleteMany({ where: { appId: app.id } });
        await collectImages(app.id).catch(() => {});
        await db.app.delete({ where: { id: app.id } });
      });
      await forgetDeployLock(redis, app.id);
      return { ok: true, log: [`Preview ${app.name} removed`] };
    }

    const app = await db.app.findUniqueOrThrow({ where: { id: data.appId } });
    let retire: () => Promise<void>;
    if (data.kind === "config") {
      const changeId = data.changeId;
      const done = await withDeployLock(redis, app.id, "a config change", wait, async (lease) => {
        const change = await db.configChange.findUnique({ where: { id: changeId } });
        // A job run again after a worker crash: the change was applied or dropped already.
        if (!change) return "This config change was handled already: see `paas releases`";
        try {
          const vars = applyConfigChange(await configVars(app.id), JSON.parse(change.set), JSON.parse(change.unset));
          const current = await db.release.findFirst({ where: { appId: app.id, status: "active" }, orderBy: { version: "desc" } });
          if (!current) {
            // Nothing runs yet: the next build's release (made under this lock) takes the vars.
            await db.$transaction(async (tx) => replaceConfigVars(tx, app.id, vars));
            return "No release yet: the config applies to the next deploy";
          }
          made = await createRelease({
            appId: app.id,
            buildId: current.buildId ?? undefined,
            imageRef: current.imageRef,
            processTypes: JSON.parse(current.processTypes) as Record<string, string>,
            description: data.description,
            config: vars,
          });
          // The vars change only if the release goes live: a failed change leaves them as they were.
          return await goLive(steps, { redis, releaseId: made.id, log, lease, onCommit: (tx) => replaceConfigVars(tx, app.id, vars) });
        } finally {
          // Applied or failed, the change is spent.
          await db.configChange.deleteMany({ where: { id: change.id } });
        }
      });
      if (typeof done === "string") {
        await log.finish("succeeded", {});
        return { ok: true, log: [done] };
      }
      retire = done;
    } else {
      const version = data.version;
      retire = await withDeployLock(redis, app.id, `a rollback to v${version}`, wait, async (lease) => {
        const old = await db.release.findUnique({ where: { appId_version: { appId: app.id, version } } });
        if (!old) throw new UserError(`release v${version} of ${app.name} does not exist: see \`paas releases -a ${app.name}\``);
        const agent = agentFor(await pickHost());
        if (!(await unlessAbsent(agent.image(old.imageRef)))) {
          throw new UserError(`the image of v${version} was garbage-collected (only the last images are kept): roll back to a newer release or push again`);
        }
        const config = JSON.parse(old.config) as Record<string, string>;
        made = await createRelease({
          appId: app.id,
          buildId: old.buildId ?? undefined,
          imageRef: old.imageRef,
          processTypes: JSON.parse(old.processTypes) as Record<string, string>,
          description: `Rollback to v${version}`,
          config,
        });
        // The app's config becomes v<N>'s again (so the next config:set starts from it),
        // only once v<N>'s image serves: a failed rollback leaves the config as it was.
        return goLive(steps, { redis, releaseId: made.id, log, lease, onCommit: (tx) => replaceConfigVars(tx, app.id, config) });
      });
    }
    await log.finish("succeeded", {});
    // The caller gets its answer once the new release serves; the old replicas retire after.
    void retire().catch((err) => console.error(`deploy job ${jobId}: retiring old replicas failed: ${(err as Error).message}`));
    return { ok: true, version: made?.version, log: log.lines };
  } catch (err) {
    const { message, internal } = pusherMessage(err);
    if (internal) console.error(`deploy job ${jobId} failed:`, err);
    // goLive recorded its failures; anything else that broke a made release is recorded here.
    if (made) await db.release.updateMany({ where: { id: made.id, status: { in: ["pending", "deploying"] } }, data: { status: "failed", error: message } }).catch(() => {});
    await log.finish("failed", { error: message }).catch(() => {});
    return { ok: false, version: made?.version, error: message, log: log.lines };
  }
}
