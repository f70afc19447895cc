/**
 * sidecars:attach and sidecars:detach (deploy jobs of kind "sidecars", run under the app's
 * deploy lock so they take turns with deploys and ps changes): the Sidecar row is written,
 * then every running replica's sidecar containers are made to match it (pods.ts syncSidecars).
 * The app's containers are never restarted. If a sidecar does not start on every replica,
 * the row goes back to what it was and the containers follow: nothing changed.
 */
import { db, type Sidecar } from "@paas/db";
import { assertDeployQuota, QuotaError } from "@paas/db/quotas";
import { desiredState } from "@paas/db/formation";
import type { SidecarChange } from "@paas/shared";
import type { BuildLog } from "../build-log.ts";
import { PushError } from "../pipeline/push-error.ts";
import { resolveSidecar, SidecarKindError } from "./kinds.ts";
import { liveReplicas, syncSidecars } from "./pods.ts";

/** A change that cannot be made as asked; nothing changed. */
export class SidecarError extends PushError {}

async function sync(app: { id: string; name: string; team: { name: string } }) {
  const { replicas, owners } = await liveReplicas(app.id);
  return { ...(await syncSidecars(app, replicas, owners)), replicas: replicas.length };
}

export async function applySidecarChange(appId: string, change: SidecarChange, log: BuildLog): Promise<string> {
  const app = await db.app.findUniqueOrThrow({ where: { id: appId }, include: { team: true } });
  const t0 = Date.now();
  if (change.action === "detach") {
    const gone = await db.sidecar.deleteMany({ where: { appId, kind: change.kind } });
    if (!gone.count) throw new SidecarError(`${app.name} has no sidecar ${change.kind}: see \`paas sidecars -a ${app.name}\``);
    const r = await sync(app);
    return `Detached ${change.kind} from ${app.name} (${r.removed} container${r.removed === 1 ? "" : "s"} removed, the app's containers untouched)`;
  }

  const req = change.request;
  let spec;
  try {
    spec = resolveSidecar(req, app);
  } catch (err) {
    if (err instanceof SidecarKindError) throw new SidecarError(err.message);
    throw err;
  }
  for (const v of spec.volumes) {
    if (!(await db.appVolume.findUnique({ where: { appId_name: { appId, name: v.name } } }))) {
      throw new SidecarError(`${app.name} has no volume ${v.name}: add it first (paas volumes:add ${v.name} /path -a ${app.name}); nothing changed`);
    }
  }
  // Sidecars' memory counts toward the team's memory, per replica (quotas.ts).
  const state = await desiredState(db, app.id);
  const others = (await db.sidecar.findMany({ where: { appId, kind: { not: req.kind } } })).reduce((n, s) => n + s.memoryMb, 0);
  if (state) {
    await assertDeployQuota(db, app, state.formation, others + spec.memoryMb).catch((err: unknown) => {
      throw err instanceof QuotaError ? new SidecarError(`${err.message}; nothing changed`, undefined, { cause: err }) : err;
    });
  }
  const before: Sidecar | null = await db.sidecar.findUnique({ where: { appId_kind: { appId, kind: req.kind } } });
  const data = { image: spec.image, spec: JSON.stringify(spec), memoryMb: spec.memoryMb };
  await db.sidecar.upsert({ where: { appId_kind: { appId, kind: req.kind } }, create: { appId, kind: req.kind, ...data }, update: data });
  const r = await sync(app);
  if (r.problems.length) {
    // Back to what it was: the new containers go, the old spec's come back.
    if (before) await db.sidecar.update({ where: { id: before.id }, data: { image: before.image, spec: before.spec, memoryMb: before.memoryMb } });
    else await db.sidecar.deleteMany({ where: { appId, kind: req.kind } });
    await sync(app).catch(() => {});
    throw new SidecarError(`${r.problems[0]}; nothing changed`);
  }
  const ms = Date.now() - t0;
  log.info(`${req.kind}: ${r.started} container${r.started === 1 ? "" : "s"} started, ${r.removed} removed in ${ms} ms`);
  const verb = before ? "Swapped" : "Attached";
  return `${verb} ${req.kind} (${spec.image}) on ${app.name}: ${r.replicas} replica${r.replicas === 1 ? "" : "s"}, ${r.started} started in ${(ms / 1000).toFixed(2)}s, the app's containers untouched`;
}
