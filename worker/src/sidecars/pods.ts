/**
 * Sidecar containers: one per sidecar of the app (Sidecar rows) per replica, a pod member
 * that joins the replica's network namespace ("app") or has loopback only ("none") and mounts
 * the app volumes its spec names. Labelled so the reconcile loop and the stop paths find them:
 *   paas.app, paas.sidecar = KIND, paas.sidecar.of = the replica container's id,
 *   paas.sidecar.spec = a hash of what it was made from (a swap changes it), paas.replica.
 * They carry no paas.process label: the replica code never takes them for replicas.
 *
 * The app container is never touched here: attaching, swapping or detaching a sidecar only
 * starts or removes sidecar containers, and the runtime keeps a pod's network namespace while
 * any member runs. A sidecar runs with restart "always" (a crashed one is restarted alone by
 * its agent); one that is gone is made again by syncSidecars (the reconcile loop calls it).
 */
import { createHash } from "node:crypto";
import { db, type Sidecar } from "@paas/db";
import type { AgentClient, ContainerInfo } from "@paas/shared";
import { APP_PORT } from "../builders/context.ts";
import { agentFor } from "../hosts.ts";
import { ensureVolume } from "../volumes/mounts.ts";
import { kindOf, type ReplicaContext, type SidecarSpec } from "./kinds.ts";

export const SIDECAR_LABEL = "paas.sidecar";
export const SIDECAR_OF_LABEL = "paas.sidecar.of";
export const SIDECAR_SPEC_LABEL = "paas.sidecar.spec";

/** What a container of the sidecar was made from: a different hash means a swap. */
export const specHash = (s: Pick<Sidecar, "image" | "spec" | "memoryMb">) => createHash("sha256").update(`${s.image}\n${s.memoryMb}\n${s.spec}`).digest("hex").slice(0, 16);

export const isSidecar = (c: Pick<ContainerInfo, "labels">) => Boolean(c.labels[SIDECAR_LABEL]);

/** Up, or will be (its restart policy brings it back). */
const alive = (c: ContainerInfo) => c.state === "running" || c.state === "paused" || (c.state === "exited" && c.restartCount !== undefined && !c.stoppedByUser);

/** Starts the sidecar's container for one replica (its container must run). */
export async function startSidecar(agent: AgentClient, sidecar: Sidecar, replica: ReplicaContext): Promise<ContainerInfo> {
  const spec = JSON.parse(sidecar.spec) as SidecarSpec;
  const extra = kindOf(sidecar.kind).perReplica?.(spec, replica) ?? {};
  const volumes = [];
  for (const v of spec.volumes) {
    const row = await db.appVolume.findFirst({ where: { app: { name: replica.app.name }, name: v.name } });
    if (!row) throw new Error(`sidecar ${sidecar.kind} mounts volume ${v.name}, which ${replica.app.name} no longer has: detach it or add the volume (paas volumes:add)`);
    volumes.push({ name: await ensureVolume(agent, replica.app, row), path: v.path, ...(v.readOnly ? { readOnly: true } : {}) });
  }
  const { app } = replica;
  const info = await agent.createContainer({
    name: `${app.name}-${replica.processType}-${replica.number}-${sidecar.kind}-${Date.now().toString(36)}`.slice(0, 128),
    image: spec.image,
    ...(spec.cmd ? { cmd: spec.cmd } : {}),
    env: {
      ...spec.env,
      PAAS_APP: app.name,
      PAAS_PROCESS: `${replica.processType}.${replica.number}`,
      PAAS_RELEASE: `v${replica.release}`,
      PAAS_SIDECAR: sidecar.kind,
      // The app's port, on localhost with net "app".
      PORT: String(APP_PORT),
      ...extra.env,
    },
    memoryBytes: spec.memoryMb * 2 ** 20,
    // Under the app's cgroup: the team's kernel memory cap covers sidecars too.
    cgroupParent: `${app.team.name}/${app.name}`,
    network: spec.net === "app" ? `container:${replica.runtimeId}` : "none",
    volumes: [...volumes, ...(extra.volumes ?? [])],
    ...(spec.binds?.length || extra.binds?.length ? { binds: [...(spec.binds ?? []), ...(extra.binds ?? [])] } : {}),
    labels: {
      ...extra.labels,
      "paas.app": app.name,
      [SIDECAR_LABEL]: sidecar.kind,
      [SIDECAR_OF_LABEL]: replica.runtimeId,
      [SIDECAR_SPEC_LABEL]: specHash(sidecar),
      "paas.replica": `${replica.processType}.${replica.number}`,
    },
    restart: "always",
  });
  try {
    return await agent.start(info.id);
  } catch (err) {
    await agent.remove(info.id, true).catch(() => {});
    throw err;
  }
}

