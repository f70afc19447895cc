/**
 * The reconcile loop's watch, run by every worker's queue consumer (main.ts): every
 * RECONCILE_EVERY_MS it compares what the agents run and the routing table with what the last
 * reconcile pass left (RECONCILE_EXPECTED_KEY), and asks for a pass (a job of QUEUE_RECONCILE)
 * only when they differ. A pass needs the database and the jobs process (~50 MB that an idle
 * worker does not hold, job-process.ts); this needs neither: one GET, one HGETALL and one list
 * of containers per host, so an idle platform stays idle and a lost replica is seen within
 * seconds. It asks for a pass when:
 *   - nothing was left yet (the worker's first start, Redis emptied) or someone asked
 *     (RECONCILE_REQUEST_KEY: a desired state changed with no container changing);
 *   - a replica the pass counted on is gone, not running (a crash: its exit is recorded),
 *     restarted since, or answers at another address;
 *   - a container labelled as an app's replica is not one of them (a deploy's new ones, strays);
 *   - a sidecar the pass left is gone, or one runs that it did not leave, or a running replica
 *     lacks a kind of sidecar its app has (asked again at every look until one runs: a request
 *     made while a pass runs is dropped, one pass being queued at a time);
 *   - the routing table is not as the pass left it;
 *   - the pass said when it wants another look (dueAt), and that time came.
 */
import type { Redis } from "ioredis";
import { AgentClient, config, type ContainerInfo } from "@paas/shared";
import { RECONCILE_EXPECTED_KEY, RECONCILE_REQUEST_KEY, ROUTES_KEY, type ReconcileExpected, type RouteEntry } from "@paas/shared/redis-keys";

/** A sidecar container up, or to be restarted by its policy (its agent does that, not a pass). */
const sidecarUp = (c: ContainerInfo) => c.state === "running" || c.state === "paused" || (c.state === "exited" && c.restartCount !== undefined && !c.stoppedByUser);

/** Why a pass is needed, or null when what runs is what the last pass left. */
export function reconcileNeeded(expected: ReconcileExpected, running: Map<string, ContainerInfo[]>, routes: Record<string, string>, now = Date.now()): string | null {
  if (expected.dueAt !== undefined && now >= expected.dueAt) return "the last pass asked for another look by now";
  const known = new Set<string>();
  for (const h of expected.hosts) {
    const list = running.get(h.agentUrl);
    if (!list) continue; // an agent that did not answer: nothing to compare
    for (const r of h.replicas) {
      known.add(r.id);
      const c = list.find((x) => x.id === r.id);
      if (!c) return `replica ${r.id} is gone`;
      if (c.state !== "running" && c.state !== "paused") return `replica ${c.name} is ${c.state}`;
      if ((c.restartCount ?? 0) !== r.restartCount) return `replica ${c.name} was restarted`;
      if (r.address && c.ip && r.address.split(":")[0] !== c.ip) return `replica ${c.name} moved to ${c.ip}`;
      for (const kind of r.sidecars ?? []) {
        if (!list.some((s) => s.labels["paas.sidecar.of"] === r.id && s.labels["paas.sidecar"] === kind && sidecarUp(s))) return `replica ${c.name} has no ${kind} sidecar`;
      }
    }
    for (const c of list) {
      if (c.labels["paas.app"] && c.labels["paas.process"] && !c.labels["paas.build"] && !known.has(c.id)) return `container ${c.name} is not a replica the last pass knew`;
    }
    // Sidecars (worker/src/sidecars): one gone is made again by a pass; a crashed one its agent restarts.
    if (h.sidecars) {
      const sidecars = new Set(h.sidecars);
      for (const id of h.sidecars) if (!list.some((c) => c.id === id)) return `sidecar ${id} is gone`;
      for (const c of list) if (c.labels["paas.sidecar"] && c.labels["paas.app"] && !sidecars.has(c.id) && c.state === "running") return `container ${c.name} is not a sidecar the last pass knew`;
    }
  }
  for (const [host, backends] of Object.entries(expected.routes)) {
    let now: string[] | undefined;
    try {
      now = routes[host] === undefined ? undefined : (JSON.parse(routes[host]) as RouteEntry).backends;
    } catch {}
    if (!now || now.length !== backends.length || backends.some((b) => !now.includes(b))) return `the route of ${host} changed`;
  }
  return null;
}

/** One look: the reason a pass is needed, or null. Agents that do not answer are skipped. */
export async function checkReconcile(redis: Redis): Promise<string | null> {
  if (await redis.getdel(RECONCILE_REQUEST_KEY)) return "a pass was asked for";
  const raw = await redis.get(RECONCILE_EXPECTED_KEY);
  if (!raw) return "no pass has run yet";
  const expected = JSON.parse(raw) as ReconcileExpected;
  const running = new Map<string, ContainerInfo[]>();
  await Promise.all(
    expected.hosts.map(async (h) => {
      const list = await new AgentClient(h.agentUrl, config().agentToken).containers().catch(() => undefined);
      if (list) running.set(h.agentUrl, list);
    }),
  );
  return reconcileNeeded(expected, running, await redis.hgetall(ROUTES_KEY));
}
