/**
 * An app's volumes (AppVolume rows, `paas volumes:add`) on a host: one runtime volume per app
 * volume and host, with the size the user gave as its cap (its own small filesystem), shared by
 * the replicas there and kept across deploys, restarts and rollbacks (they are the app's, not a
 * release's). Replicas, one-off runs and sidecars mount them through here.
 */
import { db, type AppVolume } from "@paas/db";
import { unlessAbsent, type AgentClient, type VolumeMount } from "@paas/shared";

/** The runtime's name of an app's volume (app names are unique on the platform and have no "_"). */
export const runtimeVolumeName = (app: string, volume: string) => `${app}_${volume}`;

/** Makes the app volume's runtime volume on the agent's host unless it is there. */
export async function ensureVolume(agent: AgentClient, app: { name: string }, v: Pick<AppVolume, "name" | "sizeMb">): Promise<string> {
  const name = runtimeVolumeName(app.name, v.name);
  if (!(await unlessAbsent(agent.volume(name)))) {
    await agent.createVolume({ name, sizeBytes: v.sizeMb * 2 ** 20, labels: { "paas.app": app.name, "paas.volume": v.name } }).catch(async (err: Error) => {
      // Made meanwhile by another replica's start.
      if (!(await unlessAbsent(agent.volume(name)))) throw err;
    });
  }
  return name;
}

/** Every volume of the app, made on the host where missing, as mounts at their paths. */
export async function appVolumeMounts(agent: AgentClient, app: { id: string; name: string }): Promise<VolumeMount[]> {
  const rows = await db.appVolume.findMany({ where: { appId: app.id }, orderBy: { createdAt: "asc" } });
  const mounts: VolumeMount[] = [];
  for (const v of rows) mounts.push({ name: await ensureVolume(agent, app, v), path: v.path });
  return mounts;
}

/**
 * Where a replica's own log files go (the app writes them there; a logging sidecar reads them
 * by mounting the same volume, see logVolumeName): every replica has it from its start, so a
 * sidecar that reads it attaches without the replica being restarted.
 */
export const LOG_PATH = "/var/log/app";

/** The runtime volume of replica `type.number`'s LOG_PATH (kept for the next replica of that number). */
export const logVolumeName = (app: string, type: string, number: number) => `${app}_log_${type}.${number}`;

/** Makes the replica's log volume on the host unless it is there (a plain directory: no size cap of its own). */
export async function ensureLogVolume(agent: AgentClient, app: { name: string }, type: string, number: number): Promise<VolumeMount> {
  const name = logVolumeName(app.name, type, number);
  if (!(await unlessAbsent(agent.volume(name)))) {
    await agent.createVolume({ name, labels: { "paas.app": app.name, "paas.log": `${type}.${number}` } }).catch(async (err: Error) => {
      if (!(await unlessAbsent(agent.volume(name)))) throw err;
    });
  }
  return { name, path: LOG_PATH };
}
