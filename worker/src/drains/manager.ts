/**
 * The worker's drains: one delivery (delivery.ts) per drain that the API published in Redis
 * (DRAINS_KEY, per app: its Drain rows). A change is published on DRAINS_CHANGED, so a drain
 * added, removed or swapped starts or stops within a moment, without restarting anything; the
 * list is also read every few seconds, in case a message was missed.
 *
 * Several workers may run: each drain is delivered by the one that holds its lease (a Redis key
 * with a expiry it renews), so lines are not sent twice; when that worker dies, another takes the
 * drain over once the lease runs out, reading on from the cursor the first one kept.
 */
import { randomUUID } from "node:crypto";
import type { Redis } from "ioredis";
import { DRAINS_CHANGED, DRAINS_KEY, drainStatsKey } from "@paas/shared/app-log";
import { config } from "@paas/shared/config";
import { drainSettings, drainStatField, type PublishedDrain } from "@paas/shared/drains";
import { DrainDelivery, type DeliveryOptions } from "./delivery.ts";
import { drainCa } from "./transport.ts";
import type { Cursor } from "./buffer.ts";

const LEASE_MS = 15_000;
const RESCAN_MS = 5_000;
const leaseKey = (id: string) => `paas:drains:lease:${id}`;

/** Renews a lease only while this worker holds it. */
const RENEW = `if redis.call("GET", KEYS[1]) == ARGV[1] then return redis.call("PEXPIRE", KEYS[1], ARGV[2]) else return 0 end`;
const RELEASE = `if redis.call("GET", KEYS[1]) == ARGV[1] then return redis.call("DEL", KEYS[1]) else return 0 end`;

export class DrainManager {
  private readonly running = new Map<string, DrainDelivery>();
  private readonly owner = randomUUID();
  private readonly options: DeliveryOptions;
  private sub: Redis | null = null;
  private timer: NodeJS.Timeout | null = null;
  private syncing: Promise<void> | null = null;
  private again = false;
  private stopped = false;

  constructor(
    private readonly redis: Redis,
    private readonly connect: () => Redis,
    options: Partial<DeliveryOptions> = {},
  ) {
    const s = drainSettings();
    this.options = {
      bufferLines: s.bufferLines,
      batchLines: s.batchLines,
      inFlight: s.httpsInFlight,
      retryMaxMs: s.retryMaxSeconds * 1000,
      hostname: config().domain,
      allowLocal: s.allowLocal,
      extraCa: drainCa(s.caFile),
      ...options,
    };
  }

  async start(): Promise<void> {
    this.sub = this.connect();
    this.sub.on("message", () => this.sync());
    await this.sub.subscribe(DRAINS_CHANGED);
    this.timer = setInterval(() => this.sync(), RESCAN_MS);
    await this.sync();
  }

  /** Drains being delivered here (drain id -> app). */
  get delivering(): Map<string, string> {
    return new Map([...this.running].map(([id, d]) => [id, d.app]));
  }

  /** Brings the deliveries in line with the published drains; calls while one runs make it run once more. */
  sync(): Promise<void> {
    if (this.syncing) {
      this.again = true;
      return this.syncing;
    }
    this.syncing = (async () => {
      do {
        this.again = false;
        await this.syncOnce().catch((err: Error) => console.error(`drains: ${err.message}`));
      } while (this.again && !this.stopped);
    })().finally(() => (this.syncing = null));
    return this.syncing;
  }

  private async syncOnce(): Promise<void> {
    if (this.stopped) return;
    const published = await this.redis.hgetall(DRAINS_KEY);
    const wanted = new Map<string, { app: string; spec: PublishedDrain }>();
    for (const [app, json] of Object.entries(published)) {
      try {
        for (const spec of JSON.parse(json) as PublishedDrain[]) wanted.set(spec.id, { app, spec });
      } catch {
        console.error(`drains: the published drains of ${app} are not JSON; skipped`);
      }
    }
    for (const [id, d] of this.running) {
      const w = wanted.get(id);
      const renewed = w && (await this.redis.eval(RENEW, 1, leaseKey(id), this.owner, LEASE_MS)) === 1;
      if (w && renewed) continue;
      this.running.delete(id);
      // Removed: its figures go too. Lost its lease (this worker stalled): the new holder goes on.
      await d.stop(!w);
      if (!w) await this.redis.eval(RELEASE, 1, leaseKey(id), this.owner);
      console.log(`drains: stopped delivering drain ${id} of ${d.app}${w ? " (another worker holds it now)" : ""}`);
    }
    for (const [id, { app, spec }] of wanted) {
      if (this.running.has(id) || this.stopped) continue;
      if ((await this.redis.set(leaseKey(id), this.owner, "PX", LEASE_MS, "NX")) !== "OK") continue;
      const saved = await this.redis.hget(drainStatsKey(app), drainStatField(id, "cursor"));
      let start: Cursor = spec.start;
      try {
        if (saved) start = JSON.parse(saved) as Cursor;
      } catch {
        /* a cursor that does not parse: from the drain's start */
      }
      try {
        this.running.set(id, new DrainDelivery(app, spec, start, this.redis, this.connect(), this.options));
        console.log(`drains: delivering drain ${id} of ${app}`);
      } catch (err) {
        await this.redis.eval(RELEASE, 1, leaseKey(id), this.owner);
        console.error(`drains: drain ${id} of ${app} cannot be delivered: ${(err as Error).message}`);
      }
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    await this.syncing;
    this.sub?.disconnect();
    await Promise.all(
      [...this.running].map(async ([id, d]) => {
        await d.stop(false);
        await this.redis.eval(RELEASE, 1, leaseKey(id), this.owner).catch(() => {});
      }),
    );
    this.running.clear();
  }
}
