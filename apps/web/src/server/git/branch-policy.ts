/**
 * The branch policy, decided once, here, from the app's own settings: which
 * ref update of a push deploys the app, deploys a preview, removes a preview,
 * or is refused. The pre-receive hook only passes git's ref updates on
 * (POST /internal/pushes); the decision is kept with the push token, and the
 * build and preview routes act on it, never on a branch the hook names.
 */
import { z } from "zod";

const sha = z.string().regex(/^[0-9a-f]{40}([0-9a-f]{24})?$/, "an object id is 40 or 64 hex digits");
export const refUpdate = z.object({ oldSha: sha, newSha: sha, ref: z.string().min(1).max(255) });
export type RefUpdate = z.infer<typeof refUpdate>;

export type PushDecision =
  /** Any refusal rejects the whole push (pre-receive accepts or rejects it as one). */
  | { action: "refuse"; refusals: string[] }
  | { action: "none" }
  | { action: "deploy"; update: RefUpdate; branch: string }
  | { action: "preview"; update: RefUpdate; branch: string }
  | { action: "destroy-preview"; branch: string };

export interface BranchSettings {
  deployBranch: string;
  /** Other branches deploy preview apps (App.previews). */
  previews: boolean;
}

/** Git's null object id (sha1 or sha256): the "old" of a create, the "new" of a delete. */
const isNullSha = (s: string) => /^0+$/.test(s);

/** Parses pre-receive's stdin (one `<old> <new> <ref>` per line); throws on a line that is not one. */
export function parseUpdates(text: string): RefUpdate[] {
  return text
    .split("\n")
    .map((l) => l.trim())
    .filter(Boolean)
    .map((l) => {
      const [oldSha, newSha, ref] = l.split(/\s+/);
      return refUpdate.parse({ oldSha, newSha, ref });
    });
}

export function decidePush(updates: RefUpdate[], { deployBranch, previews }: BranchSettings): PushDecision {
  const deployRef = `refs/heads/${deployBranch}`;
  const refusals: string[] = [];
  let decision: PushDecision = { action: "none" };
  for (const u of updates) {
    const branch = u.ref.startsWith("refs/heads/") ? u.ref.slice("refs/heads/".length) : null;
    const deletes = isNullSha(u.newSha);
    if (u.ref === deployRef) {
      if (deletes) refusals.push(`deleting the deploy branch "${deployBranch}" is not allowed`);
      else decision = { action: "deploy", update: u, branch: deployBranch };
    } else if (previews && branch) {
      decision = deletes ? { action: "destroy-preview", branch } : { action: "preview", update: u, branch };
    } else if (deletes) {
      refusals.push(`deleting ${u.ref} is not allowed`);
    } else if (branch) {
      refusals.push(`only the "${deployBranch}" branch deploys; to deploy "${branch}" run: git push paas ${branch}:${deployBranch}`);
    } else {
      refusals.push(`pushing ${u.ref} is not allowed: only the "${deployBranch}" branch is deployed`);
    }
  }
  if (previews && updates.length > 1) refusals.push("push one branch at a time: each branch deploys its own app");
  return refusals.length ? { action: "refuse", refusals } : decision;
}
