/**
 * Who may build now. Before a build job runs, it waits here for two things:
 * - its app: one build per app at a time, in push order ("queue", the
 *   default), or a newer push cancels the running one (App.buildMode
 *   "supersede");
 * - its team: at most Quota.concurrentBuilds builds of a team at once (the
 *   limit from the quota module, @paas/db/quotas).
 * A team that used its build minutes of the day (Quota.buildMinutesPerDay) gets no slot:
 * the build fails with the quota's message (QuotaError).
 * While it waits, the pusher reads why in the build log ("-----> Waiting: ...",
 * "-----> Queued: N builds ahead of yours").
 *
 * Slots live in Redis (shared by every worker): `paas:buildslot:app:<appId>`
 * holds the build id that owns the app, `paas:buildslots:team:<teamId>` is the
 * set of the team's running builds. Slots of builds that ended (a crashed
 * worker) are cleaned against the database before each attempt.
 */
import type { Redis } from "ioredis";
import { db } from "@paas/db";
import { assertBuildMinutes, concurrentBuildLimit } from "@paas/db/quotas";
import { buildLogKey } from "@paas/shared";
import { agentFor, pickHost } from "../hosts.ts";

const appSlotKey = (appId: string) => `paas:buildslot:app:${appId}`;
const teamSlotsKey = (teamId: string) => `paas:buildslots:team:${teamId}`;
const supersededKey = (buildId: string) => `paas:build:${buildId}:superseded`;
const POLL_MS = 400;
/** A pending build older than this is not waited for (its job was lost). */
const STALE_PENDING_MS = 2 * 3600_000;

/** Build time limit: the app's buildTimeoutSeconds, else PAAS_BUILD_TIMEOUT_SECONDS, else 15 minutes. */
export function buildTimeoutMs(app?: { buildTimeoutSeconds?: number | null }, env: NodeJS.ProcessEnv = process.env): number {
  const fromEnv = Number(env.PAAS_BUILD_TIMEOUT_SECONDS);
  const seconds = app?.buildTimeoutSeconds ?? (Number.isFinite(fromEnv) && fromEnv > 0 ? fromEnv : 15 * 60);
  return seconds * 1000;
}

/** "15 minutes", "5 seconds": for the timeout message. */
export function describeDuration(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s % 60 === 0) return `${s / 60} minute${s === 60 ? "" : "s"}`;
  return `${s} second${s === 1 ? "" : "s"}`;
}

/** Set when a newer push superseded this build: the newer commit. */
export async function supersededBy(redis: Redis, buildId: string): Promise<string | null> {
  return redis.get(supersededKey(buildId));
}

// Takes the app slot and a team slot together, or neither.
const ACQUIRE = `
local holder = redis.call('GET', KEYS[1])
if holder and holder ~= ARGV[1] then return 'app:' .. holder end
if redis.call('SISMEMBER', KEYS[2], ARGV[1]) == 0 and redis.call('SCARD', KEYS[2]) >= tonumber(ARGV[2]) then return 'team' end
redis.call('SET', KEYS[1], ARGV[1])
redis.call('SADD', KEYS[2], ARGV[1])
return 'ok'
`;

const RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
redis.call('SREM', KEYS[2], ARGV[1])
return 1
`;

/** Frees the slots of builds that ended (or vanished) without freeing them: one query a poll. */
async function cleanStale(redis: Redis, appId: string, teamId: string): Promise<void> {
  const [holder, members] = await Promise.all([redis.get(appSlotKey(appId)), redis.smembers(teamSlotsKey(teamId))]);
  const ids = [...new Set([...(holder ? [holder] : []), ...members])];
  if (!ids.length) return;
  const live = new Set(
    (await db.build.findMany({ where: { id: { in: ids }, status: { notIn: ["succeeded", "failed"] } }, select: { id: true } })).map((b) => b.id),
  );
  if (holder && !live.has(holder)) await redis.eval(RELEASE, 2, appSlotKey(appId), teamSlotsKey(teamId), holder);
  for (const id of members) if (!live.has(id)) await redis.srem(teamSlotsKey(teamId), id);
}

export interface SlotLog {
  step(title: string, label?: string): void;
  error(text: string): void;
}

export class SupersededError extends Error {}

/**
 * Waits until the build may run; returns the function that frees its slots.
 * Throws SupersededError when a newer push of the app took over meanwhile.
 */
export async function acquireBuildSlot(redis: Redis, buildId: string, log: SlotLog): Promise<() => Promise<void>> {
  const build = await db.build.findUniqueOrThrow({ where: { id: buildId }, include: { app: { include: { team: true } } } });
  const app = build.app;
  const team = app.team;
  let said = "";
  const say = (line: string) => {
    if (line !== said) log.step(line, "queue");
    said = line;
  };
  for (;;) {
    const by = await supersededBy(redis, buildId);
    if (by) throw new SupersededError(`superseded by ${by.slice(0, 7)}: a newer push of ${app.name} is deployed instead`);
    await cleanStale(redis, app.id, app.teamId);
    const limit = await concurrentBuildLimit(db, app.teamId);
    const since = new Date(Date.now() - STALE_PENDING_MS);

    // Earlier pushes of the same app go first (queue mode).
    const earlier = await db.build.findFirst({
      where: { appId: app.id, status: "pending", createdAt: { lt: build.createdAt, gt: since }, id: { not: buildId } },
      orderBy: { createdAt: "asc" },
    });
    if (earlier && app.buildMode !== "supersede") {
      say(`Waiting: build ${earlier.id} of this app is ahead of yours`);
      await sleep(POLL_MS);
      continue;
    }
    if (earlier && app.buildMode === "supersede") {
      await supersede(redis, earlier.id, build.commit);
      continue;
    }

    // Team: builds of the team that started before us, or wait ahead of us.
    const teamAhead = await db.build.count({
      where: { app: { teamId: app.teamId }, status: "pending", createdAt: { lt: build.createdAt, gt: since }, id: { not: buildId } },
    });
    if (teamAhead === 0) await assertBuildMinutes(db, team);
    const res = teamAhead > 0 ? "team" : ((await redis.eval(ACQUIRE, 2, appSlotKey(app.id), teamSlotsKey(app.teamId), buildId, String(limit))) as string);
    if (res === "ok") {
      if (said) log.step("Starting: your build's turn has come", "queue");
      return async () => {
        await redis.eval(RELEASE, 2, appSlotKey(app.id), teamSlotsKey(app.teamId), buildId);
      };
    }
    if (res.startsWith("app:")) {
      const holder = res.slice(4);
      if (app.buildMode === "supersede") {
        await supersede(redis, holder, build.commit);
      } else {
        say(`Waiting: build ${holder} of this app is running; yours starts when it ends`);
      }
    } else {
      const running = await redis.scard(teamSlotsKey(app.teamId));
      const ahead = running + teamAhead;
      say(`Queued: ${ahead} build${ahead === 1 ? "" : "s"} ahead of yours (team limit: ${limit} concurrent build${limit === 1 ? "" : "s"})`);
    }
    await sleep(POLL_MS);
  }
}

/**
 * Cancels an older build of the same app: marks it (so it fails with
 * "superseded by <sha>"), tells its pusher, and kills its build container.
 */
async function supersede(redis: Redis, oldBuildId: string, newCommit: string): Promise<void> {
  if (await redis.set(supersededKey(oldBuildId), newCommit, "EX", 24 * 3600, "NX")) {
    await redis
      .xadd(buildLogKey(oldBuildId), "*", "line", ` !     Superseded by ${newCommit.slice(0, 7)}: a newer push of this app takes over`)
      .catch(() => {});
  }
  const old = await db.build.findUnique({ where: { id: oldBuildId } });
  if (old?.status === "building") {
    // Every container of that build (the builders label them paas.build=<id>).
    const agent = agentFor(await pickHost());
    const doomed = (await agent.containers().catch(() => [])).filter((c) => c.labels?.["paas.build"] === oldBuildId);
    for (const c of doomed) await agent.remove(c.id, true).catch(() => {});
  }
}

/** Drops a destroyed app's slot keys and its builds' marks (jobs/destroy.ts). */
export async function forgetBuildSlots(redis: Redis, appId: string, teamId: string, buildIds: string[]): Promise<void> {
  await redis.del(appSlotKey(appId));
  if (!buildIds.length) return;
  await redis.srem(teamSlotsKey(teamId), ...buildIds);
  await redis.del(...buildIds.map(supersededKey));
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
