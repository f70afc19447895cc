/**
 * Feeds the routing table from what the control plane publishes in Redis (route.ts): the whole
 * hash at start and on every reconnect (messages may have been missed), then one host per change
 * message. `onChange` runs after each change to the table.
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

export async function followRoutes(table: RoutingTable, redisUrl: string, onChange: () => void = () => {}): Promise<() => Promise<void>> {
  const data = new Redis(redisUrl, { lazyConnect: true });
  const sub = new Redis(redisUrl, { lazyConnect: true });
  const loadAll = async () => {
    const all = await data.hgetall(ROUTES_KEY);
    const refused = table.replaceAll(Object.entries(all).flatMap(([host, raw]) => [[host, parse(raw)] as [string, RouteEntry]]));
    for (const why of refused) console.error(`router: ${why}`);
    onChange();
  };
  sub.on("message", async (_channel: string, host: string) => {
    try {
      table.set(host, parse(await data.hget(ROUTES_KEY, host)));
      onChange();
    } catch (err) {
      console.error(`router: ${(err as Error).message}`); // a bad entry changes nothing
    }
  });
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
