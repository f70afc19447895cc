/**
 * Replicas of a release: start one of a process type, check that it came up, stop or remove
 * it. A push's deploy, the ps changes (jobs/formation.ts) and the reconcile loop
 * (reconcile.ts) start and stop replicas only through here, so every replica is made the
 * same way.
 *
 * Replicas run with the runtime's restart policy "always": a replica that exits is started
 * again by its host's agent with backoff (100 ms doubling to 30 s, runtime/src/restart.ts),
 * with or without a worker running. A restarted container may get another bridge address;
 * the reconcile loop publishes the route to where it answers now.
 *
 * When a replica counts as up:
 * - web: it answers HTTP on $PORT within the boot timeout and passes the release's checks
 *   (checkReplica, bootTimeoutMs: health.ts);
 *   only web replicas are routed;
 * - any other type (worker, clock, ...): it is still running SETTLE_MS after its start. A
 *   process that exits by then, even with 0, fails the change: the formation says it runs,
 *   and one that ends at once would only be restarted over and over (one-off commands are
 *   `paas run`'s, not the formation's).
 */
import { db, type Formation } from "@paas/db";
import { config } from "@paas/shared";
import { WEB } from "@paas/db/formation";
import type { BuildLog } from "../build-log.ts";
import { APP_PORT, shellCmd } from "../builders/context.ts";
import { bootTimeoutMs, checkReplica, releaseChecks, type ReplicaProblem } from "../health.ts";
import { agentFor, pickHost } from "../hosts.ts";
import type { ReleaseOfApp } from "./deploy.ts";
import { egressSpec, type EgressSpec } from "./egress.ts";
import { removeSidecarsOf, startSidecars } from "../sidecars/pods.ts";
import { appVolumeMounts, ensureLogVolume } from "../volumes/mounts.ts";

/** How long a non-web process must keep running after its start to count as started. */
export const SETTLE_MS = 2_000;

/** A started replica: its row, its container and where it answers. */
export interface Replica {
  rowId: string;
  runtimeId: string;
  agentUrl: string;
  /** ip:$PORT on its host's bridge (every type gets $PORT; only web's is routed). */
  address: string;
  processType: string;
  number: number;
}

/**
 * A web replica whose app set PAAS_METRICS_PATH (e.g. /metrics) serves Prometheus metrics there,
 * on PORT or PAAS_METRICS_PORT: the agent scrapes it for Prometheus (runtime/src/agent/metrics.ts).
 */
function metricsLabel(type: string, config: Record<string, string>): Record<string, string> {
  const p = config.PAAS_METRICS_PATH;
  if (type !== WEB || !p || !/^\/\S*$/.test(p)) return {};
  const port = /^\d{1,5}$/.test(config.PAAS_METRICS_PORT ?? "") ? config.PAAS_METRICS_PORT : String(APP_PORT);
  return { "paas.metrics": `${port}${p}` };
}

/** "web.2", as ps names replicas. */
export const replicaName = (r: { processType: string; number: number }) => `${r.processType}.${r.number}`;

/**
 * Starts replica `number` of `size.processType` of `release`, sized by `size` (a Formation
 * row, or the one a ps change will write), with the app's outbound network `egress`
 * (egress.ts). Its row reads "starting" until the caller has checked it; what it made is
 * removed again when it fails.
 */
/** Seconds after a replica's start before its CPU quota applies (the runtime's startup boost). */
const CPU_BOOST_SECONDS = 10;

