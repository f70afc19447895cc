/**
 * Where an app's backups live: a restic repository per app, a directory under the data dir
 * ($PAAS_DATA_DIR/backups/<app>/repo) by default, or an S3-compatible store when
 * PAAS_BACKUP_REPOSITORY is set (e.g. s3:https://minio.example:9000/bucket; the app's name is
 * appended; AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_DEFAULT_REGION are passed on).
 * The repository's password is generated once per app and kept beside it (0600, in a 0700
 * directory); it reaches restic as a file (RESTIC_PASSWORD_FILE), never in argv, env or logs.
 */
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { config, type BindMount } from "@paas/shared";

export interface BackupRepo {
  /** restic's RESTIC_REPOSITORY inside the backup container. */
  repository: string;
  /** Host directories the container gets (the repository's, when local, and the key's). */
  binds: BindMount[];
  env: Record<string, string>;
  /** The local repository's directory on the host (undefined for a remote store). */
  localDir?: string;
  /** True when the repository must be made (`restic init`) first. */
  fresh: boolean;
}

/** restic's environment that is secret: never shown (redactRepoSecrets). */
const SECRET_ENV = ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"];

export const backupRoot = () => process.env.PAAS_BACKUP_DIR || path.join(config().dataDir, "backups");

/** The app's repository, its key made when missing. */
export function appRepo(app: string): BackupRepo {
  const dir = path.join(backupRoot(), app);
  const keyDir = path.join(dir, "key");
  fs.mkdirSync(keyDir, { recursive: true, mode: 0o700 });
  fs.chmodSync(dir, 0o700);
  const keyFile = path.join(keyDir, "password");
  if (!fs.existsSync(keyFile)) fs.writeFileSync(keyFile, randomBytes(32).toString("base64url"), { mode: 0o600, flag: "wx" });
  const env: Record<string, string> = { RESTIC_PASSWORD_FILE: "/key/password" };
  const binds: BindMount[] = [{ source: keyDir, target: "/key", readOnly: true }];
  const remote = process.env.PAAS_BACKUP_REPOSITORY;
  if (remote) {
    for (const k of [...SECRET_ENV, "AWS_DEFAULT_REGION"]) if (process.env[k]) env[k] = process.env[k]!;
    // restic init fails on a repository that exists: "fresh" is decided by asking restic (engine.ts).
    return { repository: `${remote.replace(/\/+$/, "")}/${app}`, binds, env, fresh: false };
  }
  const repoDir = path.join(dir, "repo");
  fs.mkdirSync(repoDir, { recursive: true, mode: 0o700 });
  binds.push({ source: repoDir, target: "/repo", readOnly: false });
  return { repository: "/repo", binds, env, localDir: repoDir, fresh: !fs.existsSync(path.join(repoDir, "config")) };
}

/**
 * `text` (restic's words, a reason a user reads) without the store's secrets: the values of the
 * credentials restic is given, and a URL's credentials (a repository such as
 * rest:https://user:pass@host/ names them, and restic repeats it in its errors).
 */
export function redactRepoSecrets(text: string, env: NodeJS.ProcessEnv = process.env): string {
  for (const k of SECRET_ENV) {
    const v = env[k];
    // A value of a few characters would mask ordinary words and hide nothing worth hiding.
    if (v && v.length >= 4) text = text.split(v).join("***");
  }
  return text.replace(/([a-z][a-z0-9+.-]*:\/\/)[^\s/@]+@/gi, "$1***@");
}

/** Removes the app's local repository and key (apps:destroy). */
export function removeAppRepo(app: string): void {
  fs.rmSync(path.join(backupRoot(), app), { recursive: true, force: true });
}
