/**
 * Reading an app's log stream (@paas/shared/app-log): the recent lines that match a filter
 * (newest first from the stream's end, handed back oldest first), and a live follower
 * (XREAD BLOCK on a connection of its own) for the SSE route.
 */
import { appLogKey, entryFromFields, matches, type AppLogEntry, type LogFilter } from "@paas/shared/app-log";
import type { Redis } from "ioredis";
import { createRedis, redis } from "../redis.ts";

/** At most this many entries are looked at for one query (a rare --grep over a long history stops there). */
const SCAN_LIMIT = 200_000;
const CHUNK = 2_000;

export interface RecentQuery extends LogFilter {
  /** How many matching lines (the newest). */
  n: number;
  /** Only lines from the last this many ms. */
  sinceMs?: number;
}

export async function recentLines(app: string, q: RecentQuery): Promise<AppLogEntry[]> {
  const key = appLogKey(app);
  const min = q.sinceMs ? `${Date.now() - q.sinceMs}-0` : "-";
  const out: AppLogEntry[] = [];
  let max = "+";
  let scanned = 0;
  while (out.length < q.n && scanned < SCAN_LIMIT) {
    const chunk = (await redis().xrevrange(key, max, min, "COUNT", CHUNK)) as [string, string[]][];
    for (const [id, fields] of chunk) {
      const e = entryFromFields(id, fields);
      if (matches(e, q)) out.push(e);
      if (out.length >= q.n) break;
    }
    scanned += chunk.length;
    if (chunk.length < CHUNK) break;
    max = `(${chunk[chunk.length - 1][0]}`;
  }
  return out.reverse();
}

/**
 * The app's lines after stream id `after` ("$": only new ones), as they come, each encoded by
 * `encode`, until the reader goes away. `preamble` (the recent lines, SSE's retry) goes first.
 */
export function followLines(app: string, opts: { after: string; filter: LogFilter; encode: (e: AppLogEntry) => string; preamble?: string; signal?: AbortSignal }): ReadableStream<Uint8Array> {
  const key = appLogKey(app);
  const enc = new TextEncoder();
  let last = opts.after;
  let conn: Redis | null = null;
  let done = false;
  const close = () => {
    done = true;
    conn?.disconnect();
    conn = null;
  };
  opts.signal?.addEventListener("abort", close);
  return new ReadableStream<Uint8Array>({
    async start(controller) {
      if (opts.preamble) controller.enqueue(enc.encode(opts.preamble));
      if (last === "$") {
        // "$" read once would miss lines between two XREADs: start from the stream's last id.
        const top = (await redis().xrevrange(key, "+", "-", "COUNT", 1)) as [string, string[]][];
        last = top[0]?.[0] ?? "0";
      }
    },
    async pull(controller) {
      conn ??= createRedis();
      // A comment now and then: proxies and the browser keep an idle stream open.
      while (!done) {
        let res: [string, [string, string[]][]][] | null;
        try {
          res = (await conn.xread("COUNT", 1000, "BLOCK", 15_000, "STREAMS", key, last)) as typeof res;
        } catch (err) {
          if (done) break;
          controller.error(err);
          return;
        }
        if (!res) {
          controller.enqueue(enc.encode(": keep-alive\n\n"));
          return;
        }
        let sent = 0;
        for (const [id, fields] of res[0][1]) {
          last = id;
          const e = entryFromFields(id, fields);
          if (!matches(e, opts.filter)) continue;
          controller.enqueue(enc.encode(opts.encode(e)));
          sent++;
        }
        if (sent) return;
      }
      controller.close();
    },
    cancel: close,
  });
}
