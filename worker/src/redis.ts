import { Redis } from "ioredis";
import { config } from "@paas/shared/config";

/** BullMQ's blocking connections need maxRetriesPerRequest: null. */
export function createRedis(): Redis {
  return new Redis(config().redisUrl, { maxRetriesPerRequest: null });
}
