/**
 * The reconcile loop: keeps what runs equal to each app's desired state, so apps come back
 * by themselves after `./infra/down` and `up`, a host's reboot, or an agent that lost a
 * container, with no push. A pass (a job of QUEUE_RECONCILE, asked for by the workers' watch,
 * reconcile-watch.ts, when what runs differs from what the last pass left; one at a time
 * across all workers) goes over the apps, each under its deploy lock (deploy-lock.ts, without
 * waiting: an app being deployed is left to its deploy and looked at in a later pass). For each:
 *   1. desired: the app's formation (prisma/formation.ts): per process type of the active
 *      release that has a Formation row (a deploy makes them), its quantity of replicas;
 *   2. actual: the app's Container rows against what their hosts' agents run (labels
 *      paas.app / paas.release / paas.process tie a container to its app);
 *   3. a replica whose container is gone, or was stopped by someone else, is replaced (the
 *      same startReplica a deploy uses); one that exited and waits for its restart (the
 *      agent's restart policy, with backoff) counts as there, and its exit code, OOM, restart
 *      count and last lines of output are recorded on its row: a crash loop is shown;
 *   4. what is not wanted goes: replicas beyond the formation, replicas of releases no longer
 *      live (after their retirement's grace), and containers labelled as the app's replicas
 *      that no row knows;
 *   5. the app's route is published to its web replicas that run (only through route.ts).
 *      A web replica counts as up (its row "running") once it answered on $PORT since its
 *      last start, its agent's restarts included (answeredSinceStart): one routed that has,
 *      stays without a check (the router's own checks eject one that stops answering); one
 *      that has not (new, at a new address, or restarted since it last answered: a process
 *      that crashed, came back and hangs before it listens) is "starting", out of the route,
 *      and checked each pass until it answers and passes the release's checks (health.ts, as
 *      a deploy's). One silent past the boot timeout after its (re)start (bootTimeoutMs,
 *      Heroku's R10) is replaced; until then the pass asks the watch for another look
 *      (dueAt), as it does for the end of a retirement's grace.
 * A host whose agent does not answer is left alone: its replicas are not taken for lost.
 */
import type { Redis } from "ioredis";
import { db, type Host, type Prisma } from "@paas/db";
import { activeRelease, processTypesOf, WEB } from "@paas/db/formation";
import { restoreDrains } from "@paas/db/drains";
import { domainsMissingCerts, importLegacyCertFiles } from "@paas/db/domains";
import { config, RECONCILE_EXPECTED_KEY, ROUTES_KEY, type ContainerInfo, type ReconcileExpected, type RouteEntry } from "@paas/shared";
import { acquireDeployLock, forgetDeployLock } from "./deploy-lock.ts";
import { agentFor, pickHost } from "./hosts.ts";
import { APP_PORT } from "./builders/context.ts";
import { bootTimeoutMs, checkReplica, releaseChecks } from "./health.ts";
import { startReplica, stopReplica, type Replica } from "./pipeline/replicas.ts";
import { applyTeamCaps } from "./team-caps.ts";
import { platformEvent } from "./app-events.ts";
import { appHosts, publishHost, publishedBackends, routeHosts } from "./pipeline/route.ts";
import { isSidecar, syncSidecars } from "./sidecars/pods.ts";

/**
 * A new web replica's first health check; one left unrouted is checked again each pass, briefly,
 * and once more, longer, before it is replaced: a slow answer on a loaded host is not a hang.
 */
const FIRST_CHECK_MS = 30_000;
const RECHECK_MS = 2_000;
const LAST_CHECK_MS = 5_000;
/** A web replica not answering yet is looked at again this soon (until its boot timeout). */
const RECHECK_AFTER_MS = 5_000;
/** Replicas of an earlier release are retire.ts's to drain and stop for this long after the switch. */
const RETIRE_GRACE_MS = 120_000;
const LAST_LINES = 20;
/** Apps reconciled at once: a platform restart brings many back, each mostly waiting on its replicas. */
const PARALLEL_APPS = 4;

const LIVE = ["starting", "running", "restarting"];

