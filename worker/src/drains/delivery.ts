/**
 * One drain's delivery: reads the app's log stream from the drain's own cursor into a bounded
 * buffer (buffer.ts) and sends it in batches (transport.ts), retrying with exponential backoff
 * while the drain is down. Its figures (sent, dropped, queued, state, last error) and its cursor
 * go to drainStatsKey(app) a few times a second, so `paas drains` shows them and a restarted
 * worker reads on from where this one was (re-sending at most what waited in the buffer or was
 * not yet confirmed).
 *
 * Syslog has no receipt: a line written on a TCP or TLS connection counts as sent once that
 * connection stayed open `windowMs` (2 s) after the write; lines written on a connection that broke
 * sooner are sent again on the next (buffer.ts settle). Why this rule: a syslog server that dies
 * or restarts closes its connections (FIN, or RST for what it had not read), which reaches us
 * within a round trip; what it had taken from the socket but not yet handled is seconds old at
 * most. So a line that stayed 2 s on an open connection was read by a live server, and one that
 * did not is sent again: a receiver may see it twice (at least once, as Heroku's and Fluent
 * Bit's users know), never lose it unseen. The window holds at most `windowBytes` (1 MiB: the
 * 2 s of a drain at ~7,000 lines/s; more would let one busy drain hold the worker's memory):
 * past it, only the lines' count is kept, counted as sent once their 2 s are up, or as dropped
 * if the connection breaks first. What this cannot see: a server host that vanishes without a
 * FIN or RST (powered off) leaves the connection open until TCP gives up; lines written over 2 s
 * before that count as sent. RELP would close that gap; plain syslog cannot.
 *
 * Reading: XINFO STREAM and XREAD in one MULTI (what the stream trimmed after the cursor is
 * counted as dropped: buffer.ts missedLines), then, when there is nothing new, a blocking XREAD
 * only to wait for the next line. While the drain is up and the buffer full, reading waits for
 * the sender (no drop while it keeps up); while it is down, reading goes on and the oldest
 * waiting lines are dropped past the buffer's capacity.
 */
import type { Redis } from "ioredis";
import { appLogKey, drainStatsKey, entryFromFields } from "@paas/shared/app-log";
import { DRAIN_STAT_FIELDS, drainStatField, parseDrainUrl, parseStreamInfo, type DrainState, type PublishedDrain } from "@paas/shared/drains";
import { DrainBuffer, missedLines, type Batch, type Cursor, type Item } from "./buffer.ts";
import { syslogMessage } from "./framing.ts";
import { describeError, transportFor, type Transport } from "./transport.ts";

export interface DeliveryOptions {
  bufferLines: number;
  batchLines: number;
  retryMaxMs: number;
  /** HOSTNAME of the syslog messages. */
  hostname: string;
  allowLocal: boolean;
  extraCa?: string;
  /** How long a syslog connection must stay open after a write before its lines count as received (default 2000). */
  windowMs?: number;
  /** The most bytes of unconfirmed syslog lines kept to send again (default 1 MiB). */
  windowBytes?: number;
  /** https: POSTs out at once (default 4). */
  inFlight?: number;
  /** How often figures and the cursor are written while they change. */
  flushMs?: number;
  /** The longest a blocking read waits before it looks again (and notices a stop). */
  blockMs?: number;
}

const RETRY_MIN_MS = 500;

/** Resolves after `ms` or as soon as `wake` is called. */
class Wait {
  private wakeUp: (() => void) | null = null;
  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(t);
        if (this.wakeUp === done) this.wakeUp = null;
        resolve();
      };
      const t = setTimeout(done, ms);
      this.wakeUp = done;
    });
  }
  wake(): void {
    this.wakeUp?.();
  }
}

export class DrainDelivery {
  private running = true;
  private readonly buffer: DrainBuffer;
  private readonly transport: Transport;
  private readonly key: string;
  private state: DrainState = "starting";
  private sentSinceFlush = 0;
  private droppedSinceFlush = 0;
  private error: { text: string; at: string } | null = null;
  private sentAt: string | null = null;
  private dirty = true;
  private readonly senderWait = new Wait();
  private readonly readerWait = new Wait();
  private readonly flusher: NodeJS.Timeout;
  private readonly loops: Promise<void>[];
  private flushing: Promise<void> = Promise.resolve();
  /** While the drain is down: when the next try may go, and the wait after it. */
  private retryAt = 0;
  private backoff = RETRY_MIN_MS;

