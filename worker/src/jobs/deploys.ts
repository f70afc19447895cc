/**
 * Deploy jobs (queue "deploys"): releases that need no build.
 * - config:  a config change (a ConfigChange row); a new release of the current image.
 * - rollback: a new release with the image, process types and config of vN.
 * - destroy-preview: a preview branch was deleted; the preview app goes (destroy.ts).
 * - destroy: `paas apps:destroy`; the app, its previews and all they have go (destroy.ts).
 * - egress: an outbound network change (App.egress); a new release of the current image whose
 *   replicas start with it, the setting kept only if that release goes live.
 * - routes: the app's custom domains changed; its hosts are published again (route.ts).
 * - formation: ps:scale, ps:stop, ps:resize, ps:restart (jobs/formation.ts).
 * - sidecars: sidecars:attach / detach (sidecars/attach.ts); no replica is restarted.
 * - backup: backups:capture / restore (backups/jobs.ts), also a schedule's captures; each ends
 *   with a platform line in the app's log (backups/report.ts); download makes its container.
 * - one-off: the container of a `paas run` or `run:debug` (oneoff/oneoff.ts); no lock (it changes no replica).
 * Each runs holding the app's deploy lock (deploy-lock.ts), in turn with builds'
 * deploys. A config change or a rollback writes the app's config vars in the
 * transaction that makes its release live, so a failed one changes nothing.
 * The API waits for the job and shows its result; values of config vars are
 * never logged here (only keys are named, in the release description).
 */
import { runBackupJob } from "../backups/jobs.ts";
import { reportBackupJob } from "../backups/report.ts";
import type { Redis } from "ioredis";
import { db, type Prisma, type Release } from "@paas/db";
import { QuotaError } from "@paas/db/quotas";
import { buildLogKey, QUEUE_DEPLOYS, unlessAbsent, type DeployJobData, type DeployJobResult, type FormationChange } from "@paas/shared";
import { platformEvent } from "../app-events.ts";
import { BuildLog } from "../build-log.ts";
import { configVars, createRelease } from "../pipeline/release.ts";
import { goLive } from "../pipeline/go-live.ts";
import { PushError, pusherMessage } from "../pipeline/push-error.ts";
import { syncAppRoutes } from "../pipeline/route.ts";
import { StepRunner } from "../pipeline/runner.ts";
import { agentFor, pickHost } from "../hosts.ts";
import { releaseChecks } from "../health.ts";
import { withDeployLock } from "../deploy-lock.ts";
import { destroyApp } from "./destroy.ts";
import { applyFormationChange } from "./formation.ts";
import { applySidecarChange } from "../sidecars/attach.ts";
import { startOneOff } from "../oneoff/oneoff.ts";

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

/** A ps change as the log says it: "Scaling web=3", "Resizing web to 512M", "Restarting web". */
function describeChange(c: FormationChange): string {
  const parts: string[] = [];
  if (c.quantity) parts.push(`Scaling ${Object.entries(c.quantity).map(([t, n]) => `${t}=${n}`).join(" ")}`);
  if (c.size) parts.push(`Resizing ${Object.entries(c.size).map(([t, s]) => `${t} to ${[s.memoryMb ? `${s.memoryMb}M` : "", s.cpuMillis ? `${s.cpuMillis / 1000} CPU` : ""].filter(Boolean).join(" ")}`).join(", ")}`);
  if (c.restart) parts.push(`Restarting ${c.restart.length ? c.restart.join(" ") : "all processes"}`);
  return parts.join("; ") || "ps change";
}

