/**
 * The log store: the one module that knows how a container's output is kept on disk.
 *
 * The container's monitor (native paas-run) writes each line of the app's stdout and stderr
 * as one JSON object per line (NDJSON: `{"t": ISO time, "stream": "stdout"|"stderr",
 * "line": text}`) to `log.ndjson` in the container's dir, and rotates it by size: the full
 * file is renamed to `log.ndjson.1` (the older one dropped) and a new `log.ndjson` begun.
 *
 * Use:
 *   const logs = new LogStore();
 *   for await (const raw of logs.lines(dir, () => exited, { follow: true })) {
 *     const e = parseLogEntry(raw);                   // { t, stream, line }
 *   }
 *   - history reads the rotated file first, then the current one;
 *   - `tail: n` gives the last n complete lines of both;
 *   - `follow` goes on until `exited()` says the monitor is done (it has written every line by
 *     then), woken by the dir's change events (dirwatch.ts), not a poll; a follower that sees
 *     the name point at a new file (a rotation) finishes the old one first.
 */
import fs from "node:fs";
import path from "node:path";
import { DirWatch, SAFETY_MS } from "./dirwatch.ts";

export const LOG_FILE = "log.ndjson";
/** The monitor's exit record: once it is there, no more lines come. */
const STATUS_FILE = "status.json";

export interface LogEntry {
  /** When the monitor read the line (ISO 8601). */
  t: string;
  stream: "stdout" | "stderr";
  line: string;
}

/** One raw line of the log as an entry. */
export function parseLogEntry(raw: string): LogEntry {
  return JSON.parse(raw) as LogEntry;
}

export interface LogReadOptions {
  follow?: boolean;
  tail?: number;
  signal?: AbortSignal;
}

export class LogStore {
  /**
   * Raw NDJSON lines of the container whose dir is `dir`. `exited` is asked before each read
   * when following: once it says true, what is in the file is all there will be.
   */
  async *lines(dir: string, exited: () => boolean, opts: LogReadOptions = {}): AsyncGenerator<string> {
    const file = path.join(dir, LOG_FILE);
    const rotated = `${file}.1`;
    // made before the first read: a line written after any read wakes the follower
    const watch = opts.follow ? new DirWatch(dir, (f) => f.startsWith(LOG_FILE) || f === STATUS_FILE) : undefined;
    let fd: number | undefined;
    let ino = 0;
    let pos = 0;
    let rest = "";
    const openCurrent = () => {
      try {
        fd = fs.openSync(file, "r");
        ino = fs.fstatSync(fd).ino;
      } catch {
        fd = undefined;
      }
      pos = 0;
      rest = "";
    };
    const drain = function* (): Generator<string> {
      if (fd === undefined) return;
      const buf = Buffer.alloc(1 << 16);
      for (;;) {
        const n = fs.readSync(fd, buf, 0, buf.length, pos);
        if (n <= 0) break;
        pos += n;
        rest += buf.subarray(0, n).toString("utf8");
        const parts = rest.split("\n");
        rest = parts.pop()!;
        for (const p of parts) if (p) yield p;
      }
    };
    try {
      if (opts.tail !== undefined) {
        const complete: string[] = [];
        for (const f of [rotated, file]) {
          if (f === file) openCurrent();
          let all = "";
          try {
            all = f === file ? (fd === undefined ? "" : fs.readFileSync(fd, "utf8")) : fs.readFileSync(f, "utf8");
          } catch {}
          const lines = all.split("\n");
          complete.push(...lines.slice(0, -1).filter(Boolean));
          if (f === file) pos = Buffer.byteLength(all) - Buffer.byteLength(lines[lines.length - 1]);
        }
        for (const l of complete.slice(Math.max(0, complete.length - opts.tail))) yield l;
      } else {
        try {
          fd = fs.openSync(rotated, "r");
          yield* drain();
          fs.closeSync(fd);
        } catch {}
        openCurrent();
      }
      for (;;) {
        const seen = watch?.seq ?? 0;
        // Asked before the file is read: once exited, the monitor has written every line.
        const done = exited();
        if (fd === undefined) openCurrent();
        yield* drain();
        const now = fs.statSync(file, { throwIfNoEntry: false });
        if (fd !== undefined && now && now.ino !== ino) {
          yield* drain(); // what was written before the rename
          fs.closeSync(fd);
          openCurrent();
          yield* drain();
        }
        if (!opts.follow || opts.signal?.aborted || done) break;
        await watch!.changed(seen, SAFETY_MS, opts.signal);
      }
    } finally {
      watch?.close();
      if (fd !== undefined) fs.closeSync(fd);
    }
  }
}

