/**
 * A drain's bounded buffer and its accounting. The delivery reads the app's log stream into the
 * buffer and sends batches from its head; while the drain is down the buffer fills, and past its
 * capacity the oldest lines not being sent are dropped (the newest are what one wants to see once
 * the drain is back). A drop is counted, never silent; so are the lines the stream's retention
 * trimmed before the delivery read them (a worker stopped longer than the retention).
 *
 * A batch is out (being sent) until its transport says how it went:
 * - delivered (an https drain's 2xx): counted as sent at once;
 * - written on connection N (syslog over TCP or TLS): TCP gives no receipt, so the lines stay in
 *   the buffer, unconfirmed, until the connection has stayed open `windowMs` after their write;
 *   if it breaks first they are sent again on the next one (at least once: a receiver may see a
 *   line twice). The window is also bounded in bytes: past `windowBytes` the oldest unconfirmed
 *   batches leave the buffer (their text freed) and only their count is kept; those are counted as
 *   sent once their time is up on an open connection, and as dropped if it breaks first;
 * - failed: it goes again, whole and before anything else, with its id (an https retry carries
 *   the same Logplex-Frame-Id, so a receiver that got it already can tell).
 *
 * Positions are kept as a Cursor: the stream id of the last line done (delivered or dropped) and
 * its number among all the lines ever added to the stream (`ord`; XINFO STREAM's entries-added
 * counts them). Lines are only ever trimmed from the stream's head (XADD MAXLEN, XTRIM MINID;
 * nothing deletes from the middle), so the lines with numbers 1..(entries-added - length) are the
 * trimmed ones, and those after the cursor's number among them are the ones missed. The cursor
 * stays before every line held (unconfirmed ones included), so a restarted worker sends again
 * what was not confirmed.
 */
import { randomUUID } from "node:crypto";
import type { AppLogEntry } from "@paas/shared/app-log";

export interface Cursor {
  /** Stream id: reading resumes after it. */
  id: string;
  /** Number of the line `id` among all the lines ever added to the stream (0: before the first). */
  ord: number;
}

export interface Item {
  id: string;
  ord: number;
  entry: AppLogEntry;
}

export interface StreamInfo {
  length: number;
  entriesAdded: number;
  /** Id of the stream's first line, or null when it is empty. */
  firstId: string | null;
}

/** Lines out together: one syslog write or one https POST. */
export interface Batch {
  /** Stays the same when the batch is sent again (https: the Logplex-Frame-Id). */
  readonly id: string;
  readonly items: Item[];
  /** Bytes on the wire (syslog: the frames), for the window's bound. */
  bytes: number;
  /** The connection it was written on (unconfirmed), and when. */
  conn?: number;
  at?: number;
}

/** What settle() found: lines now confirmed, lost with a broken connection, or queued to go again. */
export interface Settled {
  sent: number;
  dropped: number;
  resent: number;
}

function parseId(id: string): [bigint, bigint] {
  const [ms, seq] = id.split("-");
  return [BigInt(ms || 0), BigInt(seq || 0)];
}

export function compareIds(a: string, b: string): number {
  const [am, as] = parseId(a);
  const [bm, bs] = parseId(b);
  return am === bm ? (as === bs ? 0 : as < bs ? -1 : 1) : am < bm ? -1 : 1;
}

/** The greatest stream id below `id`: XREAD after it returns `id` itself first. */
export function idBefore(id: string): string {
  const [ms, seq] = parseId(id);
  if (seq > 0n) return `${ms}-${seq - 1n}`;
  if (ms === 0n) return "0-0";
  return `${ms - 1n}-18446744073709551615`;
}

/**
 * Lines trimmed from the stream after `c` (never read), and the cursor to read on from: the
 * first line still there follows the missed ones.
 */
export function missedLines(c: Cursor, info: StreamInfo): { missed: number; cursor: Cursor } {
  if (!info.firstId || compareIds(info.firstId, c.id) <= 0) return { missed: 0, cursor: c };
  const trimmed = info.entriesAdded - info.length;
  // A stream made anew (fewer lines ever added than the cursor's number) misses nothing we knew of.
  const missed = Math.max(0, trimmed - c.ord);
  return { missed, cursor: { id: idBefore(info.firstId), ord: Math.max(c.ord, trimmed) } };
}

export interface WindowOptions {
  /** How long a connection must stay open after a write before its lines count as received. */
  windowMs: number;
  /** The most bytes of unconfirmed lines kept to send again. */
  windowBytes: number;
}

export class DrainBuffer {
  /** Read, not yet out. */
  private waiting: Item[] = [];
  /** Out, the transport's answer pending. */
  private readonly out = new Set<Batch>();
  /** Failed, to go again first (oldest first). */
  private retry: Batch[] = [];
  /** Written on a connection, unconfirmed (in the order written). */
  private unconfirmed: Batch[] = [];
  private unconfirmedBytes = 0;
  /** Unconfirmed lines past the window's bytes: only their count is kept. */
  private uncounted: { n: number; conn: number; at: number }[] = [];
  /** The last line read (queued, or delivered, or dropped). */
  private last: Cursor;