export interface AppReport {
  app: string;
  /** Why nothing was done: "busy" (a deploy holds the lock), "unreachable" (an agent did not answer). */
  skipped?: "busy" | "unreachable";
  started: number;
  removed: number;
  rerouted: boolean;
  /** When this app wants another look, with nothing changed (ms since the epoch). */
  dueAt?: number;
}

/** One pass over every app; then replicas of apps that are gone go, and what the pass left is kept for the watch. */
export async function reconcileAll(redis: Redis): Promise<AppReport[]> {
  const apps = await db.app.findMany({ select: { id: true, name: true } });
  // The sidecars up before the pass, not after: one removed while the pass ran (after it made
  // the app's ones match) would be missing from both what runs and what the pass left, and no
  // watch would ever see it gone. One the pass makes is new to the watch: one more pass.
  const sidecars = await sidecarsRunning();
  await certificates(redis).catch((err: Error) => console.error(`reconcile: certificates: ${err.message}`));
  const reports: AppReport[] = [];
  const queue = [...apps];
  await Promise.all(
    Array.from({ length: Math.min(PARALLEL_APPS, queue.length) }, async () => {
      for (let app = queue.shift(); app; app = queue.shift()) {
        try {
          reports.push(await reconcileApp(redis, app.id));
        } catch (err) {
          console.error(`reconcile: ${app.name}: ${(err as Error).message}`);
        }
      }
    }),
  );
  for (const r of reports) {
    if (r.started || r.removed || r.rerouted) {
      console.log(`reconcile: ${r.app}: ${r.started} replica(s) started, ${r.removed} removed${r.rerouted ? ", route published" : ""}`);
    }
  }
  await removeOrphans(new Set(apps.map((a) => a.name)));
  // The drains' copy the worker's deliveries follow, where Redis lost it (or an app left one).
  const restored = await restoreDrains(db, redis).catch((err: Error) => {
    console.error(`reconcile: drains: ${err.message}`);
    return [];
  });
  for (const app of restored) console.log(`reconcile: ${app}: its drains published again from the database`);
  // Every team's kernel caps, on every host (a host back from a reboot has none).
  for (const line of await applyTeamCaps().catch((err: Error) => [err.message])) console.error(`reconcile: team caps: ${line}`);
  // Apps under a deploy (or a destroy) are left out: their replicas are in flux; the watch sees them as new next time.
  const busy = apps.filter((a) => reports.find((r) => r.app === a.name)?.skipped === "busy").map((a) => a.id);
  const due = reports.flatMap((r) => (r.dueAt ? [r.dueAt] : []));
  await redis.set(RECONCILE_EXPECTED_KEY, JSON.stringify(await expectedState(redis, busy, sidecars, due.length ? Math.min(...due) : undefined)));
  return reports;
}

/**
 * The custom domains' certificates in the store the routers fetch them from: those an earlier
 * version left on this host's disk are moved there (before any route is published); those it
 * lost (a flushed Redis: the database keeps no key) are said, with what to do.
 */
async function certificates(redis: Redis): Promise<void> {
  for (const host of await importLegacyCertFiles(redis, config().tlsDir)) console.log(`reconcile: ${host}: its certificate moved from ${config().tlsDir} to Redis`);
  for (const host of await domainsMissingCerts(redis)) {
    console.error(`reconcile: ${host}: its certificate is not in Redis (its data was lost?); it is served the default one until \`paas certs:add\` adds it again`);
  }
}

/** Replicas of apps that no longer exist (no deploy can be under way for them). */
async function removeOrphans(apps: Set<string>): Promise<void> {
  for (const h of await db.host.findMany()) {
    const agent = agentFor(h);
    const list = await agent.containers().catch(() => []);
    for (const c of list) {
      const app = c.labels["paas.app"];
      if (app && c.labels["paas.process"] && !c.labels["paas.build"] && !apps.has(app)) {
        await agent.remove(c.id, true).catch(() => {});
        console.log(`reconcile: removed ${c.name}, a replica of ${app}, which no longer exists`);
      }
    }
  }
}

/**
 * What the pass leaves, for the watch (reconcile-watch.ts) to compare with: the replicas the
 * database has as running or on their way (or being stopped) on every host, and the routing table.
 */