/** Starts every sidecar of the app for a replica just started; a failure names the sidecar. */
export async function startSidecars(agent: AgentClient, appId: string, replica: ReplicaContext): Promise<void> {
  for (const s of await db.sidecar.findMany({ where: { appId }, orderBy: { createdAt: "asc" } })) {
    try {
      await startSidecar(agent, s, replica);
    } catch (err) {
      throw new Error(`its sidecar ${s.kind} (${s.image}) did not start: ${(err as Error).message}`);
    }
  }
}

/** Removes the sidecars of a replica's container (it stopped, or is going). */
export async function removeSidecarsOf(agent: AgentClient, runtimeId: string): Promise<number> {
  const list = await agent.containers().catch(() => [] as ContainerInfo[]);
  const mine = list.filter((c) => c.labels[SIDECAR_OF_LABEL] === runtimeId);
  await Promise.all(mine.map((c) => agent.remove(c.id, true).catch(() => {})));
  return mine.length;
}

export interface SyncReport {
  started: number;
  removed: number;
  /** Sidecars that could not start: "web.1: sidecar x did not start: ...". */
  problems: string[];
}

/** A replica whose sidecars are synced: its row's fields the containers need. */
export interface SyncReplica {
  runtimeId: string;
  processType: string;
  number: number;
  release: number;
  host: { id: string; agentUrl: string };
}

/**
 * Makes the sidecar containers of the app match its Sidecar rows for `replicas` (those that
 * run): a missing one is started, one of a detached kind or made from another spec (a swap:
 * the old one goes first, so the two never hold one port of the pod at once) is removed.
 * Sidecars of containers not in `owners` (replicas gone) go too; those of replicas being
 * stopped stay for their stop to take. `running`: the hosts' container lists, if at hand.
 */
export async function syncSidecars(
  app: { id: string; name: string; team: { name: string } },
  replicas: SyncReplica[],
  owners: Set<string>,
  running?: Map<string, ContainerInfo[]>,
): Promise<SyncReport> {
  const report: SyncReport = { started: 0, removed: 0, problems: [] };
  const wanted = await db.sidecar.findMany({ where: { appId: app.id }, orderBy: { createdAt: "asc" } });
  const hosts = new Map(replicas.map((r) => [r.host.id, r.host]));
  for (const h of await db.host.findMany()) hosts.set(h.id, h);
  for (const host of hosts.values()) {
    const agent = agentFor(host);
    let list = running?.get(host.id);
    if (!list) {
      try {
        list = await agent.containers();
      } catch {
        continue; // an agent that does not answer: its sidecars are left as they are
      }
    }
    const mine = list.filter((c) => c.labels["paas.app"] === app.name && isSidecar(c));
    const remove = async (c: ContainerInfo) => {
      await agent.remove(c.id, true).catch(() => {});
      report.removed++;
    };
    // Sidecars of replicas that are gone.
    for (const c of mine) if (!owners.has(c.labels[SIDECAR_OF_LABEL] ?? "")) await remove(c);
    for (const r of replicas.filter((x) => x.host.id === host.id)) {
      const of = mine.filter((c) => c.labels[SIDECAR_OF_LABEL] === r.runtimeId);
      for (const c of of) if (!wanted.some((s) => s.kind === c.labels[SIDECAR_LABEL])) await remove(c);
      for (const s of wanted) {
        const have = of.filter((c) => c.labels[SIDECAR_LABEL] === s.kind);
        const good = have.find((c) => c.labels[SIDECAR_SPEC_LABEL] === specHash(s) && alive(c));
        for (const c of have) if (c !== good) await remove(c);
        if (good) continue;
        // A replica down (waiting for its restart) has no namespace to join yet: a later pass does it.
        if (list.find((c) => c.id === r.runtimeId)?.state !== "running") continue;
        try {
          await startSidecar(agent, s, { app, processType: r.processType, number: r.number, runtimeId: r.runtimeId, release: r.release });
          report.started++;
        } catch (err) {
          report.problems.push(`${r.processType}.${r.number}: sidecar ${s.kind} (${s.image}) did not start: ${(err as Error).message}`);
        }
      }
    }
  }
  return report;
}

/** The app's replicas that run now (rows with a container), as syncSidecars takes them, and every live owner. */
export async function liveReplicas(appId: string): Promise<{ replicas: SyncReplica[]; owners: Set<string> }> {
  const rows = await db.container.findMany({
    where: { appId, state: { in: ["starting", "running", "restarting", "stopping"] }, runtimeId: { not: null } },
    include: { host: true, release: { select: { version: true } } },
  });
  return {
    replicas: rows
      .filter((r) => r.state !== "stopping")
      .map((r) => ({ runtimeId: r.runtimeId!, processType: r.processType, number: r.number, release: r.release.version, host: r.host })),
    owners: new Set(rows.map((r) => r.runtimeId!)),
  };
}
