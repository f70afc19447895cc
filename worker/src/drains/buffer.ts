/**
 * A drain's bounded buffer and its drop accounting. The delivery reads the app's log stream into
 * the buffer and sends from its head; while the drain is down the buffer fills, and past its
 * capacity the oldest lines not being sent are dropped (the newest are what one wants to see once
 * the drain is back). A drop is counted, never silent; so are the lines the stream's retention
 * trimmed before the delivery read them (a worker stopped longer than the retention).
 *
 * Positions are kept as a Cursor: the stream id of the last line done (delivered or dropped) and
 * its number among all the lines ever added to the stream (`ord`; XINFO STREAM's entries-added
 * counts them). Lines are only ever trimmed from the stream's head (XADD MAXLEN, XTRIM MINID;
 * nothing deletes from the middle), so the lines with numbers 1..(entries-added - length) are the
 * trimmed ones, and those after the cursor's number among them are the ones missed.
 */
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

export class DrainBuffer {
  private items: Item[] = [];
  private inFlight = 0;
  /** The last line read (queued, or delivered, or dropped). */
  private last: Cursor;

  constructor(
    readonly capacity: number,
    start: Cursor,
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
    if (this.items.length === 0 || compareIds(c.id, this.last.id) > 0) this.last = c;
  }

  /** Lines waiting (the one being sent included). */
  get queued(): number {
    return this.items.length;
  }

  get sending(): boolean {
    return this.inFlight > 0;
  }

  /** Appends lines read after `readFrom`; returns how many had to be dropped (the oldest not being sent). */
  add(items: Item[]): number {
    if (!items.length) return 0;
    this.items.push(...items);
    this.last = { id: items[items.length - 1]!.id, ord: items[items.length - 1]!.ord };
    const over = this.items.length - Math.max(this.capacity, this.inFlight);
    if (over <= 0) return 0;
    this.items.splice(this.inFlight, over);
    return over;
  }

  /** The next batch to send (at most `max` lines), marked as being sent; empty when a batch is out already or nothing waits. */
  take(max: number): Item[] {
    if (this.inFlight) return [];
    this.inFlight = Math.min(max, this.items.length);
    return this.items.slice(0, this.inFlight);
  }

  /** The batch out was delivered. */
  delivered(): number {
    const n = this.inFlight;
    this.items.splice(0, n);
    this.inFlight = 0;
    return n;
  }

  /** The batch out was not delivered: it is sent again first. */
  failed(): void {
    this.inFlight = 0;
  }

  /** What is done (delivered or dropped): a restart reads on after it, so it re-sends at most what waited. */
  done(): Cursor {
    const head = this.items[0];
    return head ? { id: idBefore(head.id), ord: head.ord - 1 } : this.last;
  }
}
