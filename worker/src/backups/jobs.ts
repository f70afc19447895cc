/**
 * Backup jobs (deploy jobs of kind "backup", run under the app's deploy lock so a deploy does
 * not swap the replicas being frozen): capture, restore, the container a download streams
 * from, and the retention of a schedule.
 *
 * Consistency: the app's replicas are frozen (the agent's pause: the cgroup freezer) while
 * restic reads the volume, and thawed in a finally, so a snapshot is the volume at one instant.
 * Frozen processes keep their pid and start time: nothing restarts. After each capture,
 * `restic check --read-data-subset=CHECK_SUBSET` verifies the repository's structure and re-reads
 * that share of its data (a full read of every pack each time would grow with the repository).
 */
import { db, type App, type Backup } from "@paas/db";
import { unlessAbsent, type AgentClient, type BackupJobOp } from "@paas/shared";
import { formatBytes } from "@paas/shared/sizes";
import { agentFor, pickHost } from "../hosts.ts";
import { runtimeVolumeName } from "../volumes/mounts.ts";
import { DATA, lastWords, ResticBox, ResticError } from "./engine.ts";
import { appRepo, redactRepoSecrets, type BackupRepo } from "./repo.ts";
import { ABANDONED, BackupError, captureHint, restoreHint } from "./report.ts";

export const CHECK_SUBSET = "10%";
export { BackupError };

export type BackupJob = BackupJobOp;

export interface BackupJobResult {
  backupId?: string;
  container?: { agentUrl: string; id: string; snapshot: string };
  pausedMs?: number;
  log: string[];
}

type AppT = App & { team: { name: string } };

/** The app's running replicas, to freeze while their volume is read or written. */
async function replicas(appId: string) {
  return db.container.findMany({ where: { appId, state: "running", runtimeId: { not: null } }, include: { host: true } });
}

/** Runs `f` with the app's replicas frozen; thaws them whatever happens; returns how long they were. */
async function frozen<T>(appId: string, f: () => Promise<T>): Promise<{ value: T; pausedMs: number }> {
  const rows = await replicas(appId);
  const paused: { agent: AgentClient; id: string }[] = [];
  const t0 = Date.now();
  try {
    for (const r of rows) {
      const agent = agentFor(r.host);
      await agent.pause(r.runtimeId!);
      paused.push({ agent, id: r.runtimeId! });
    }
    const value = await f();
    return { value, pausedMs: Date.now() - t0 };
  } finally {
    for (const p of paused) await p.agent.unpause(p.id).catch((err: Error) => console.error(`worker: backup: unpausing ${p.id}: ${err.message}`));
  }
}

async function initIfNew(box: ResticBox, repo: BackupRepo): Promise<void> {
  if (repo.localDir) {
    if (repo.fresh) await box.restic(["init"], "making the backup repository (restic init)");
    return;
  }
  const r = await box.run(["restic", "--no-cache", "cat", "config"]);
  if (r.code !== 0) await box.restic(["init"], "making the backup repository (restic init)");
}

async function volumeOf(app: AppT, name?: string) {
  const vols = await db.appVolume.findMany({ where: { appId: app.id }, orderBy: { createdAt: "asc" } });
  if (!vols.length) throw new BackupError(`${app.name} has no volume to back up: add one with \`paas volumes:add NAME PATH -a ${app.name}\``);
  if (!name) {
    if (vols.length > 1) throw new BackupError(`${app.name} has ${vols.length} volumes (${vols.map((v) => v.name).join(", ")}): name one with --volume NAME`);
    return vols[0]!;
  }
  const v = vols.find((x) => x.name === name);
  if (!v) throw new BackupError(`${app.name} has no volume ${name}: see \`paas volumes -a ${app.name}\``);
  return v;
}

/** The agent of the host holding the app's volumes (one host for now: where its replicas run). */
async function hostAgent(appId: string): Promise<{ agent: AgentClient; agentUrl: string }> {
  const r = (await replicas(appId))[0];
  const host = r?.host ?? (await pickHost());
  return { agent: agentFor(host), agentUrl: host.agentUrl };
}

