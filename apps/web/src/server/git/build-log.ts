/**
 * The server's follower of a build's log: reads its Redis stream (buildLogKey)
 * from `after`, then waits for more (XREAD BLOCK) until the status entry; says
 * when no worker has taken the build, and ends with the Build row's status if
 * the stream never gets one. The events and their wire forms (NDJSON for the
 * hook and the CLI, SSE for the dashboard) are @paas/shared/build-log's.
 */
import { db } from "@paas/db";
import { buildLogKey } from "@paas/shared";
import { entryToEvent, isEnd, toNdjson, type LogEvent } from "@paas/shared/build-log";
import type { Redis } from "ioredis";
import { buildJobState } from "../queue.ts";
import { createRedis, redis } from "../redis.ts";

export interface FollowOptions {
  follow: boolean;
  /** Resume after this stream id ("0" = from the start). */
  after?: string;
  /** Say the build waits for a worker when nothing happened for this long. */
  waitingNoticeMs?: number;
  /** How long one XREAD blocks before we look at the job's state. */
  blockMs?: number;
  /** Give up following after this long (a build that never ends). */
  maxFollowMs?: number;
  /** An event on the wire (default: one NDJSON line). */
  encode?: (ev: LogEvent) => string;
  /** Sent first (SSE's retry delay). */
  preamble?: string;
}

const TERMINAL = new Set(["succeeded", "failed"]);
const WAITING = new Set(["waiting", "delayed", "prioritized", "waiting-children", "unknown"]);

export function buildLogStream(buildId: string, opts: FollowOptions): ReadableStream<Uint8Array> {
  const key = buildLogKey(buildId);
  const enc = new TextEncoder();
  const started = Date.now();
  const waitingNoticeMs = opts.waitingNoticeMs ?? 10_000;
  const blockMs = opts.blockMs ?? 2_500;
  const maxFollowMs = opts.maxFollowMs ?? 3 * 3600_000;
  const encode = opts.encode ?? toNdjson;
  let lastId = opts.after || "0";
  let sawEntry = false;
  let noticeAt = 0;
  let terminalTicks = 0;
  let done = false;
  // XREAD BLOCK holds its connection: one per follower, closed at the end.
  let conn: Redis | null = null;

  const close = () => {
    done = true;
    conn?.disconnect();
    conn = null;
  };

  /** Checks on the build when the stream stays quiet; may end it. */
  async function onIdle(): Promise<LogEvent[]> {
    const out: LogEvent[] = [];
    const build = await db.build.findUnique({ where: { id: buildId } });
    const job = await buildJobState(buildId);
    // The worker writes the status entry right after the row; only when the
    // row has been final for two quiet periods is the entry really missing
    // (a worker that died mid-write, a job BullMQ gave up on).
    const final = (build && TERMINAL.has(build.status)) || job.state === "failed";
    terminalTicks = final ? terminalTicks + 1 : 0;
    if (terminalTicks >= 2) {
      if (build?.status === "succeeded") out.push({ status: "succeeded" });
      else out.push({ status: "failed", error: build?.error || job.failedReason || "the build failed without a reason" });
      return out;
    }
    const quiet = Date.now() - started;
    if (!sawEntry && WAITING.has(job.state) && quiet >= waitingNoticeMs && Date.now() - noticeAt >= 60_000) {
      noticeAt = Date.now();
      out.push({
        notice: `-----> Waiting for a build worker: none has taken this build for ${Math.round(quiet / 1000)}s (is the worker running? ./infra/up starts it)`,
      });
    }
    return out;
  }

  return new ReadableStream<Uint8Array>({
    start(controller) {
      if (opts.preamble) controller.enqueue(enc.encode(opts.preamble));
    },
    async pull(controller) {
      const emit = (events: LogEvent[]) => {
        for (const e of events) {
          controller.enqueue(enc.encode(encode(e)));
          if (isEnd(e)) {
            close();
            controller.close();
            return true;
          }
        }
        return false;
      };
      try {
        // Loop until something is sent: a pull that enqueues nothing is not called again.
        for (;;) {
          if (done) return;
          let entries: [string, string[]][];
          if (!opts.follow) {
            entries = await redis().xrange(key, lastId === "0" ? "-" : `(${lastId}`, "+");
          } else {
            conn ??= createRedis();
            const res = (await conn.xread("COUNT", 500, "BLOCK", blockMs, "STREAMS", key, lastId)) as
              | [string, [string, string[]][]][]
              | null;
            entries = res?.[0]?.[1] ?? [];
          }
          const events: LogEvent[] = [];
          for (const [id, fields] of entries) {
            lastId = id;
            sawEntry = true;
            const ev = entryToEvent(id, fields);
            if (ev) events.push(ev);
          }
          if (emit(events)) return;
          if (!opts.follow) {
            close();
            controller.close();
            return;
          }
          if (entries.length === 0) {
            if (Date.now() - started > maxFollowMs) {
              emit([{ notice: "-----> Stopped following the log: the build has run for too long" }]);
              close();
              controller.close();
              return;
            }
            if (emit(await onIdle())) return;
          }
          if (events.length > 0) return;
        }
      } catch (err) {
        if (done) return; // cancelled: the disconnect rejected the pending XREAD
        close();
        controller.error(err);
      }
    },
    cancel() {
      close();
    },
  });
}