  constructor(
    readonly capacity: number,
    start: Cursor,
    readonly window: WindowOptions = { windowMs: 2000, windowBytes: 1 << 20 },
  ) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new Error(`a drain buffer holds at least 1 line, not ${capacity}`);
    this.last = start;
  }

  /** Where reading goes on from. */
  get readFrom(): Cursor {
    return this.last;
  }

  /** Moves the read position past lines that were never read (trimmed: counted by the caller). */
  skipTo(c: Cursor): void {
    if (this.held === 0 || compareIds(c.id, this.last.id) > 0) this.last = c;
  }

  private get outLines(): number {
    let n = 0;
    for (const b of this.out) n += b.items.length;
    for (const b of this.retry) n += b.items.length;
    return n;
  }

  /** Lines waiting to go out, out, or to go again (what the capacity bounds). */
  get queued(): number {
    return this.waiting.length + this.outLines;
  }

  /** Lines written and not yet confirmed (those still held and those only counted). */
  get unconfirmedLines(): number {
    return this.unconfirmed.reduce((n, b) => n + b.items.length, 0) + this.uncounted.reduce((n, u) => n + u.n, 0);
  }

  private get held(): number {
    return this.queued + this.unconfirmed.length;
  }

  /** Batches out now. */
  get sending(): number {
    return this.out.size;
  }

  /** Appends lines read after `readFrom`; returns how many had to be dropped (the oldest not out). */
  add(items: Item[]): number {
    if (!items.length) return 0;
    this.waiting.push(...items);
    this.last = { id: items[items.length - 1]!.id, ord: items[items.length - 1]!.ord };
    return this.trim();
  }

  /** Drops the oldest waiting lines past the capacity (what is out stays). */
  private trim(): number {
    const over = Math.min(this.waiting.length, this.queued - this.capacity);
    if (over <= 0) return 0;
    this.waiting.splice(0, over);
    return over;
  }

  /** The next batch to send (a failed one first, else at most `max` lines), marked as out; null when nothing waits. */
  take(max: number): Batch | null {
    const b = this.retry.shift() ?? (this.waiting.length ? { id: randomUUID(), items: this.waiting.splice(0, Math.max(1, max)), bytes: 0 } : null);
    if (b) this.out.add(b);
    return b;
  }

  /** The batch was received (an https answer): returns its lines, counted as sent. */
  delivered(b: Batch): number {
    if (!this.out.delete(b)) return 0;
    return b.items.length;
  }

  /** The batch was written on connection `conn` (`bytes` long): its lines wait for the window. */
  written(b: Batch, conn: number, bytes: number, now = Date.now()): void {
    if (!this.out.delete(b)) return;
    Object.assign(b, { conn, bytes, at: now });
    this.unconfirmed.push(b);
    this.unconfirmedBytes += bytes;
  }

  /** The batch was not sent: it goes again first, the same lines under the same id. */
  failed(b: Batch): void {
    if (!this.out.delete(b)) return;
    this.retry.push(b);
    this.retry.sort((x, y) => x.items[0]!.ord - y.items[0]!.ord);
  }

  /**
   * Confirms what stayed `windowMs` on a connection still open (`open(conn)`), queues again
   * what was written on one that broke (its count only, past the window's bytes: dropped), and
   * keeps the window within its bytes. Call it between sends, and before reading figures.
   */
  settle(open: (conn: number) => boolean, now = Date.now()): Settled {
    const r: Settled = { sent: 0, dropped: 0, resent: 0 };
    const again: Item[] = [];
    const keep: Batch[] = [];
    for (const b of this.unconfirmed) {
      if (!open(b.conn!)) {
        again.push(...b.items);
        this.unconfirmedBytes -= b.bytes;
      } else if (now - b.at! >= this.window.windowMs) {
        r.sent += b.items.length;
        this.unconfirmedBytes -= b.bytes;
      } else keep.push(b);
    }
    this.unconfirmed = keep;
    this.uncounted = this.uncounted.filter((u) => {
      if (!open(u.conn)) r.dropped += u.n;
      else if (now - u.at >= this.window.windowMs) r.sent += u.n;
      else return true;
      return false;
    });
    while (this.unconfirmedBytes > this.window.windowBytes && this.unconfirmed.length) {
      const b = this.unconfirmed.shift()!;
      this.unconfirmedBytes -= b.bytes;
      this.uncounted.push({ n: b.items.length, conn: b.conn!, at: b.at! });
    }
    // Ahead of what waits; over the capacity they go only as add() drops for newer lines, i.e.
    // while the drain stays down (the reader waits while it is up and the buffer full).
    if (again.length) {
      r.resent = again.length;
      this.waiting.unshift(...again);
    }
    return r;
  }

  /** When the next unconfirmed line's window ends (ms from `now`), or null when none waits. */
  nextSettle(now = Date.now()): number | null {
    const ats = [...this.unconfirmed.map((b) => b.at!), ...this.uncounted.map((u) => u.at)];
    return ats.length ? Math.max(0, Math.min(...ats) + this.window.windowMs - now) : null;
  }

  /**
   * Stopping, with the connection closed by us: its written data goes out before our FIN, and a
   * server that reads on reads all of it, so what was written on a connection still open counts
   * as sent now (a restarted worker then neither sends it twice nor skips it). What a broken
   * connection held is settled as usual: queued again, or dropped when only counted.
   */
  release(open: (conn: number) => boolean): Settled {
    const r = this.settle(open);
    for (const b of this.unconfirmed) r.sent += b.items.length;
    for (const u of this.uncounted) r.sent += u.n;
    this.unconfirmed = [];
    this.unconfirmedBytes = 0;
    this.uncounted = [];
    return r;
  }

  /** What is done (delivered or dropped): a restart reads on after it, so it re-sends at most what was held. */
  done(): Cursor {
    let first: Item | undefined = this.unconfirmed[0]?.items[0];
    const consider = (i: Item | undefined) => {
      if (i && (!first || i.ord < first.ord)) first = i;
    };
    consider(this.waiting[0]);
    for (const b of this.out) consider(b.items[0]);
    for (const b of this.retry) consider(b.items[0]);
    return first ? { id: idBefore(first.id), ord: first.ord - 1 } : this.last;
  }
}