async function expectedState(redis: Redis, exceptApps: string[], sidecars: Map<string, { id: string; app: string }[]>, dueAt?: number): Promise<ReconcileExpected> {
  const [hosts, rows, table, skipped, kinds] = await Promise.all([
    db.host.findMany(),
    db.container.findMany({ where: { state: { in: [...LIVE, "stopping"] }, runtimeId: { not: null }, appId: { notIn: exceptApps } } }),
    redis.hgetall(ROUTES_KEY),
    db.app.findMany({ where: { id: { in: exceptApps } }, select: { name: true } }),
    db.sidecar.findMany({ where: { appId: { notIn: exceptApps } }, select: { appId: true, kind: true } }),
  ]);
  const skip = new Set(skipped.map((a) => a.name));
  const kindsOf = (appId: string) => kinds.filter((k) => k.appId === appId).map((k) => k.kind);
  const routes: Record<string, string[]> = {};
  for (const [host, raw] of Object.entries(table)) {
    try {
      routes[host] = (JSON.parse(raw) as RouteEntry).backends;
    } catch {}
  }
  return {
    hosts: hosts.map((h) => ({
      agentUrl: h.agentUrl,
      replicas: rows
        .filter((r) => r.hostId === h.id)
        .map((r) => {
          // A running replica has its app's sidecars beside it (one starting gets them at its start).
          const sidecars = r.state === "running" ? kindsOf(r.appId) : [];
          return { id: r.runtimeId!, address: r.address, restartCount: r.restartCount, ...(sidecars.length ? { sidecars } : {}) };
        }),
      sidecars: (sidecars.get(h.id) ?? []).filter((c) => !skip.has(c.app)).map((c) => c.id),
    })),
    routes,
    ...(dueAt ? { dueAt } : {}),
  };
}

/** Per host: the sidecar containers up (or to be restarted by their policy), with their app. */
async function sidecarsRunning(): Promise<Map<string, { id: string; app: string }[]>> {
  const out = new Map<string, { id: string; app: string }[]>();
  for (const h of await db.host.findMany()) {
    const list = await agentFor(h).containers().catch(() => [] as ContainerInfo[]);
    out.set(
      h.id,
      list
        .filter((c) => isSidecar(c) && (c.state === "running" || (c.state === "exited" && c.restartCount !== undefined && !c.stoppedByUser)))
        .map((c) => ({ id: c.id, app: c.labels["paas.app"] ?? "" })),
    );
  }
  return out;
}

type Row = Awaited<ReturnType<typeof liveRows>>[number];
const liveRows = (appId: string) =>
  db.container.findMany({ where: { appId, state: { in: LIVE } }, include: { host: true, release: { select: { version: true, status: true } } } });