  constructor(
    readonly app: string,
    readonly spec: PublishedDrain,
    start: Cursor,
    private readonly redis: Redis,
    private readonly reader: Redis,
    private readonly o: DeliveryOptions,
  ) {
    this.key = appLogKey(app);
    this.buffer = new DrainBuffer(o.bufferLines, start, { windowMs: o.windowMs ?? 2000, windowBytes: o.windowBytes ?? 1 << 20 });
    const target = parseDrainUrl(spec.url, { allowLocal: true });
    this.transport = transportFor(target, { drainToken: `d.${spec.id}`, allowLocal: o.allowLocal, extraCa: o.extraCa, inFlight: o.inFlight });
    this.flusher = setInterval(() => void this.flush(), o.flushMs ?? 250);
    this.loops = [this.readLoop(), this.sendLoop()];
  }

  /** Stops reading and sending; the figures and cursor are written a last time unless `forget` (the drain was removed). */
  async stop(forget = false): Promise<void> {
    this.running = false;
    clearInterval(this.flusher);
    this.senderWait.wake();
    this.readerWait.wake();
    // A blocking read ends when its connection does.
    this.reader.disconnect();
    // Closed by us, our written data before our FIN: what it took counts as sent (buffer.ts release).
    const r = this.buffer.release((conn) => this.transport.open(conn));
    this.sentSinceFlush += r.sent;
    this.droppedSinceFlush += r.dropped;
    this.dirty = true;
    this.transport.close();
    await Promise.allSettled(this.loops);
    await this.flushing;
    if (forget) await this.redis.hdel(drainStatsKey(this.app), ...statFields(this.spec.id)).catch(() => {});
    else await this.flush();
  }

  private async readLoop(): Promise<void> {
    while (this.running) {
      try {
        // Up and full: the sender catches up before more is read (nothing is dropped while it keeps up).
        if (this.buffer.queued >= this.o.bufferLines && this.state !== "retrying") {
          await this.readerWait.sleep(1000);
          continue;
        }
        const from = this.buffer.readFrom;
        // While the drain is up, no more than there is room for: a drop is for a drain that is down.
        const most = Math.max(100, Math.min(this.o.batchLines * 4, this.o.bufferLines));
        const count = this.state === "retrying" ? most : Math.min(most, this.o.bufferLines - this.buffer.queued);
        const res = (await this.reader.multi().xinfo("STREAM", this.key).xread("COUNT", count, "STREAMS", this.key, from.id).exec()) ?? [];
        const [infoErr, infoReply] = res[0] ?? [];
        // No stream yet (the app has logged nothing): an empty one.
        const info = parseStreamInfo(infoErr ? [] : infoReply);
        const skip = missedLines(from, info);
        if (skip.missed) {
          this.droppedSinceFlush += skip.missed;
          this.dirty = true;
          this.buffer.skipTo(skip.cursor);
        }
        const [readErr, readReply] = res[1] ?? [];
        if (readErr) throw readErr;
        const rows = ((readReply as [string, [string, string[]][]][] | null)?.[0]?.[1] ?? []) as [string, string[]][];
        let ord = this.buffer.readFrom.ord;
        const items: Item[] = rows.map(([id, fields]) => ({ id, ord: ++ord, entry: entryFromFields(id, fields) }));
        if (items.length) {
          const dropped = this.buffer.add(items);
          this.droppedSinceFlush += dropped;
          this.dirty = true;
          this.senderWait.wake();
          continue;
        }
        // Nothing new: wait for the next line (what it returns is read again by the MULTI above).
        await this.reader.xread("COUNT", 1, "BLOCK", this.o.blockMs ?? 5000, "STREAMS", this.key, this.buffer.readFrom.id);
      } catch (err) {
        if (!this.running) return;
        console.error(`drains: reading ${this.app}'s log for drain ${this.spec.id}: ${(err as Error).message}`);
        await this.readerWait.sleep(1000);
      }
    }
  }

  /** Counts what the syslog window confirmed or lost, and queues again what a broken connection held. */
  private settle(): void {
    const r = this.buffer.settle((conn) => this.transport.open(conn));
    if (!r.sent && !r.dropped && !r.resent) return;
    this.sentSinceFlush += r.sent;
    this.droppedSinceFlush += r.dropped;
    this.dirty = true;
    if (r.resent || r.dropped) {
      console.log(`drains: the connection of drain ${this.spec.id} of ${this.app} broke: ${r.resent} unconfirmed lines go again${r.dropped ? `, ${r.dropped} past the window counted as dropped` : ""}`);
    }
  }