/**
 * Where a reader stands in a container's log: the file (by inode, which a rotation keeps) and
 * the byte after the last complete line it has taken. The host's collector (logship.ts) keeps
 * one per container, so it resumes after a restart with nothing twice and nothing missed.
 */
export interface LogCursor {
  ino: number;
  pos: number;
  /** The file's first bytes (up to 64 of its first line): an inode number is reused once its file is gone. */
  head?: string;
}

const HEAD_BYTES = 64;
function headOf(fd: number): string {
  const buf = Buffer.alloc(HEAD_BYTES);
  const n = fs.readSync(fd, buf, 0, HEAD_BYTES, 0);
  const nl = buf.subarray(0, n).indexOf(10);
  return buf.subarray(0, nl >= 0 ? nl : n).toString("latin1");
}

export interface LogChunk {
  lines: string[];
  cursor: LogCursor;
  /** The cursor's file had been rotated away twice (a reader far behind): lines were skipped. */
  skipped?: boolean;
}

function openIno(file: string): { fd: number; ino: number; size: number } | undefined {
  try {
    const fd = fs.openSync(file, "r");
    const st = fs.fstatSync(fd);
    return { fd, ino: st.ino, size: st.size };
  } catch {
    return undefined;
  }
}

/**
 * The complete raw lines after `cursor` (at most about `maxBytes` of them) in the container's
 * log whose dir is `dir`, and the cursor after them. No cursor: from the oldest line kept.
 * A cursor in the rotated file reads its rest first, then moves on to the current file.
 */
export function readFrom(dir: string, cursor: LogCursor | undefined, maxBytes = 1 << 20): LogChunk {
  const file = path.join(dir, LOG_FILE);
  const cur = openIno(file);
  const old = openIno(`${file}.1`);
  try {
    let at: { fd: number; ino: number; size: number } | undefined;
    let pos = 0;
    let skipped = false;
    const same = (f: typeof cur) => f && cursor && cursor.ino === f.ino && cursor.pos <= f.size && (cursor.pos === 0 || headOf(f.fd) === cursor.head);
    if (same(cur)) [at, pos] = [cur, cursor!.pos];
    else if (same(old)) [at, pos] = [old, cursor!.pos];
    else {
      // first read (or lost track): the oldest file kept
      skipped = cursor !== undefined && cursor.ino !== 0;
      [at, pos] = [old ?? cur, 0];
    }
    if (!at) return { lines: [], cursor: cursor ?? { ino: 0, pos: 0 } };
    const lines: string[] = [];
    let budget = maxBytes;
    for (;;) {
      const want = Math.min(budget, at.size - pos);
      let took = 0;
      if (want > 0) {
        const buf = Buffer.alloc(want);
        const n = fs.readSync(at.fd, buf, 0, want, pos);
        const end = buf.subarray(0, n).lastIndexOf(10);
        if (end >= 0) {
          for (const l of buf.subarray(0, end).toString("utf8").split("\n")) if (l) lines.push(l);
          took = end + 1;
          pos += took;
          budget -= took;
        }
      }
      // The rotated file is finished (the monitor writes only the current one): go on there.
      if (at === old && cur && pos >= old.size && budget > 0) {
        [at, pos] = [cur, 0];
        continue;
      }
      break;
    }
    return { lines, cursor: { ino: at.ino, pos, ...(pos > 0 ? { head: headOf(at.fd) } : {}) }, ...(skipped ? { skipped } : {}) };
  } finally {
    if (cur) fs.closeSync(cur.fd);
    if (old) fs.closeSync(old.fd);
  }
}
