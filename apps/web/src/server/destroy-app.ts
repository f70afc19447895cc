/**
 * Destroying an app as the web process does it: the worker's job removes what runs and what
 * is stored on hosts, in Redis and in the database (worker/src/jobs/destroy.ts), under the
 * app's deploy lock; then this removes what the web app keeps in its data dir: the git
 * repository and build sources, of the app and its previews. The job is forgotten once done.
 */
import { rm } from "node:fs/promises";
import { db } from "@paas/db";
import { buildSourcePath, config } from "@paas/shared";
import { runDeploy } from "./deploys.ts";
import { repoPath } from "./git/repos.ts";
import { revokePushTokensOf } from "./git/push-tokens.ts";

/** Removing an app takes longer than a deploy when its builds must be stopped first. */
const DESTROY_TIMEOUT_MS = 300_000;

export class DestroyError extends Error {}

/** Destroys the app (`kind` "destroy-preview" for a preview whose branch went); throws DestroyError when it failed. */
export async function destroyApp(appId: string, kind: "destroy" | "destroy-preview" = "destroy"): Promise<void> {
  // What the data dir holds is read before the rows go.
  const apps = await db.app.findMany({ where: { OR: [{ id: appId }, { previewOfId: appId }] }, select: { id: true, name: true, previewOfId: true } });
  if (!apps.length) return;
  const ids = apps.map((a) => a.id);
  const builds = await db.build.findMany({ where: { appId: { in: ids } }, select: { id: true } });
  await revokePushTokensOf(ids);
  const r = await runDeploy({ kind, appId }, DESTROY_TIMEOUT_MS, { forget: true });
  if (!r.ok) throw new DestroyError(r.error ?? "the worker could not remove it");
  const dataDir = config().dataDir;
  // Previews are pushed through their parent's repository: they have none of their own.
  for (const a of apps) if (!a.previewOfId) await rm(repoPath(a.name), { recursive: true, force: true });
  for (const b of builds) await rm(buildSourcePath(dataDir, b.id), { force: true });
}
