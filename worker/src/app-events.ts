/**
 * Platform events in an app's log stream (deploys, scaling, crashes, OOM kills, restarts),
 * marked as the platform's (`paas[deploy]: ...`, `paas[web.1]: ...`), as Heroku's
 * `heroku[web.1]` lines sit beside `app[web.1]`. The one place the worker writes them.
 * A failure to write one never fails what it reports on: it is said on the worker's log.
 */
import type { Redis } from "ioredis";
import { appLogKey, logRetention, xaddArgs } from "@paas/shared/app-log";

const retention = logRetention();

export interface PlatformEvent {
  /** What speaks: "deploy", "scale", or a process type for a replica's events. */
  type: string;
  replica?: string | number;
  line: string;
}

export async function platformEvent(redis: Redis, app: string, ev: PlatformEvent): Promise<void> {
  const args = xaddArgs({ t: new Date().toISOString(), src: "platform", type: ev.type, replica: ev.replica === undefined ? "" : String(ev.replica), stream: "platform", line: ev.line }, retention);
  await redis.xadd(appLogKey(app), ...(args as [string])).catch((err: Error) => console.error(`platform event for ${app} not logged: ${err.message}`));
}
