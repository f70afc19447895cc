/**
 * The bare git repositories that pushes land in: one per app at
 * `$PAAS_DATA_DIR/repos/<app>.git`. The build never reads from them (the hook
 * sends the pushed tree as a tarball); they keep the history so that later
 * pushes send only what is new and `git clone` of an app works.
 */
import { mkdir, rename, rm, stat } from "node:fs/promises";
import path from "node:path";
import { randomBytes } from "node:crypto";
import { simpleGit } from "simple-git";
import { appName, config } from "@paas/shared";

export function reposDir(): string {
  return path.join(config().dataDir, "repos");
}

/** Where the app's repository lives (whether or not it exists yet). */
export function repoPath(app: string): string {
  // The name becomes a path: refuse anything but a valid app name.
  appName.parse(app);
  return path.join(reposDir(), `${app}.git`);
}

async function exists(p: string): Promise<boolean> {
  return stat(p).then(
    () => true,
    () => false,
  );
}

/**
 * Creates the app's bare repository if it is missing (HEAD -> refs/heads/<branch>)
 * and returns its path. Safe to call concurrently and repeatedly.
 */
export async function ensureRepo(app: string, opts: { branch?: string } = {}): Promise<string> {
  const dest = repoPath(app);
  if (await exists(path.join(dest, "HEAD"))) return dest;
  await mkdir(reposDir(), { recursive: true });
  // Initialise beside it and rename into place, so nobody ever sees half a repo
  // and two concurrent callers cannot both initialise the same directory.
  const tmp = `${dest}.tmp-${randomBytes(4).toString("hex")}`;
  await mkdir(tmp);
  try {
    await simpleGit(tmp).init(true, [`--initial-branch=${opts.branch ?? "main"}`]);
    await rename(tmp, dest);
  } catch (err) {
    await rm(tmp, { recursive: true, force: true });
    // Someone else created it meanwhile: theirs is as good as ours.
    if (await exists(path.join(dest, "HEAD"))) return dest;
    throw err;
  }
  return dest;
}

/** Points the app's repository's HEAD at its deploy branch, so a clone checks that one out. */
export async function setRepoHead(app: string, branch: string): Promise<void> {
  const dir = await ensureRepo(app, { branch });
  await simpleGit(dir).raw(["symbolic-ref", "HEAD", `refs/heads/${branch}`]);
}
