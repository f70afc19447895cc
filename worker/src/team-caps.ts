/**
 * The kernel's side of the team quotas: each team's cgroup (`<runtime root>/<team>`, where
 * every replica and build of the team runs) gets the team's memory, CPU and pids totals on
 * every host, through the agent (PUT /v1/cgroups/:team; the figures: @paas/db/quotas
 * teamCgroupLimits). So nothing that escapes the API's checks (a bug, a race, a runaway
 * process) takes more than the team's share of a host.
 *
 * Applied at each reconcile pass and when a worker starts (hosts that came back, teams made
 * since); the API applies a team's at once when an operator changes its quota.
 */
import { db } from "@paas/db";
import { quotaOf, teamCgroupLimits } from "@paas/db/quotas";
import { agentFor } from "./hosts.ts";

/** Sets the caps of every team on every host; returns the failures as lines. */
export async function applyTeamCaps(): Promise<string[]> {
  const [teams, hosts] = await Promise.all([db.team.findMany(), db.host.findMany()]);
  const failed: string[] = [];
  for (const team of teams) {
    const caps = teamCgroupLimits(await quotaOf(db, team.id));
    await Promise.all(hosts.map((h) => agentFor(h).setTeamLimits(team.name, caps).catch((err: Error) => void failed.push(`host ${h.name}: team ${team.name}: ${err.message}`))));
  }
  return failed;
}