export async function startReplica(
  release: Pick<ReleaseOfApp, "id" | "version" | "imageRef" | "config" | "processTypes" | "app">,
  size: Pick<Formation, "processType" | "memoryMb" | "cpuMillis">,
  number: number,
  /** Made now when not given (a deploy or ps change makes it once for all its replicas). */
  egress?: EgressSpec,
): Promise<Replica> {
  const app = release.app;
  egress ??= (await egressSpec(app)).spec;
  const type = size.processType;
  const commands = JSON.parse(release.processTypes) as Record<string, string>;
  const config = JSON.parse(release.config) as Record<string, string>;
  const host = await pickHost();
  const agent = agentFor(host);
  const row = await db.container.create({ data: { appId: app.id, releaseId: release.id, hostId: host.id, processType: type, number } });
  const replica: Replica = { rowId: row.id, runtimeId: "", agentUrl: host.agentUrl, address: "", processType: type, number };
  try {
    // The app's volumes, and the replica's log directory (a logging sidecar can attach to it later).
    const volumes = [...(await appVolumeMounts(agent, app)), await ensureLogVolume(agent, app, type, number)];
    const info = await agent.createContainer({
      name: `${app.name}-${type}-v${release.version}-${number}-${Date.now().toString(36)}`,
      image: release.imageRef,
      // The image's command is the web process (the builders make it so); other types run their Procfile line.
      ...(type === WEB ? {} : { cmd: shellCmd(commands[type]) }),
      hostname: `${app.name}-${type}-${number}`.slice(0, 63),
      env: { ...config, PORT: String(APP_PORT), PAAS_APP: app.name, PAAS_RELEASE: `v${release.version}`, PAAS_PROCESS: `${type}.${number}` },
      memoryBytes: size.memoryMb * 2 ** 20,
      cpuMillis: size.cpuMillis,
      // Its start (node or python loading its modules) at full speed, then held to its CPUs.
      cpuBoostSeconds: CPU_BOOST_SECONDS,
      cgroupParent: `${app.team.name}/${app.name}`,
      network: "bridge",
      ...egress,
      volumes,
      labels: { "paas.app": app.name, "paas.release": `v${release.version}`, "paas.process": type, "paas.replica": String(number), ...metricsLabel(type, config) },
      restart: "always",
    });
    replica.runtimeId = info.id;
    const running = await agent.start(info.id);
    replica.address = `${running.ip}:${APP_PORT}`;
    // Its sidecars join it now (pods.ts): a new replica comes up with them.
    await startSidecars(agent, app.id, { app, processType: type, number, runtimeId: info.id, release: release.version });
    await db.container.update({
      where: { id: row.id },
      data: { runtimeId: info.id, address: replica.address, state: "starting", startedAt: new Date() },
    });
    return replica;
  } catch (err) {
    await removeReplicas([replica]);
    throw err;
  }
}

/** Null when the replica is up (see the top of this file), else why not. */
export async function replicaStartProblem(release: Pick<ReleaseOfApp, "checks">, c: Replica): Promise<ReplicaProblem | null> {
  const agent = agentFor(c);
  if (c.processType === WEB) return checkReplica(agent, c, APP_PORT, bootTimeoutMs(), releaseChecks(release));
  const settle = new AbortController();
  const timer = setTimeout(() => settle.abort(), SETTLE_MS);
  try {
    const r = await agent.wait(c.runtimeId, settle.signal);
    return {
      failed: "start",
      problem: `the process exited ${Math.round(SETTLE_MS / 1000)}s after its start at the latest (exit code ${r.exitCode}${r.oomKilled ? ", killed for lack of memory" : ""}); a ${c.processType} process must keep running`,
    };
  } catch (err) {
    // Still waiting when the time was up: it runs. (The client reports the abort as an AgentError.)
    if (settle.signal.aborted) return null;
    throw err;
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Checks `started` all at once and marks the good ones running. On the first problem the
 * replica's last lines go to the log and `fail(problem, replica)` is thrown.
 */
export async function checkReplicas(release: Pick<ReleaseOfApp, "checks">, started: Replica[], log: BuildLog, fail: (problem: ReplicaProblem, c: Replica) => Error): Promise<void> {
  const problems = await Promise.all(started.map((c) => replicaStartProblem(release, c)));
  const bad = started.findIndex((_, i) => problems[i]);
  if (bad >= 0) {
    const c = started[bad];
    const tail: string[] = [];
    for await (const l of agentFor(c).logs(c.runtimeId, { tail: 20 })) tail.push(l.line);
    if (tail.length) log.info([`Last lines of ${replicaName(c)}'s output:`, ...tail.map((l) => "  " + l)].join("\n"));
    throw fail(problems[bad]!, c);
  }
  for (const c of started) await db.container.update({ where: { id: c.rowId }, data: { state: "running" } });
}

/** Removes replicas a failed change started; their rows read as crashed. */
export async function removeReplicas(replicas: Pick<Replica, "rowId" | "runtimeId" | "agentUrl">[]): Promise<void> {
  for (const c of replicas) {
    if (c.runtimeId) {
      await agentFor(c).remove(c.runtimeId, true).catch(() => {});
      await removeSidecarsOf(agentFor(c), c.runtimeId);
    }
    await db.container.update({ where: { id: c.rowId }, data: { state: "crashed", stoppedAt: new Date() } });
  }
}

/** SIGTERM, then SIGKILL after `graceSeconds` (0: at once), then removal; the row follows. */
export async function stopReplica(c: { id: string; runtimeId: string | null; host: { agentUrl: string } }, graceSeconds = config().stopGraceSeconds): Promise<void> {
  await db.container.update({ where: { id: c.id }, data: { state: "stopping" } });
  if (c.runtimeId) {
    const agent = agentFor(c.host);
    if (graceSeconds > 0) await agent.stop(c.runtimeId, graceSeconds).catch(() => {});
    await agent.remove(c.runtimeId, true).catch(() => {});
    // Its sidecars after it: the app's last lines still reach a logging one.
    await removeSidecarsOf(agent, c.runtimeId);
  }
  await db.container.update({ where: { id: c.id }, data: { state: "stopped", stoppedAt: new Date() } });
}