/** Makes one app's replicas and route match its desired state; see the module's comment. */
export async function reconcileApp(redis: Redis, appId: string): Promise<AppReport> {
  const app = await db.app.findUniqueOrThrow({ where: { id: appId }, include: { team: true, previewOf: true } });
  const report: AppReport = { app: app.name, started: 0, removed: 0, rerouted: false };
  const lease = await acquireDeployLock(redis, app.id, "the reconcile loop (restoring replicas)", undefined, { noWait: true });
  if (!lease) return { ...report, skipped: "busy" };
  // Destroyed between the look-up and the lock (jobs/destroy.ts): leave no lock keys of it behind.
  if (!(await db.app.findUnique({ where: { id: app.id }, select: { id: true } }))) {
    await lease.release().catch(() => {});
    await forgetDeployLock(redis, app.id);
    return { ...report, skipped: "busy" };
  }
  try {
    const rows = await liveRows(app.id);

    // What the agents run now (after taking the lock: no deploy of this app starts any meanwhile).
    const hosts = new Map<string, Host>(rows.map((r) => [r.hostId, r.host]));
    const home = await pickHost();
    hosts.set(home.id, home);
    const running = new Map<string, ContainerInfo[]>();
    for (const h of hosts.values()) {
      try {
        running.set(h.id, await agentFor(h).containers());
      } catch (err) {
        console.error(`reconcile: ${app.name}: the agent of host ${h.name} did not answer (${(err as Error).message}); its replicas are left as they are`);
        return { ...report, skipped: "unreachable" };
      }
    }
    const containerOf = (r: { hostId: string; runtimeId: string | null }) => (r.runtimeId ? running.get(r.hostId)?.find((c) => c.id === r.runtimeId) : undefined);

    // Rows being stopped whose container went: whoever stopped it did not get to say so.
    for (const row of await db.container.findMany({ where: { appId: app.id, state: "stopping" } })) {
      if (!containerOf(row) && running.has(row.hostId)) await db.container.update({ where: { id: row.id }, data: { state: "stopped", stoppedAt: new Date() } });
    }

    // Rows whose container is up or will be (its restart policy), and the rest: gone.
    const kept: { row: Row; c: ContainerInfo }[] = [];
    for (const row of rows) {
      const c = containerOf(row);
      const willRun = c && (c.state === "running" || c.state === "paused" || (c.state === "exited" && c.restartCount !== undefined && !c.stoppedByUser));
      if (!c || !willRun) {
        if (c) await agentFor(row.host).remove(c.id, true).catch(() => {});
        await db.container.update({ where: { id: row.id }, data: { state: "stopped", stoppedAt: new Date() } });
        report.removed++;
        continue;
      }
      const crash = await recordState(row, c);
      if (crash) await platformEvent(redis, app.name, { type: row.processType, replica: row.number, line: crash });
      kept.push({ row, c });
    }

    // Containers labelled as this app's replicas that no row knows (a build's containers carry paas.build);
    // a "stopping" one is being drained and stopped by whoever set it so.
    const known = new Set(
      (await db.container.findMany({ where: { appId: app.id, state: { in: [...LIVE, "stopping"] } }, select: { runtimeId: true } })).map((r) => r.runtimeId),
    );
    for (const [hostId, list] of running) {
      for (const c of list) {
        if (c.labels["paas.app"] !== app.name || !c.labels["paas.process"] || c.labels["paas.build"] || known.has(c.id)) continue;
        await agentFor(hosts.get(hostId)!).remove(c.id, true).catch(() => {});
        report.removed++;
      }
    }

    // What should run: nothing for an app without an active release (what a deploy left is its own);
    // else the Formation rows of the release's process types that a deploy made (a deploy decides
    // which types run: the loop keeps them running, it does not start a type first).
    const release = await activeRelease(db, app.id);
    if (!release) return report;
    const types = processTypesOf(release);
    const formations = (await db.formation.findMany({ where: { appId: app.id, processType: { in: types } } })).sort(
      (a, b) => types.indexOf(a.processType) - types.indexOf(b.processType),
    );

    // Unwanted: replicas of releases no longer live (once retire.ts had its time), those beyond the formation.
    const unwanted: { row: Row; c: ContainerInfo }[] = [];
    const current: typeof kept = [];
    const settled = Date.now() - release.createdAt.getTime() > RETIRE_GRACE_MS;
    for (const k of kept) {
      if (k.row.releaseId === release.id) current.push(k);
      else if (settled) unwanted.push(k);
      else report.dueAt = release.createdAt.getTime() + RETIRE_GRACE_MS + 1000;
    }
    const toStart: { size: (typeof formations)[number]; number: number }[] = [];
    for (const f of formations) {
      const mine = current.filter((k) => k.row.processType === f.processType);
      // Beyond the quantity, down ones go first, then the highest numbers; the missing numbers are started.
      mine.sort((a, b) => Number(a.c.state === "running") - Number(b.c.state === "running") || b.row.number - a.row.number);
      const extra = Math.max(0, mine.length - f.quantity);
      unwanted.push(...mine.slice(0, extra));
      const taken = new Set(mine.slice(extra).map((k) => k.row.number));
      for (let n = 1, missing = f.quantity - (mine.length - extra); missing > 0; n++) {
        if (!taken.has(n)) toStart.push({ size: f, number: n }), missing--;
      }
    }
    const wantedTypes = new Set(formations.map((f) => f.processType));
    for (const k of current) if (!wantedTypes.has(k.row.processType)) unwanted.push(k);

    // Start what is missing (on failure the rest of the app waits for the next pass).
    const fresh: Replica[] = [];
    for (const s of toStart) {
      try {
        fresh.push(await startReplica({ ...release, app }, s.size, s.number));
        report.started++;
      } catch (err) {
        console.error(`reconcile: ${app.name}: starting ${s.size.processType}.${s.number} of v${release.version} failed: ${(err as Error).message}`);
        break;
      }
    }
    const freshWeb = new Set(fresh.map((r) => r.rowId));
    const freshRows = await db.container.findMany({ where: { id: { in: [...freshWeb] } }, include: { host: true, release: { select: { version: true, status: true } } } });

    // The route: web replicas of the active release that run, minus the unwanted.
    const leaving = new Set(unwanted.map((u) => u.row.id));
    const candidates = [
      ...current.filter((k) => !leaving.has(k.row.id) && k.c.state === "running" && k.c.ip).map((k) => ({ row: k.row, address: `${k.c.ip}:${APP_PORT}` })),
      ...freshRows.map((row) => ({ row, address: row.address! })),
    ].filter((x) => x.row.processType === WEB);
    const hostNames = routeHosts(app);
    // Routed and answered since its last (re)start: kept without a check (the router's own checks
    // eject one that stops answering). Else once it answers and passes the release's checks
    // (app.json / CHECKS), as at deploy.
    const published = new Set((await publishedBackends(redis, hostNames[0])) ?? []);
    const releaseCheck = releaseChecks(release);
    const bootMs = bootTimeoutMs();
    const startOf = (row: Row) => {
      const k = current.find((x) => x.row.id === row.id);
      return { k, since: Date.parse(k?.c.startedAt ?? "") || (row.startedAt ?? row.createdAt).getTime() };
    };
    const answered = await Promise.all(
      candidates.map(async ({ row, address }) => {
        if (published.has(address) && row.state === "running") return address;
        const overdue = Date.now() - startOf(row).since > bootMs;
        const timeout = freshWeb.has(row.id) ? FIRST_CHECK_MS : overdue ? LAST_CHECK_MS : RECHECK_MS;
        const problem = await checkReplica(agentFor(row.host), { runtimeId: row.runtimeId!, address }, APP_PORT, timeout, releaseCheck).catch((err: Error) => ({ problem: err.message }));
        return problem ? null : address;
      }),
    );
    const backends = answered.filter((a): a is string => a !== null);
    // Not answering yet: looked at again soon; replaced once past the boot timeout.
    for (const { row, address } of candidates) {
      if (backends.includes(address)) continue;
      const { k, since } = startOf(row);
      if (k && Date.now() - since > bootMs) {
        const after = k.c.restartCount
          ? ` of its restart #${k.c.restartCount}${row.exitCode === null ? "" : ` (after it exited with code ${row.exitCode}${row.oomKilled ? ", OOM" : ""})`}`
          : " of its start";
        console.error(`reconcile: ${app.name}: ${row.processType}.${row.number} of v${release.version} has not answered on port ${APP_PORT} within ${bootMs / 1000} s${after}; replacing it`);
        await platformEvent(redis, app.name, {
          type: row.processType,
          replica: row.number,
          line: `Did not answer on $PORT within ${bootMs / 1000} s${after} (boot timeout); replaced by a new replica`,
        });
        unwanted.push(k);
        // Its replacement is started by the next pass: nothing the watch compares would ask for it.
        report.dueAt = Date.now();
      } else report.dueAt = Math.min(report.dueAt ?? Infinity, Date.now() + RECHECK_AFTER_MS);
    }
    // Non-web replicas need no answer: up is running.
    for (const row of freshRows) {
      if (row.processType !== WEB || backends.includes(row.address!)) await db.container.update({ where: { id: row.id }, data: { state: "running" } });
    }
    for (const { row, address } of candidates) {
      if (backends.includes(address) && row.state !== "running") await db.container.update({ where: { id: row.id }, data: { state: "running" } });
    }
    const webWanted = formations.some((f) => f.processType === WEB);
    if (webWanted) {
      // Every host of the app: its custom domains (with their certificates) follow its replicas too.
      for (const { host: h, cert } of await appHosts(app)) {
        const now = await publishedBackends(redis, h);
        if (now && now.length === backends.length && backends.every((b) => now.includes(b))) continue;
        await publishHost(redis, h, app.name, backends, lease, cert);
        report.rerouted = true;
      }
    }

    // Every replica that runs has the app's sidecars (sidecars/pods.ts): a missing one is made
    // again, a detached or swapped one goes, those of replicas gone go. Fresh replicas got
    // theirs at their start (the lists above are from before it).
    const owners = new Set([...known, ...fresh.map((r) => r.runtimeId)].filter((id): id is string => Boolean(id)));
    const sc = await syncSidecars(
      app,
      kept
        .filter((k) => !leaving.has(k.row.id) && k.c.state === "running")
        .map((k) => ({ runtimeId: k.row.runtimeId!, processType: k.row.processType, number: k.row.number, release: k.row.release.version, host: k.row.host })),
      owners,
      running,
    );
    report.started += sc.started;
    report.removed += sc.removed;
    for (const p of sc.problems) console.error(`reconcile: ${app.name}: ${p}`);

    // Out of the route first, then stopped (SIGTERM, then SIGKILL after a grace).
    for (const u of unwanted) {
      await stopReplica(u.row);
      report.removed++;
    }
    return report;
  } finally {
    await lease.release().catch(() => {});
  }
}

