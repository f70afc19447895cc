/**
 * The host's log collector: ships every app replica's captured output (log.ndjson, read
 * through logs.ts readFrom) into its app's Redis stream (@paas/shared/app-log). It runs in
 * the agent's process (no process of its own: the agent already watches the containers, and
 * a Node service costs ~40 MB idle); containers never reach Redis themselves.
 *
 * Exactly once across restarts: each batch's XADDs and the container's new cursor go in one
 * MULTI/EXEC, so either both are stored or neither; a restarted collector reads the cursors
 * back and goes on from there.
 *
 * Which containers: those labelled paas.app + paas.process (replicas and their sidecars), not
 * builds. Found by a scan when the containers dir changes (and every SCAN_MS in case an event
 * was missed); each is followed by a DirWatch on its dir until it has exited and all is shipped.
 */
import fs from "node:fs";
import { Redis } from "ioredis";
import { appLogKey, LOG_OFFSETS_KEY, logRetention, minIdFor, xaddArgs, type LogRetention } from "@paas/shared/app-log";
import type { Runtime } from "./containers.ts";
import { DirWatch, SAFETY_MS } from "./dirwatch.ts";
import { LOG_FILE, readFrom, type LogCursor } from "./logs.ts";
import type { Layout } from "./paths.ts";

const SCAN_MS = 10_000;
/** Bytes read per batch: ~5,000 lines of 200 bytes, one MULTI. */
const BATCH_BYTES = 1 << 20;
/** How often an app's stream is trimmed by age (MINID); MAXLEN trims on every XADD. */
const TRIM_EVERY_MS = 10_000;

interface ShipMeta {
  type: string;
  replica: string;
  /** The sidecar's kind, for a sidecar's container. */
  sidecar?: string;
}

interface Follower {
  done: boolean;
  stop: AbortController;
}

export class LogShipper {
  private followers = new Map<string, Follower>();
  private redis?: Redis;
  private retention: LogRetention;
  private trimmedAt = new Map<string, number>();
  private watcher?: fs.FSWatcher;
  private timer?: NodeJS.Timeout;
  private scanning = false;
  private rescan = false;

  constructor(
    private rt: Runtime,
    private layout: Layout,
    private opts: { redisUrl: string; log: (m: string) => void; env?: NodeJS.ProcessEnv },
  ) {
    this.retention = logRetention(opts.env);
  }

  start() {
    try {
      this.watcher = fs.watch(this.layout.containers, { persistent: false }, () => this.scan());
      this.watcher.on("error", () => undefined);
    } catch {}
    this.timer = setInterval(() => this.scan(), SCAN_MS).unref();
    // A replica restarted by its policy (same id, its follower done) is followed again at once.
    const prev = this.rt.onStart;
    this.rt.onStart = (id) => {
      prev?.(id);
      this.scan();
    };
    this.scan();
  }

  async stop() {
    this.watcher?.close();
    clearInterval(this.timer);
    for (const f of this.followers.values()) f.stop.abort();
    await this.redis?.quit().catch(() => undefined);
  }

  private conn(): Redis {
    if (!this.redis) {
      // Redis down: commands wait and go once it is back (no batch is lost, cursors stay put).
      this.redis = new Redis(this.opts.redisUrl, { maxRetriesPerRequest: null, lazyConnect: false });
      let said = false;
      this.redis.on("error", (err) => {
        if (!said) this.opts.log(`logship: redis ${this.opts.redisUrl}: ${err.message}; app logs wait until it is back`);
        said = true;
      });
      this.redis.on("ready", () => (said = false));
    }
    return this.redis;
  }

  private scan() {
    if (this.scanning) {
      this.rescan = true;
      return;
    }
    this.scanning = true;
    try {
      const seen = new Set<string>();
      for (const c of this.rt.list()) {
        if (!c.labels["paas.app"] || !(c.labels["paas.process"] || c.labels["paas.sidecar"]) || c.labels["paas.build"]) continue;
        seen.add(c.id);
        const f = this.followers.get(c.id);
        if (f && (!f.done || c.state !== "running")) continue;
        const follower: Follower = { done: false, stop: new AbortController() };
        this.followers.set(c.id, follower);
        void this.follow(c.id, c.labels, follower).catch((err) => {
          this.opts.log(`logship: ${c.name}: ${(err as Error).message}`);
          follower.done = true;
        });
      }
      for (const [id, f] of this.followers) {
        if (seen.has(id)) continue;
        f.stop.abort();
        this.followers.delete(id);
        void this.conn().hdel(LOG_OFFSETS_KEY, id).catch(() => undefined);
      }
    } finally {
      this.scanning = false;
    }
    if (this.rescan) {
      this.rescan = false;
      setImmediate(() => this.scan());
    }
  }

