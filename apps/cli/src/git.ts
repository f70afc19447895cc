/** The app of the current directory, from its `paas` git remote. */
import { execFileSync } from "node:child_process";
import { appName } from "@paas/shared";
import { CliError } from "./credentials.ts";

/** `http://host:3000/git/hello.git` -> `hello`; null for URLs that are not ours. */
export function appFromRemoteUrl(url: string): string | null {
  const m = /\/git\/([^/]+?)(?:\.git)?\/?$/.exec(url.trim());
  return m && appName.safeParse(m[1]).success ? m[1] : null;
}

/** The git URL of an app on the platform at `apiUrl` (no credentials in it). */
export function remoteUrlFor(apiUrl: string, app: string): string {
  return `${apiUrl.replace(/\/+$/, "")}/git/${app}.git`;
}

function git(args: string[], cwd: string): string {
  return execFileSync("git", args, { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }).trim();
}

export function remoteUrl(remote: string, cwd: string = process.cwd()): string | null {
  try {
    return git(["remote", "get-url", remote], cwd);
  } catch {
    return null;
  }
}

/** -a/--app wins; else the app named by the `remote` git remote of `cwd`. */
export function resolveApp(opt: string | undefined, remote = "paas", cwd: string = process.cwd()): string {
  if (opt) return opt;
  const url = remoteUrl(remote, cwd);
  if (!url) throw new CliError(`no app given: pass -a APP, or run this in a git repository with a "${remote}" remote (paas git:remote -a APP)`);
  const app = appFromRemoteUrl(url);
  if (!app) throw new CliError(`the "${remote}" git remote (${url}) is not a PaaS app URL (…/git/APP.git): pass -a APP`);
  return app;
}

export function isGitRepo(cwd: string = process.cwd()): boolean {
  try {
    return git(["rev-parse", "--is-inside-work-tree"], cwd) === "true";
  } catch {
    return false;
  }
}

export function setRemote(remote: string, url: string, cwd: string = process.cwd()): "added" | "updated" {
  if (remoteUrl(remote, cwd) !== null) {
    git(["remote", "set-url", remote, url], cwd);
    return "updated";
  }
  git(["remote", "add", remote, url], cwd);
  return "added";
}

/**
 * Makes git ask this CLI for the password of `url`: the helper prints the
 * token from PAAS_TOKEN or `paas login` at push time, so no token is written
 * into .git/config or the remote URL.
 */
export function setCredentialHelper(url: string, helperCommand: string, cwd: string = process.cwd()): void {
  const key = `credential.${url}.helper`;
  try {
    git(["config", "--local", "--unset-all", key], cwd);
  } catch {
    /* not set yet */
  }
  git(["config", "--local", "--add", key, helperCommand], cwd);
}
