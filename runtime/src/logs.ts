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