/**
 * Whether a running web replica answered on $PORT since its last start: its row says
 * "running" (a check passed: the deploy's, or a pass's) and its agent has not restarted it
 * since (the restart count the row last recorded). The one place that rule lives.
 */
function answeredSinceStart(row: Pick<Row, "state" | "restartCount">, c: Pick<ContainerInfo, "restartCount">): boolean {
  return row.state === "running" && (c.restartCount ?? 0) === row.restartCount;
}

/**
 * Puts what the agent says of a replica on its row (and on `row` itself): up, restarting, or
 * for a web one back from a restart, starting until it answers again; its last exit and output.
 * Returns the words for the app's log when it saw a new exit (a crash, an OOM kill).
 */
async function recordState(row: Row, c: ContainerInfo): Promise<string | undefined> {
  let said: string | undefined;
  const data: Prisma.ContainerUncheckedUpdateInput = {};
  const down = c.state === "exited";
  if (down && row.state !== "restarting") data.state = "restarting";
  if (!down && row.processType === WEB && row.state !== "starting" && !answeredSinceStart(row, c)) data.state = "starting";
  if (!down && row.processType !== WEB && row.state === "restarting") data.state = "running";
  const address = c.ip ? `${c.ip}:${APP_PORT}` : null;
  if (!down && address && address !== row.address) data.address = address;
  if ((c.restartCount ?? 0) !== row.restartCount) data.restartCount = c.restartCount ?? 0;
  // The exit it restarts after (or, while it is down, the one it shows).
  const exit = down && c.exitCode !== undefined && c.finishedAt ? { exitCode: c.exitCode, oomKilled: c.oomKilled ?? false, finishedAt: c.finishedAt } : c.lastExit;
  if (exit && row.lastExitAt?.toISOString() !== new Date(exit.finishedAt).toISOString()) {
    data.exitCode = exit.exitCode;
    data.oomKilled = exit.oomKilled;
    data.lastExitAt = new Date(exit.finishedAt);
    const lines: string[] = [];
    try {
      for await (const l of agentFor(row.host).logs(c.id, { tail: LAST_LINES })) lines.push(l.line);
    } catch {}
    data.lastOutput = lines.join("\n");
    const how = exit.oomKilled ? `killed for using more than its memory limit (OOM), exit code ${exit.exitCode}` : `exited with code ${exit.exitCode}`;
    said = `Process ${how}${down ? (c.restartCount !== undefined ? "; restarting after its backoff" : "") : `; restarted (restart #${c.restartCount ?? 0})`}`;
  }
  if (Object.keys(data).length) await db.container.update({ where: { id: row.id }, data });
  Object.assign(row, data); // the rest of the pass reads the row as it is now
  return said;
}
