/**
 * The deploy lock of an app: its deploys (a build's release, a config change, a
 * rollback, a preview's removal) run one at a time, in the order they asked.
 * Whoever holds it creates its release (so a build's release takes the config
 * as it is then), deploys it and commits it; the next one starts from that.
 *
 * Why a Redis lease with a fencing token, and not the alternatives:
 * - BullMQ (open source) has no per-group concurrency: a queue concurrency of 1
 *   would serialize every app's deploys on the platform, and builds deploy from
 *   their own queue anyway.
 * - A database transaction cannot span a deploy: it lasts seconds to a minute
 *   (replicas start, health checks), and SQLite has a single writer.
 * So: per app, a FIFO queue in Redis (a sorted set of tickets; its head holds
 * the lock), each waiter there while its heartbeat key lives, so a crashed
 * worker's turn passes after LEASE_MS. The ticket only grows per app and is the
 * fencing token: a holder that lost its lease (paused past LEASE_MS) cannot
 * commit over a newer deploy, because routes are published only while the
 * lease holds (checked in the same Lua script, routes.ts), and a release
 * becomes active only if App.deployFence is not above the ticket (checked in
 * the same transaction, `claimFence`).
 */
import type { Redis } from "ioredis";
import { db, type Prisma } from "@paas/db";
import { releaseDeployQuota } from "@paas/db/quotas";
import { PushError } from "./pipeline/push-error.ts";

const queueKey = (appId: string) => `paas:deploylock:${appId}:queue`;
const seqKey = (appId: string) => `paas:deploylock:${appId}:seq`;
const alivePrefix = (appId: string) => `paas:deploylock:${appId}:alive:`;

export const LEASE_MS = 20_000;
const HEARTBEAT_MS = 5_000;
const POLL_MS = 150;

/** The lease was lost (a stalled holder) or the place in the queue was: a newer deploy may have gone first. */
export class LeaseLostError extends PushError {}

// KEYS: seq, queue. ARGV: alive prefix, lowest allowed ticket - 1 (App.deployFence), lease ms, holder label.
const ENQUEUE = `
local t = redis.call('INCR', KEYS[1])
local floor = tonumber(ARGV[2])
if t <= floor then t = floor + 1; redis.call('SET', KEYS[1], t) end
redis.call('SET', ARGV[1] .. t, ARGV[4], 'PX', ARGV[3])
redis.call('ZADD', KEYS[2], t, t)
return t
`;

// KEYS: queue. ARGV: alive prefix, ticket. Drops dead waiters at the head; returns
// { our rank (0: we hold it, -1: we are not queued any more), the head's label }.
const TURN = `
while true do
  local head = redis.call('ZRANGE', KEYS[1], 0, 0)[1]
  if not head then return { -1, '' } end
  if redis.call('EXISTS', ARGV[1] .. head) == 1 then break end
  redis.call('ZREM', KEYS[1], head)
end
local rank = redis.call('ZRANK', KEYS[1], ARGV[2])
if not rank then return { -1, '' } end
local head = redis.call('ZRANGE', KEYS[1], 0, 0)[1]
return { rank, redis.call('GET', ARGV[1] .. head) or '' }
`;

const RELEASE = `
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('DEL', KEYS[2])
return 1
`;

/**
 * Lua for scripts that must write only while a lease holds: `holds(KEYS[a],
 * KEYS[b], ARGV[c])` with the lease's `guard` keys and ticket.
 */
export const HOLDS_LUA = `
local function holds(queue, alive, ticket)
  return redis.call('ZRANGE', queue, 0, 0)[1] == ticket and redis.call('EXISTS', alive) == 1
end
`;

export interface DeployLease {
  readonly appId: string;
  /** The fencing token: grows with every deploy of the app. */
  readonly ticket: number;
  /** For HOLDS_LUA: the queue and heartbeat keys, and the ticket as Redis has it. */
  readonly guard: { queue: string; alive: string; ticket: string };
  /** True once the heartbeat found the lease gone. */
  lost(): boolean;
  release(): Promise<void>;
}

export interface LockWaitLog {
  /** Called when the deploy ahead changes: its label and how many are ahead. */
  waiting(holder: string, ahead: number): void;
}

