/**
 * Preview apps: with App.previews on, a push of branch `feature-x` deploys an
 * app of its own (separate replicas, image and releases) answering at
 * `feature-x.<app>.<domain>`; deleting the branch removes it. The preview app
 * is named `<app>--<label>` (naming.ts: the label is at most 31 characters,
 * cut with a hash when longer) and belongs to the parent's team; it inherits the
 * parent's config vars when it is created.
 */
import { db } from "@paas/db";
import { assertAppQuota } from "@paas/db/quotas";
import { branchLabel, config, previewAppName } from "@paas/shared";
import { destroyApp } from "./destroy-app.ts";

export class PreviewError extends Error {}

/** The branch's host label (naming.ts), or why it has none. */
function labelOf(branch: string): string {
  const label = branchLabel(branch);
  if (!label) throw new PreviewError(`the branch "${branch}" gives no usable host name: use letters and digits in its name`);
  return label;
}

/** `<label>.<parent>.<domain>`, the host the worker publishes a preview at (routes.ts previewHost). */
export const previewUrl = (label: string, parent: string): string => config().appUrl(`${label}.${parent}`);

export async function ensurePreviewApp(parentId: string, branch: string) {
  const parent = await db.app.findUniqueOrThrow({ where: { id: parentId }, include: { team: true } });
  if (!parent.previews) throw new PreviewError(`preview apps are off for ${parent.name}: paas apps:update -a ${parent.name} --previews on`);
  const label = labelOf(branch);
  const name = previewAppName(parent.name, label);
  const existing = await db.app.findUnique({ where: { name } });
  if (existing) {
    if (existing.previewOfId !== parent.id) throw new PreviewError(`an app named ${name} already exists and is not a preview of ${parent.name}`);
    // "Feature" and "feature", "a/b" and "a-b": one label, and a preview each cannot share.
    if (existing.deployBranch !== branch) {
      throw new PreviewError(`the branches "${existing.deployBranch}" and "${branch}" both make the preview ${name}: rename one of them (or delete the other's preview: git push paas :${existing.deployBranch})`);
    }
    return { app: existing, label };
  }
  // A preview is an app of the team: it counts against the app quota (count and insert in one transaction).
  const app = await db
    .$transaction(async (tx) => {
      await assertAppQuota(tx, parent.team);
      return tx.app.create({
        data: {
          name,
          teamId: parent.teamId,
          deployBranch: branch,
          previewOfId: parent.id,
          previewBranch: label,
          buildMode: parent.buildMode,
          buildTimeoutSeconds: parent.buildTimeoutSeconds,
          // A preview reaches out no further than its parent.
          egress: parent.egress,
          egressAllow: parent.egressAllow,
          // the parent's config as it is now (read only when a preview is made, not on every push)
          configVars: { create: await tx.configVar.findMany({ where: { appId: parent.id }, select: { key: true, value: true } }) },
        },
      });
    })
    .catch(async (err: { code?: string }) => {
      // Two pushes of the same new branch at once: the other one created it.
      if (err.code === "P2002") return db.app.findUniqueOrThrow({ where: { name } });
      throw err;
    });
  return { app, label };
}

/** Removes the preview of `branch` (replicas, routes, images, the app); says what happened. */
export async function destroyPreview(parentId: string, branch: string): Promise<string> {
  const parent = await db.app.findUniqueOrThrow({ where: { id: parentId } });
  const label = labelOf(branch);
  const app = await db.app.findUnique({ where: { name: previewAppName(parent.name, label) } });
  if (!app || app.previewOfId !== parent.id || app.deployBranch !== branch) return `No preview of ${branch} to remove`;
  await destroyApp(app.id, "destroy-preview").catch((err: Error) => {
    throw new PreviewError(`removing the preview failed: ${err.message}`);
  });
  return `Preview ${previewUrl(label, parent.name)} removed`;
}