export async function runBackupJob(appId: string, job: BackupJob): Promise<BackupJobResult> {
  const app = await db.app.findUniqueOrThrow({ where: { id: appId }, include: { team: true } });
  if (job.op === "capture") return capture(app, job);
  const backup = await db.backup.findFirst({ where: { id: job.backupId, appId } });
  if (!backup) throw new BackupError(`${app.name} has no backup ${job.backupId}: see \`paas backups -a ${app.name}\``);
  if (backup.status !== "succeeded" || !backup.snapshot) throw new BackupError(`backup ${backup.id} ${backup.status === "failed" ? `failed (${backup.error})` : "is not finished"}: pick a succeeded one (paas backups -a ${app.name})`);
  if (job.op === "restore") return restore(app, backup, job.to);
  return download(app, backup);
}

async function capture(app: AppT, job: Extract<BackupJob, { op: "capture" }>): Promise<BackupJobResult> {
  // Captures of an app run one at a time under its deploy lock: a row of it still running is
  // one whose worker died, and would otherwise say "running" for ever.
  await db.backup.updateMany({ where: { appId: app.id, status: "running" }, data: { status: "failed", error: ABANDONED, finishedAt: new Date() } });
  const vol = await volumeOf(app, job.volume).catch(async (err: Error) => {
    if (!job.scheduled) throw err;
    // Nobody waits for a scheduled capture's answer: its failure is kept as a row, as restic's are.
    const row = await db.backup.create({ data: { appId: app.id, volume: job.volume ?? "-", scheduled: true, status: "failed", error: err.message, finishedAt: new Date() } });
    throw new BackupError(`scheduled backup ${row.id} of ${app.name} FAILED: ${err.message}`, `Schedule the volume to back up (paas backups:schedule CRON --volume NAME -a ${app.name}) or stop the schedule (paas backups:unschedule -a ${app.name}).`);
  });
  const row = await db.backup.create({ data: { appId: app.id, volume: vol.name, scheduled: !!job.scheduled } });
  const { agent } = await hostAgent(app.id);
  let box: ResticBox | undefined;
  try {
    const repo = appRepo(app.name);
    if (!(await unlessAbsent(agent.volume(runtimeVolumeName(app.name, vol.name))))) throw new BackupError(`volume ${vol.name} of ${app.name} has no data on this host yet (no replica has mounted it)`, `Start a replica that mounts it (paas ps:scale web=1 -a ${app.name}), then back it up.`);
    box = await ResticBox.open(agent, { app, repo, volume: runtimeVolumeName(app.name, vol.name), readOnly: true, purpose: "capture" });
    await initIfNew(box, repo);
    const b = box;
    const { value: out, pausedMs } = await frozen(app.id, () => b.restic(["backup", "--json", "--host", app.name, "--tag", `volume=${vol.name}`, DATA], "restic backup"));
    const summary = out
      .split("\n")
      .map((l) => { try { return JSON.parse(l) as { message_type?: string; snapshot_id?: string; total_bytes_processed?: number; data_added?: number }; } catch { return {}; } })
      .find((m) => m.message_type === "summary");
    if (!summary?.snapshot_id) throw new ResticError("restic backup gave no snapshot id");
    await box.restic(["check", `--read-data-subset=${CHECK_SUBSET}`], "restic check after the backup");
    await db.backup.update({ where: { id: row.id }, data: { status: "succeeded", snapshot: summary.snapshot_id, sizeBytes: summary.total_bytes_processed ?? null, addedBytes: summary.data_added ?? null, pausedMs, finishedAt: new Date() } });
    const log = [`Backup ${row.id} of volume ${vol.name}: snapshot ${summary.snapshot_id.slice(0, 8)}, ${formatBytes(summary.total_bytes_processed ?? 0)} (${formatBytes(summary.data_added ?? 0)} new); the app was paused ${pausedMs} ms`];
    if (job.keep) log.push(await retain(box, app, vol.name, job.keep));
    return { backupId: row.id, pausedMs, log };
  } catch (err) {
    const reason = redactRepoSecrets((err as Error).message);
    await db.backup.update({ where: { id: row.id }, data: { status: "failed", error: reason, finishedAt: new Date() } });
    console.error(`worker: backup ${row.id} of ${app.name}/${vol.name} FAILED: ${reason}`);
    // A refusal of ours says what to do itself; restic's and the agent's get it here.
    const hint = err instanceof BackupError ? err.hint : captureHint(reason, app.name);
    throw new BackupError(`backup ${row.id} of ${app.name}'s volume ${vol.name} FAILED: ${reason}`, hint);
  } finally {
    await box?.close();
  }
}

