/**
 * A backup's end, said where people look: one platform line in the app's log stream
 * (`paas[backup]: ...`, beside the deploys' and crashes' lines) for every capture and restore,
 * and, when it failed, the backup's id, restic's reason (its secrets hidden) and what to do.
 * A scheduled capture has nobody waiting for its answer: this line and its Backup row (the
 * app's page, `paas backups`) are how its failure is seen.
 */
import type { Redis } from "ioredis";
import type { BackupJobOp } from "@paas/shared";
import { platformEvent } from "../app-events.ts";
import { PushError, pusherMessage } from "../pipeline/push-error.ts";
import { redactRepoSecrets } from "./repo.ts";

export const BACKUP_EVENT = "backup";

/** A failure whose message names the backup and says what to do (jobs.ts). */
export class BackupError extends PushError {}

/** The reason kept on a backup row whose capture never ended: its worker died (jobs.ts marks it). */
export const ABANDONED = "the worker stopped during this backup (it was restarted or killed): no snapshot was recorded";

const LOCKED = /unable to create lock|repository is already locked|locked exclusively/i;
const FULL = /no space left|disk quota exceeded|file too large/i;
const KEY = /wrong password|no key found|unable to open config|config: no such file/i;

/** What restic's reason points at, when it is one of the causes people meet; null otherwise. */
export function causeHint(reason: string): string | null {
  if (LOCKED.test(reason)) return "The backup repository is locked or cannot be written: if no other backup of the app runs, the platform's operator checks the repository's directory and runs `restic unlock`.";
  if (FULL.test(reason)) return "The backup store is full: free space on it, or keep fewer backups (paas backups:schedule CRON --keep N).";
  if (KEY.test(reason)) return "The repository does not open with the app's key: the platform's operator checks the repository and its key.";
  return null;
}

const operator = "if it fails again, the platform's operator reads the worker's log";

/** What to do after a failed capture (the app ran on; the volume was only read). */
export function captureHint(reason: string, app: string): string {
  const again = `run \`paas backups:capture -a ${app}\` again`;
  const cause = causeHint(reason);
  return cause ? `${cause} Then ${again}.` : `The app kept running and its volume is unchanged: ${again}; ${operator}.`;
}

/**
 * What to do after a failed restore. `state`: what became of the target volume: unchanged (the
 * failure came before it was touched), emptied (it was emptied for the restore, which then
 * failed), removed (a new volume of `--to`, taken away again).
 */
export function restoreHint(reason: string, o: { app: string; backupId: string; volume: string; state: "unchanged" | "emptied" | "removed" }): string {
  const again = `paas backups:restore ${o.backupId} -a ${o.app}`;
  if (o.state === "emptied") return `Volume ${o.volume} was emptied for the restore and holds only part of backup ${o.backupId}: run \`${again}\` again, or restore into a new volume with --to NEW_VOLUME; ${operator}.`;
  const cause = causeHint(reason);
  const was = o.state === "removed" ? `The new volume ${o.volume} was not kept.` : `Volume ${o.volume} is unchanged.`;
  return `${was} ${cause ? `${cause} Then run the restore again.` : `Run the restore again (${again}${o.state === "removed" ? ` --to ${o.volume}` : ""}); ${operator}.`}`;
}

/** The log line for a failed backup job: the error's words (with its hint) on one line, secrets hidden. */
export function failureLine(err: unknown, op: BackupJobOp): string {
  const { message } = pusherMessage(err);
  const what = err instanceof BackupError ? "" : op.op === "capture" ? "Backup capture FAILED: " : `${op.op === "restore" ? "Restore" : "Download"} of backup ${op.backupId} FAILED: `;
  const line = redactRepoSecrets(what + message.split("\n").join(" "));
  return line.charAt(0).toUpperCase() + line.slice(1);
}

/** Runs a capture or restore job, its end written to the app's log stream either way. */
export async function reportBackupJob<T extends { log: string[] }>(redis: Redis, app: string, op: BackupJobOp, run: () => Promise<T>): Promise<T> {
  let r: T;
  try {
    r = await run();
  } catch (err) {
    await platformEvent(redis, app, { type: BACKUP_EVENT, line: failureLine(err, op) });
    throw err;
  }
  if (r.log.length) await platformEvent(redis, app, { type: BACKUP_EVENT, line: r.log.join("; ") });
  return r;
}
