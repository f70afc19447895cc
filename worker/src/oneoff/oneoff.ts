/**
 * One-off containers (deploy jobs of kind "one-off"): the container `paas run` and
 * `paas run:debug` run their command in. The worker makes and starts it (the spec is made as a
 * replica's is: the app's image, config vars, volumes, outbound network, cgroup); the web API
 * then runs the command in it through the agent's exec stream, relays that stream to the CLI,
 * and removes the container when the command ends.
 *   run:   the active release's image, env and volumes; its own address on the bridge.
 *   debug: stack/debug (curl, dig, ss, tcpdump, built at set-up) in replica N's network
 *          namespace and with its volumes (volumesFrom): nothing is installed in the app.
 * The container idles (sleep, 24 h at most) until the command comes; it carries paas.app and paas.run
 * labels, no paas.process: the reconcile loop leaves it alone, apps:destroy removes it.
 */
import { db } from "@paas/db";
import { activeRelease, WEB } from "@paas/db/formation";
import { APP_PORT } from "../builders/context.ts";
import { agentFor, pickHost } from "../hosts.ts";
import { egressSpec } from "../pipeline/egress.ts";
import { PushError } from "../pipeline/push-error.ts";
import { appVolumeMounts } from "../volumes/mounts.ts";

export class OneOffError extends PushError {}

export const DEBUG_IMAGE = "stack/debug";
/**
 * What the container runs until the command comes, and the longest a run may last: a day
 * (Heroku's one-off limit). The command's exec asks the agent to remove the container with it
 * (removeContainer), so a web process killed mid-run leaves nothing; this bounds only a
 * container whose command never came (the web process died between the two).
 */
const IDLE = ["sleep", "86400"];
const DEBUG_MEMORY_MB = 128;

export interface OneOffRequest {
  mode: "run" | "debug";
  /** debug: the replica, "web.1" or a number of web (default web.1). */
  replica?: string;
}

export async function startOneOff(appId: string, req: OneOffRequest): Promise<{ agentUrl: string; id: string; replica?: string }> {
  const app = await db.app.findUniqueOrThrow({ where: { id: appId }, include: { team: true } });
  const release = await activeRelease(db, app.id);
  if (!release) throw new OneOffError(`${app.name} has no release running yet: push it first (git push paas main)`);
  const labels = { "paas.app": app.name, "paas.run": req.mode, "paas.release": `v${release.version}` };
  const stamp = Date.now().toString(36);

  if (req.mode === "run") {
    const host = await pickHost();
    const agent = agentFor(host);
    const size = await db.formation.findUnique({ where: { appId_processType: { appId: app.id, processType: WEB } } });
    const volumes = await appVolumeMounts(agent, app);
    const info = await agent.createContainer({
      name: `${app.name}-run-${stamp}`,
      image: release.imageRef,
      cmd: IDLE,
      hostname: `${app.name}-run`.slice(0, 63),
      env: { ...(JSON.parse(release.config) as Record<string, string>), PORT: String(APP_PORT), PAAS_APP: app.name, PAAS_RELEASE: `v${release.version}`, PAAS_PROCESS: `run.${stamp}` },
      memoryBytes: (size?.memoryMb ?? 256) * 2 ** 20,
      ...(size ? { cpuMillis: size.cpuMillis } : {}),
      cgroupParent: `${app.team.name}/${app.name}`,
      network: "bridge",
      ...(await egressSpec(app)).spec,
      ...(volumes.length ? { volumes } : {}),
      labels,
    });
    await agent.start(info.id).catch(async (err) => {
      await agent.remove(info.id, true).catch(() => {});
      throw err;
    });
    return { agentUrl: host.agentUrl, id: info.id };
  }

  const m = /^(?:([a-z0-9_-]+)\.)?(\d+)$/.exec(req.replica ?? "1");
  if (!m) throw new OneOffError(`--replica ${req.replica}: name a replica as ps does, e.g. web.1 or 2 (web.2)`);
  const type = m[1] ?? WEB;
  const number = Number(m[2]);
  const row = await db.container.findFirst({
    where: { appId: app.id, processType: type, number, state: { in: ["running", "starting", "restarting"] }, runtimeId: { not: null } },
    orderBy: { createdAt: "desc" },
    include: { host: true },
  });
  if (!row) throw new OneOffError(`${app.name} has no replica ${type}.${number} running: see \`paas ps -a ${app.name}\``);
  const agent = agentFor(row.host);
  const info = await agent.createContainer({
    name: `${app.name}-debug-${type}-${number}-${stamp}`,
    image: DEBUG_IMAGE,
    cmd: IDLE,
    // The shell's prompt says where it is: root@<app>-debug-web-1.
    hostname: `${app.name}-debug-${type}-${number}`.slice(0, 63),
    env: { PAAS_APP: app.name, PAAS_PROCESS: `${type}.${number}`, PORT: String(APP_PORT) },
    memoryBytes: DEBUG_MEMORY_MB * 2 ** 20,
    cgroupParent: `${app.team.name}/${app.name}`,
    network: `container:${row.runtimeId}`,
    volumesFrom: row.runtimeId!,
    labels: { ...labels, "paas.run.of": row.runtimeId! },
  });
  await agent.start(info.id).catch(async (err) => {
    await agent.remove(info.id, true).catch(() => {});
    throw new OneOffError(`the debug container did not start in ${type}.${number}: ${(err as Error).message}`);
  });
  return { agentUrl: row.host.agentUrl, id: info.id, replica: `${type}.${number}` };
}
