/**
 * Feeds the routing table from what the control plane publishes in Redis:
 * the whole hash at start (and on reconnect), then one host per change message.
 */
import { Redis } from "ioredis";
import { ROUTES_CHANNEL, ROUTES_KEY, type RouteEntry } from "@paas/shared";
import type { RoutingTable } from "./table.ts";

function parse(raw: string | null): RouteEntry | null {
  if (!raw) return null;
  try {
    return JSON.parse(raw) as RouteEntry;
  } catch {
    return null;
  }
}

export async function followRoutes(table: RoutingTable, redisUrl: string): Promise<() => Promise<void>> {
  const data = new Redis(redisUrl, { lazyConnect: true });
  const sub = new Redis(redisUrl, { lazyConnect: true });
  const loadAll = async () => {
    const all = await data.hgetall(ROUTES_KEY);
    table.replaceAll(
      Object.entries(all).flatMap(([host, raw]) => {
        const e = parse(raw);
        return e ? [[host, e] as [string, RouteEntry]] : [];
      }),
    );
  };
  sub.on("message", async (_channel: string, host: string) => {
    table.set(host, parse(await data.hget(ROUTES_KEY, host)));
  });
  // After a reconnect we may have missed messages: reload everything.
  sub.on("ready", () => void loadAll().catch(() => {}));
  await data.connect();
  await sub.connect();
  await sub.subscribe(ROUTES_CHANNEL);
  await loadAll();
  return async () => {
    sub.disconnect();
    data.disconnect();
  };
}