/** Keeps the volume's last `keep` snapshots (restic forget --prune); the rows of the others go. */
async function retain(box: ResticBox, app: AppT, volume: string, keep: number): Promise<string> {
  await box.restic(["forget", "--tag", `volume=${volume}`, "--keep-last", String(keep), "--prune"], "restic forget (retention)");
  const left = (JSON.parse(await box.restic(["snapshots", "--json", "--tag", `volume=${volume}`], "restic snapshots")) as { id: string }[]).map((s) => s.id);
  // restic's backup summary gives a short id, its snapshot list the full one.
  const rows = await db.backup.findMany({ where: { appId: app.id, volume, status: "succeeded" } });
  const gone = rows.filter((r) => !r.snapshot || !left.some((id) => id.startsWith(r.snapshot!)));
  await db.backup.deleteMany({ where: { id: { in: gone.map((r) => r.id) } } });
  return `Retention: kept the last ${keep} backups of ${volume}, removed ${gone.length}`;
}

async function restore(app: AppT, backup: Backup, to?: string): Promise<BackupJobResult> {
  const { agent } = await hostAgent(app.id);
  const repo = appRepo(app.name);
  const source = await db.appVolume.findUnique({ where: { appId_name: { appId: app.id, name: backup.volume } } });
  const target = to ?? backup.volume;
  const targetRow = await db.appVolume.findUnique({ where: { appId_name: { appId: app.id, name: target } } });
  const runtimeName = runtimeVolumeName(app.name, target);
  if (!targetRow) {
    if (!to) throw new BackupError(`${app.name} has no volume ${target} any more: restore with --to NEW_VOLUME`);
    // A new volume: made on the host (the size of the one backed up), not mounted yet;
    // `paas volumes:add NAME PATH` then mounts it with this content (it adopts the runtime volume).
    if (await unlessAbsent(agent.volume(runtimeName))) throw new BackupError(`a volume ${target} of ${app.name} exists on the host already: pick another name`);
    await agent.createVolume({ name: runtimeName, ...(source ? { sizeBytes: source.sizeMb * 2 ** 20 } : {}), labels: { "paas.app": app.name, "paas.volume": target } });
  }
  let box: ResticBox | undefined;
  let wiped = false;
  try {
    box = await ResticBox.open(agent, { app, repo, volume: runtimeName, readOnly: false, purpose: "restore" });
    const b = box;
    // The snapshot is read before the volume is touched: a repository that cannot give it leaves the volume as it was.
    await b.restic(["cat", "snapshot", backup.snapshot!], "reading the snapshot (restic cat snapshot)");
    // Into a volume the replicas mount: they are frozen while it is emptied and written.
    const work = async () => {
      wiped = true;
      const wipe = await b.run(["find", DATA, "-mindepth", "1", "-delete"]);
      if (wipe.code !== 0) throw new ResticError(`emptying volume ${target} failed: ${lastWords(wipe.stderr)}`);
      await b.restic(["restore", backup.snapshot!, "--target", "/"], "restic restore");
    };
    let pausedMs = 0;
    if (targetRow) pausedMs = (await frozen(app.id, work)).pausedMs;
    else await work();
    return { pausedMs, log: [`Restored backup ${backup.id} (${backup.volume}) into volume ${target}${targetRow ? `; the app was paused ${pausedMs} ms` : `; mount it with \`paas volumes:add ${target} PATH -a ${app.name}\``}`] };
  } catch (err) {
    const reason = redactRepoSecrets((err as Error).message);
    console.error(`worker: restore of backup ${backup.id} of ${app.name} into ${target} FAILED: ${reason}`);
    await box?.close();
    box = undefined;
    // A new volume that did not get the backup goes: a failed restore --to leaves nothing behind.
    if (!targetRow) await agent.removeVolume(runtimeName).catch((e: Error) => console.error(`worker: restore: removing volume ${runtimeName}: ${e.message}`));
    const volume = !targetRow ? "removed" : wiped ? "emptied" : "unchanged";
    throw new BackupError(`restore of backup ${backup.id} into volume ${target} FAILED: ${reason}`, restoreHint(reason, { app: app.name, backupId: backup.id, volume: target, state: volume }));
  } finally {
    await box?.close();
  }
}

/** A container holding the repository only; the API streams `restic dump --archive tar` out of it, then removes it. */
async function download(app: AppT, backup: Backup): Promise<BackupJobResult> {
  const { agent, agentUrl } = await hostAgent(app.id);
  const box = await ResticBox.open(agent, { app, repo: appRepo(app.name), purpose: "download" });
  return { container: { agentUrl, id: box.id, snapshot: backup.snapshot! }, log: [] };
}