  private async follow(id: string, labels: Record<string, string>, f: Follower) {
    const dir = this.layout.container(id);
    const app = labels["paas.app"];
    // A sidecar (labelled paas.sidecar = KIND, paas.replica = "web.1") speaks for its replica, on a stream of its own.
    const kind = labels["paas.sidecar"];
    const [stype, snum] = (labels["paas.replica"] ?? "").split(".");
    const meta: ShipMeta = kind ? { type: stype || kind, replica: snum ?? "", sidecar: kind } : { type: labels["paas.process"], replica: labels["paas.replica"] ?? "" };
    const redis = this.conn();
    const saved = await redis.hget(LOG_OFFSETS_KEY, id);
    let cursor: LogCursor | undefined = saved ? (JSON.parse(saved) as LogCursor) : undefined;
    const watch = new DirWatch(dir, (n) => n.startsWith(LOG_FILE) || n === "status.json");
    try {
      while (!f.stop.signal.aborted) {
        const seq = watch.seq;
        const exited = this.rt.exitedOrGone(id);
        const chunk = readFrom(dir, cursor, BATCH_BYTES);
        if (chunk.skipped) this.opts.log(`logship: ${app} ${meta.type}.${meta.replica}: the log rotated past lines not yet shipped (collector far behind); some are missing`);
        if (chunk.lines.length > 0 || (chunk.cursor.ino !== cursor?.ino && chunk.cursor.ino !== 0)) {
          for (;;) {
            try {
              await this.ship(app, meta, id, chunk.lines, chunk.cursor);
              break;
            } catch (err) {
              // the same batch again (the cursor moves only with it): nothing lost, nothing twice
              this.opts.log(`logship: ${app} ${meta.type}.${meta.replica}: ${(err as Error).message}; retrying`);
              await new Promise((r) => setTimeout(r, 1000));
              if (f.stop.signal.aborted) return;
            }
          }
          cursor = chunk.cursor;
          continue;
        }
        if (exited) break;
        await watch.changed(seq, SAFETY_MS, f.stop.signal);
      }
    } finally {
      watch.close();
      f.done = true;
    }
  }

  private async ship(app: string, meta: ShipMeta, id: string, raw: string[], cursor: LogCursor) {
    const key = appLogKey(app);
    const m = this.conn().multi();
    for (const r of raw) {
      let e: { t?: string; stream?: string; line?: string };
      try {
        e = JSON.parse(r);
      } catch {
        continue; // a torn line (a monitor killed mid-write): nothing to ship
      }
      const line = e.line ?? "";
      let stream = e.stream ?? "stdout";
      let text = line;
      if (meta.sidecar === "logging") {
        // the logging sidecar prints `<file>\t<line>` for each line of the app's log files
        const tab = line.indexOf("\t");
        if (tab > 0) [stream, text] = [`file:${line.slice(0, tab)}`, line.slice(tab + 1)];
        else stream = "sidecar:logging";
      } else if (meta.sidecar) stream = `sidecar:${meta.sidecar}`;
      m.xadd(key, ...(xaddArgs({ t: e.t ?? new Date().toISOString(), src: "app", type: meta.type, replica: meta.replica, stream, line: text }, this.retention) as [string]));
    }
    m.hset(LOG_OFFSETS_KEY, id, JSON.stringify(cursor));
    const now = Date.now();
    if (now - (this.trimmedAt.get(app) ?? 0) > TRIM_EVERY_MS) {
      this.trimmedAt.set(app, now);
      m.xtrim(key, "MINID", "~", minIdFor(this.retention, now));
    }
    const res = await m.exec();
    const failed = res?.find(([err]) => err);
    if (!res || failed) throw new Error(`storing ${raw.length} line(s) failed: ${failed?.[0]?.message ?? "transaction aborted"}`);
  }
}
