/**
 * Deploy jobs (queue "deploys"): releases that need no build.
 * - config:  the app's config vars changed; a new release of the current image.
 * - rollback: a new release with the image, process types and config of vN.
 * - destroy-preview: a preview branch was deleted; its replicas, routes, images and app go.
 * The API waits for the job and shows its result; values of config vars are
 * never logged here (only keys are named, in the release description).
 */
import type { Redis } from "ioredis";
import { db } from "@paas/db";
import { AgentError, QUEUE_DEPLOYS, type DeployJobData, type DeployJobResult } from "@paas/shared";
import { BuildLog } from "../build-log.ts";
import { createRelease } from "../release.ts";
import { deployRelease, DeployError, removeAllReplicas } from "../deploy.ts";
import { unpublishApp } from "../routes.ts";
import { agentFor, pickHost } from "../hosts.ts";
import { collectImages } from "./images.ts";

export { QUEUE_DEPLOYS, type DeployJobData, type DeployJobResult };

export class UserError extends Error {}

export async function runDeployJob(redis: Redis, jobId: string, data: DeployJobData): Promise<DeployJobResult> {
  const log = new BuildLog(redis, `deploy-${jobId}`);
  try {
    if (data.kind === "destroy-preview") {
      const app = await db.app.findUnique({ where: { id: data.appId } });
      if (!app) return { ok: true, log: [] };
      await unpublishApp(redis, app.name);
      await removeAllReplicas(app.id);
      // No release is live any more: every image of the app goes.
      await db.release.updateMany({ where: { appId: app.id }, data: { status: "superseded" } });
      await db.release.deleteMany({ where: { appId: app.id } });
      await collectImages(app.id).catch(() => {});
      await db.app.delete({ where: { id: app.id } });
      return { ok: true, log: [`Preview ${app.name} removed`] };
    }

    const app = await db.app.findUniqueOrThrow({ where: { id: data.appId } });
    const current = await db.release.findFirst({ where: { appId: app.id, status: "active" }, orderBy: { version: "desc" } });
    let release;
    if (data.kind === "config") {
      if (!current) return { ok: true, log: ["No release yet: the config applies to the next deploy"] };
      release = await createRelease({
        appId: app.id,
        buildId: current.buildId ?? undefined,
        imageRef: current.imageRef,
        processTypes: JSON.parse(current.processTypes) as Record<string, string>,
        description: data.description,
      });
    } else {
      const old = await db.release.findUnique({ where: { appId_version: { appId: app.id, version: data.version } } });
      if (!old) throw new UserError(`release v${data.version} of ${app.name} does not exist: see \`paas releases -a ${app.name}\``);
      const agent = agentFor(await pickHost());
      await agent.image(old.imageRef).catch((err) => {
        if (err instanceof AgentError && err.status === 404) {
          throw new UserError(`the image of v${data.version} was garbage-collected (only the last images are kept): roll back to a newer release or push again`);
        }
        throw err;
      });
      const config = JSON.parse(old.config) as Record<string, string>;
      // The app's config becomes v<N>'s again, so the next config:set starts from it.
      await db.$transaction([
        db.configVar.deleteMany({ where: { appId: app.id } }),
        ...Object.entries(config).map(([key, value]) => db.configVar.create({ data: { appId: app.id, key, value } })),
      ]);
      release = await createRelease({
        appId: app.id,
        buildId: old.buildId ?? undefined,
        imageRef: old.imageRef,
        processTypes: JSON.parse(old.processTypes) as Record<string, string>,
        description: `Rollback to v${data.version}`,
        config,
      });
    }
    const retire = await deployRelease(redis, release.id, log);
    await log.finish("succeeded", {});
    // The caller gets its answer once the new release serves; the old replicas retire after.
    void retire().catch((err) => console.error(`deploy job ${jobId}: retiring old replicas failed: ${(err as Error).message}`));
    return { ok: true, version: release.version, log: log.lines };
  } catch (err) {
    const known = err instanceof UserError || err instanceof DeployError || err instanceof AgentError;
    const message = known ? (err as Error).message : `internal error: ${(err as Error).message}`;
    if (!known) console.error(`deploy job ${jobId} failed:`, err);
    await log.finish("failed", { error: message }).catch(() => {});
    return { ok: false, error: message, log: log.lines };
  }
}