/**
 * Waits for the app's turn and returns the lease. `holder` says who holds it,
 * for those waiting behind ("build c1x2", "a config change").
 */
export async function acquireDeployLock(redis: Redis, appId: string, holder: string, log?: LockWaitLog): Promise<DeployLease>;
/** `noWait`: the lease only if nobody holds or waits for the lock now, else null (the reconcile loop comes back later). */
export async function acquireDeployLock(redis: Redis, appId: string, holder: string, log: LockWaitLog | undefined, opts: { noWait: true }): Promise<DeployLease | null>;
export async function acquireDeployLock(redis: Redis, appId: string, holder: string, log?: LockWaitLog, opts: { noWait?: boolean } = {}): Promise<DeployLease | null> {
  const app = await db.app.findUnique({ where: { id: appId }, select: { deployFence: true } });
  const prefix = alivePrefix(appId);
  // The floor keeps tickets above what already committed, even after Redis lost its data.
  const ticket = Number(await redis.eval(ENQUEUE, 2, seqKey(appId), queueKey(appId), prefix, String(app?.deployFence ?? 0), String(LEASE_MS), holder));
  const alive = prefix + ticket;
  let lost = false;
  const heartbeat = setInterval(() => {
    redis.pexpire(alive, LEASE_MS).then(
      (ok) => {
        if (ok === 0) lost = true;
      },
      () => {},
    );
  }, HEARTBEAT_MS);
  heartbeat.unref();
  const lease: DeployLease = {
    appId,
    ticket,
    guard: { queue: queueKey(appId), alive, ticket: String(ticket) },
    lost: () => lost,
    async release() {
      clearInterval(heartbeat);
      await redis.eval(RELEASE, 2, queueKey(appId), alive, String(ticket));
    },
  };
  try {
    let said = "";
    for (;;) {
      const [rank, head] = (await redis.eval(TURN, 1, queueKey(appId), prefix, String(ticket))) as [number, string];
      if (rank === 0) return lease;
      if (opts.noWait && rank > 0) {
        await lease.release();
        return null;
      }
      if (rank < 0 || lost) throw new LeaseLostError("this deploy lost its place in the app's deploy queue (the worker stalled); try again");
      if (log && `${head}/${rank}` !== said) log.waiting(head, rank);
      said = `${head}/${rank}`;
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
  } catch (err) {
    await lease.release().catch(() => {});
    throw err;
  }
}

/** Runs `fn` holding the app's deploy lock; frees it however `fn` ends. */
export async function withDeployLock<T>(
  redis: Redis,
  appId: string,
  holder: string,
  log: LockWaitLog | undefined,
  fn: (lease: DeployLease) => Promise<T>,
): Promise<T> {
  const lease = await acquireDeployLock(redis, appId, holder, log);
  try {
    return await fn(lease);
  } finally {
    // A deploy's quota hold (@paas/db/quotas) lasts while it holds the lock: its Formation rows say the rest.
    await releaseDeployQuota(db, appId).catch((err) => console.error(`quota hold of app ${appId}: releasing failed: ${(err as Error).message}`));
    await lease.release().catch((err) => console.error(`deploy lock of app ${appId}: releasing failed: ${(err as Error).message}`));
  }
}

/**
 * Drops the lock's keys of an app that no longer exists (jobs/destroy.ts): its counter, and
 * its queue, so a deploy still waiting there gives up (LeaseLostError) rather than deploy it.
 */
export async function forgetDeployLock(redis: Redis, appId: string): Promise<void> {
  const alive: string[] = [];
  for await (const keys of redis.scanStream({ match: `${alivePrefix(appId)}*`, count: 500 })) alive.push(...(keys as string[]));
  await redis.del(seqKey(appId), queueKey(appId), ...alive);
}

/**
 * The database side of the fence: in the transaction that commits a deploy,
 * records the lease's ticket on the app, or throws LeaseLostError when a newer
 * deploy committed already.
 */
export async function claimFence(tx: Prisma.TransactionClient, lease: DeployLease): Promise<void> {
  const { count } = await tx.app.updateMany({
    where: { id: lease.appId, deployFence: { lte: lease.ticket } },
    data: { deployFence: lease.ticket },
  });
  if (count !== 1) throw new LeaseLostError("a newer deploy of this app committed first (this one's lease ran out); nothing was switched");
}
