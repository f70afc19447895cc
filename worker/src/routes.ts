/** Publishes an app's healthy replicas to the router's table in Redis. */
import type { Redis } from "ioredis";
import { config, ROUTES_CHANNEL, ROUTES_KEY, type RouteEntry } from "@paas/shared";

export const appHost = (app: string) => `${app}.${config().domain}`;

export async function publishRoutes(redis: Redis, app: string, backends: string[]): Promise<void> {
  const host = appHost(app);
  const entry: RouteEntry = { app, backends };
  await redis.hset(ROUTES_KEY, host, JSON.stringify(entry));
  await redis.publish(ROUTES_CHANNEL, host);
}
