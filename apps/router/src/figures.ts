/**
 * Per-app access figures, from the access log (access-log.ts): requests by status class, bytes
 * in and out, and a latency histogram (Prometheus-style buckets), since the router started.
 * The metrics work reads them from Redis (ROUTER_FIGURES_KEY: hash field = app, value = JSON
 * AppFigures), written at most every few seconds and only when they changed; an app no longer
 * routed loses its figures (retain).
 */
import type { Redis } from "ioredis";
import { ROUTER_FIGURES_KEY } from "@paas/shared";

/** Upper bounds of the latency buckets, in ms; the last bucket (+Inf) takes the rest. */
export const LATENCY_BUCKETS_MS = [1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000];

export interface AppFigures {
  requests: { "1xx": number; "2xx": number; "3xx": number; "4xx": number; "5xx": number };
  bytesIn: number;
  bytesOut: number;
  latencyMs: { buckets: number[]; counts: number[]; sum: number; count: number };
  /** When these figures started (the router's start), ms since the epoch. */
  since: number;
}

export class Figures {
  private apps = new Map<string, AppFigures>();
  private dirty = new Set<string>();
  private readonly since = Date.now();

  /** Apps in the routing table (null: not known yet); the figures of others are dropped. */
  private live: ReadonlySet<string> | null = null;
  /** Apps whose figures went (no longer routed): their hash fields go at the next publish. */
  private gone = new Set<string>();

  /**
   * Keeps the figures of `apps` only: an app that is no longer routed (destroyed) loses them,
   * in Redis too, and a later line of it in the access log is not counted, so an app made
   * again under the same name starts from nothing.
   */
  retain(apps: ReadonlySet<string>): void {
    this.live = apps;
    for (const app of this.apps.keys()) {
      if (apps.has(app)) continue;
      this.apps.delete(app);
      this.dirty.delete(app);
      this.gone.add(app);
    }
  }

  record(app: string, status: number, bytesIn: number, bytesOut: number, ms: number): void {
    if (this.live && !this.live.has(app)) return;
    let f = this.apps.get(app);
    if (!f) {
      f = {
        requests: { "1xx": 0, "2xx": 0, "3xx": 0, "4xx": 0, "5xx": 0 },
        bytesIn: 0,
        bytesOut: 0,
        latencyMs: { buckets: LATENCY_BUCKETS_MS, counts: new Array(LATENCY_BUCKETS_MS.length + 1).fill(0), sum: 0, count: 0 },
        since: this.since,
      };
      this.apps.set(app, f);
    }
    const cls = `${Math.min(5, Math.max(1, Math.floor(status / 100)))}xx` as keyof AppFigures["requests"];
    f.requests[cls]++;
    f.bytesIn += bytesIn;
    f.bytesOut += bytesOut;
    const b = LATENCY_BUCKETS_MS.findIndex((le) => ms <= le);
    f.latencyMs.counts[b < 0 ? LATENCY_BUCKETS_MS.length : b]++;
    f.latencyMs.sum += ms;
    f.latencyMs.count++;
    this.dirty.add(app);
  }

  get(app: string): AppFigures | undefined {
    return this.apps.get(app);
  }

  entries(): IterableIterator<[string, AppFigures]> {
    return this.apps.entries();
  }

  /** Writes the apps whose figures changed since the last call. */
  async publish(redis: Redis): Promise<void> {
    if (this.gone.size) {
      const gone = [...this.gone];
      this.gone.clear();
      await redis.hdel(ROUTER_FIGURES_KEY, ...gone);
    }
    if (this.dirty.size === 0) return;
    const apps = [...this.dirty];
    this.dirty.clear();
    await redis.hset(ROUTER_FIGURES_KEY, Object.fromEntries(apps.map((a) => [a, JSON.stringify(this.apps.get(a))])));
  }
}