export async function runDeployJob(redis: Redis, jobId: string, data: DeployJobData): Promise<DeployJobResult> {
  const log = new BuildLog(redis, `deploy-${jobId}`);
  const wait = { waiting: (holder: string) => log.step(`Waiting: ${holder || "another deploy"} is deploying; this one follows`) };
  const steps = new StepRunner();
  // The release this job made, to name it when it fails.
  let made: Release | undefined;
  try {
    if (data.kind === "destroy-preview" || data.kind === "destroy") {
      const destroyed = await destroyApp(redis, data.appId, wait);
      // Its lines (waiting behind a deploy) name the app's builds: nothing of it is kept.
      await log.finish("succeeded", {});
      await redis.del(buildLogKey(`deploy-${jobId}`));
      const what = data.kind === "destroy" ? "App" : "Preview";
      return { ok: true, log: destroyed.length ? [`${what} destroyed${destroyed.length > 1 ? ` with ${destroyed.length - 1} preview app${destroyed.length > 2 ? "s" : ""}` : ""}`] : [] };
    }

    if (data.kind === "routes") {
      const app = await db.app.findUnique({ where: { id: data.appId }, include: { previewOf: true } });
      if (!app) return { ok: true, log: [] };
      // Under the lock: a deploy switching the app's replicas meanwhile would leave the domains on the old ones.
      const done = await withDeployLock(redis, app.id, "a change of the app's domains", wait, (lease) => syncAppRoutes(redis, app, lease));
      return { ok: true, log: [done] };
    }

    const app = await db.app.findUniqueOrThrow({ where: { id: data.appId } });
    if (data.kind === "formation") {
      const change = data.change;
      const what = describeChange(change);
      await platformEvent(redis, app.name, { type: "scale", line: `${what}: starting` });
      const version = await withDeployLock(redis, app.id, "a ps change", wait, (lease) => applyFormationChange(redis, lease, app.id, change, log)).catch(async (err: Error) => {
        await platformEvent(redis, app.name, { type: "scale", line: `${what} failed: ${err.message}` });
        throw err;
      });
      await platformEvent(redis, app.name, { type: "scale", line: `${what}: done (v${version})` });
      await log.finish("succeeded", {});
      return { ok: true, version, log: log.lines };
    }
    if (data.kind === "one-off") {
      const container = await startOneOff(app.id, { mode: data.mode, replica: data.replica });
      await log.finish("succeeded", {});
      await redis.del(buildLogKey(`deploy-${jobId}`));
      return { ok: true, log: [], container };
    }
    if (data.kind === "backup") {
      const { kind: _k, appId: _a, ...op } = data;
      // A download is a stream its caller watches end; captures and restores end in the app's log too.
      const r =
        op.op === "download"
          ? await runBackupJob(app.id, op)
          : await reportBackupJob(redis, app.name, op, () => withDeployLock(redis, app.id, `a backup ${op.op}`, wait, () => runBackupJob(app.id, op)));
      await log.finish("succeeded", {});
      await redis.del(buildLogKey(`deploy-${jobId}`));
      return { ok: true, log: r.log, ...(r.backupId ? { backupId: r.backupId } : {}), ...(r.container ? { container: r.container } : {}) };
    }
    if (data.kind === "sidecars") {
      const change = data.change;
      const done = await withDeployLock(redis, app.id, "a sidecar change", wait, () => applySidecarChange(app.id, change, log));
      await log.finish("succeeded", {});
      return { ok: true, log: [done] };
    }
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
            checks: releaseChecks(current),
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
    } else if (data.kind === "egress") {
      const next = { egress: data.egress, egressAllow: data.egressAllow };
      const done = await withDeployLock(redis, app.id, "an outbound network change", wait, async (lease) => {
        // Written under the lock, so the deploy below (and only it) starts with it; put back if it fails.
        const { egress, egressAllow } = await db.app.findUniqueOrThrow({ where: { id: app.id } });
        await db.app.update({ where: { id: app.id }, data: next });
        const current = await db.release.findFirst({ where: { appId: app.id, status: "active" }, orderBy: { version: "desc" } });
        if (!current) return "No release yet: the setting applies to the next deploy";
        try {
          made = await createRelease({
            appId: app.id,
            buildId: current.buildId ?? undefined,
            imageRef: current.imageRef,
            processTypes: JSON.parse(current.processTypes) as Record<string, string>,
            checks: releaseChecks(current),
            description: data.description,
            config: await configVars(app.id),
          });
          return await goLive(steps, { redis, releaseId: made.id, log, lease });
        } catch (err) {
          await db.app.update({ where: { id: app.id }, data: { egress, egressAllow } }).catch(() => {});
          throw err;
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
          checks: releaseChecks(old),
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
    const denied = err instanceof QuotaError || (err as Error)?.cause instanceof QuotaError;
    return { ok: false, version: made?.version, error: message, log: log.lines, ...(denied ? { denied } : {}) };
  }
}
