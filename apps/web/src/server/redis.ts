/**
 * Redis connections of the web process.
 *
 * - `redis()`: one shared connection for ordinary commands (GET/SET/XRANGE...).
 * - `createRedis()`: a fresh connection for blocking commands (XREAD BLOCK) or
 *   BullMQ; a blocking command would stall every other user of a shared one.
 *   The caller closes it (`quit()`) when done.
 *
 * `maxRetriesPerRequest: null` is what BullMQ requires (it retries forever
 * instead of failing a command while Redis restarts).
 */
import { Redis, type RedisOptions } from "ioredis";
import { config } from "@paas/shared";

const BASE: RedisOptions = { maxRetriesPerRequest: null, enableReadyCheck: true };

export function createRedis(extra: RedisOptions = {}): Redis {
  const conn = new Redis(config().redisUrl, { ...BASE, ...extra });
  // Without a listener ioredis prints every reconnect attempt as an unhandled
  // error; say it once per outage, with what to do.
  let reported = false;
  conn.on("error", (err) => {
    if (reported) return;
    reported = true;
    console.error(`redis ${config().redisUrl}: ${err.message} (is redis-server running? ./infra/up starts it)`);
  });
  conn.on("ready", () => {
    reported = false;
  });
  return conn;
}

// Next.js dev reloads modules; keep one connection per process, not per reload.
const g = globalThis as unknown as { __paasRedis?: Redis };

/** The process's shared connection (never use it for blocking commands). */
export function redis(): Redis {
  g.__paasRedis ??= createRedis();
  return g.__paasRedis;
}