  /**
   * Sends batches, up to the transport's `parallel` out at once (https: 4 POSTs, each counted
   * when its answer comes, so they may be answered and counted in any order; syslog: one at a
   * time, in order). While the drain is down, one batch at a time probes it after each backoff.
   */
  private async sendLoop(): Promise<void> {
    const out = new Set<Promise<void>>();
    while (this.running) {
      this.settle();
      const most = this.state === "retrying" ? 1 : this.transport.parallel;
      const backoffLeft = this.retryAt - Date.now();
      if (out.size >= most || (out.size && backoffLeft > 0)) {
        await Promise.race(out);
        continue;
      }
      if (backoffLeft > 0) {
        await this.senderWait.sleep(backoffLeft);
        continue;
      }
      const batch = this.buffer.take(this.o.batchLines);
      if (!batch) {
        // Idle: look again when a batch is answered, a line comes, or the next written lines' window ends.
        const next = this.buffer.nextSettle();
        await Promise.race([...out, this.senderWait.sleep(next === null ? 1000 : Math.min(1000, next + 10))]);
        continue;
      }
      const p: Promise<void> = this.sendBatch(batch).finally(() => out.delete(p));
      out.add(p);
    }
    await Promise.allSettled(out);
  }

  private async sendBatch(batch: Batch): Promise<void> {
    try {
      const receipt = await this.transport.send(
        batch.items.map((i) => syslogMessage(i.entry, this.app, this.o.hostname)),
        batch.id,
      );
      if (receipt) this.buffer.written(batch, receipt.conn, receipt.bytes);
      else this.sentSinceFlush += this.buffer.delivered(batch);
      this.sentAt = new Date().toISOString();
      this.state = "delivering";
      this.dirty = true;
      this.backoff = RETRY_MIN_MS;
      this.retryAt = 0;
      this.readerWait.wake();
    } catch (err) {
      this.buffer.failed(batch);
      if (!this.running) return;
      const target = parseDrainUrl(this.spec.url, { allowLocal: true });
      this.error = { text: describeError(err as Error & { code?: string }, target), at: new Date().toISOString() };
      this.state = "retrying";
      this.dirty = true;
      // One backoff for the batches that failed together (not doubled by each of them).
      const now = Date.now();
      if (this.retryAt <= now) {
        this.retryAt = now + this.backoff;
        this.backoff = Math.min(this.backoff * 2, this.o.retryMaxMs);
      }
      // While it is down the reader goes on (and drops past the buffer).
      this.readerWait.wake();
    }
  }

  /** Writes what changed: counters as increments (a worker taking over adds to them), the rest as values. */
  private flush(): Promise<void> {
    if (!this.dirty) return this.flushing;
    this.dirty = false;
    const sent = this.sentSinceFlush;
    const dropped = this.droppedSinceFlush;
    this.sentSinceFlush = 0;
    this.droppedSinceFlush = 0;
    const id = this.spec.id;
    const values: Record<string, string> = {
      [drainStatField(id, "queued")]: String(this.buffer.queued),
      [drainStatField(id, "state")]: this.state,
      [drainStatField(id, "cursor")]: JSON.stringify(this.buffer.done()),
    };
    if (this.error) Object.assign(values, { [drainStatField(id, "error")]: this.error.text, [drainStatField(id, "errorAt")]: this.error.at });
    if (this.sentAt) values[drainStatField(id, "sentAt")] = this.sentAt;
    const key = drainStatsKey(this.app);
    const m = this.redis.multi().hset(key, values);
    if (sent) m.hincrby(key, drainStatField(id, "sent"), sent);
    if (dropped) m.hincrby(key, drainStatField(id, "dropped"), dropped);
    this.flushing = this.flushing
      .then(() => m.exec())
      .then(() => undefined)
      .catch((err: Error) => {
        // Counted again at the next flush.
        this.sentSinceFlush += sent;
        this.droppedSinceFlush += dropped;
        this.dirty = true;
        console.error(`drains: figures of drain ${id} not written: ${err.message}`);
      });
    return this.flushing;
  }
}

export const statFields = (id: string) => DRAIN_STAT_FIELDS.map((n) => drainStatField(id, n));
