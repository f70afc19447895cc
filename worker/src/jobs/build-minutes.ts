/**
 * A build that runs past its team's build minutes of the day is stopped. The quota is checked
 * when a build gets its slot (build-slots.ts), but a long build, or several of the team's at
 * once, can use more than what was left then: each running build's time counts to now
 * (buildMinutesToday), so this looks again every POLL_MS and aborts the build's deadline
 * with the quota's message, which the build's failure then says (builders/context.ts).
 */
import { db } from "@paas/db";
import { buildMinutesToday, buildMinutesViolation, quotaOf } from "@paas/db/quotas";

const POLL_MS = 10_000;

/** Why a build's deadline was aborted, when it is not its time limit. */
export class BuildStopped extends Error {}

export interface MinutesWatch {
  /** Aborts (with a BuildStopped reason) once the team has used its build minutes of the day. */
  signal: AbortSignal;
  stop(): void;
}

export function watchBuildMinutes(team: { id: string; name: string }, pollMs = POLL_MS): MinutesWatch {
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const look = async () => {
    try {
      const quota = await quotaOf(db, team.id);
      const why = buildMinutesViolation(team.name, await buildMinutesToday(db, team.id), quota.buildMinutesPerDay);
      if (why) return controller.abort(new BuildStopped(`stopped: ${why}`));
    } catch (err) {
      // A database hiccup is no reason to stop a build: look again next time.
      console.error(`build minutes of team ${team.name}: ${(err as Error).message}`);
    }
    timer = setTimeout(look, pollMs);
    timer.unref();
  };
  timer = setTimeout(look, pollMs);
  timer.unref();
  return { signal: controller.signal, stop: () => clearTimeout(timer) };
}
