/**
 * What the CLI and the dashboard say when a deploy-branch change removed the preview app of
 * the new deploy branch (apps.update): that branch deploys the app itself from its next push.
 */
export function removedPreviewText(app: string, branch: string, preview: { name: string; url: string }): string {
  return `The preview app ${preview.name} (${preview.url}) was removed: ${branch} deploys ${app} itself now, from its next push (git push paas ${branch}).`;
}
