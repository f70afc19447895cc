/**
 * Feeds the routing table from what the control plane publishes in Redis (route.ts): the whole
 * hash at start and on every reconnect (messages may have been missed), then one host per change
 * message. `onChange` runs after each change to the table with the serial of the newest change
 * it holds (ROUTES_SERIAL_KEY), for the router to acknowledge once HAProxy serves it.
 */
import { Redis } from "ioredis";
import { parseRouteMessage, ROUTES_CHANNEL, ROUTES_KEY, ROUTES_SERIAL_KEY, type RouteEntry } from "@paas/shared";
import type { RoutingTable } from "./table.ts";

function parse(raw: string | null): RouteEntry | null {
  if (!raw) return null;
  try {
    return JSON.parse(raw) as RouteEntry;
  } catch {
    return null;
  }
}

export async function followRoutes(table: RoutingTable, redisUrl: string, onChange: (serial: number) => void = () => {}): Promise<() => Promise<void>> {
  const data = new Redis(redisUrl, { lazyConnect: true });
  const sub = new Redis(redisUrl, { lazyConnect: true });
  // Messages arrive in the order of their serials; each handler's reads go out on one
  // connection in that order, so the table only ever moves forward.
  let serial = 0;
  const loadAll = async () => {
    // The hash and its serial read at once: the table is whole as of that change.
    const [[, all], [, at]] = (await data.multi().hgetall(ROUTES_KEY).get(ROUTES_SERIAL_KEY).exec()) as [[null, Record<string, string>], [null, string | null]];
    const refused = table.replaceAll(Object.entries(all).flatMap(([host, raw]) => [[host, parse(raw)] as [string, RouteEntry]]));
    for (const why of refused) console.error(`router: ${why}`);
    serial = Math.max(serial, Number(at) || 0);
    onChange(serial);
  };
  sub.on("message", async (_channel: string, message: string) => {
    const change = parseRouteMessage(message);
    try {
      table.set(change.host, parse(await data.hget(ROUTES_KEY, change.host)));
      serial = Math.max(serial, change.serial);
      onChange(serial);
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
