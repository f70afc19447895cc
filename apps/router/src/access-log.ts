/**
 * HAProxy's access log lines (ACCESS_LOG_FORMAT in haproxy-config.ts) -> the per-app figures,
 * and the access log file ($PAAS_DATA_DIR/logs/router-access.log, one line per request with its
 * X-Request-Id; renamed to .1 past 64 MB). Other lines HAProxy prints (a replica going down or
 * up) go to the router's own log.
 */
import fs from "node:fs";
import path from "node:path";
import type { Figures } from "./figures.ts";

/** The fields the figures need from one access line, or null for any other line. */
export function parseAccessLine(line: string): { app: string | null; status: number; ms: number; bytesIn: number; bytesOut: number } | null {
  if (!line.startsWith("access ")) return null;
  // access <time> <id> <app> <server> <status> <ms>ms in=<n> out=<n> <client> <method> <uri>
  const f = line.split(" ", 9);
  if (f.length < 9 || !f[6].endsWith("ms")) return null;
  return {
    app: f[3] === "-" ? null : f[3],
    status: Number(f[5]),
    ms: Number(f[6].slice(0, -2)),
    bytesIn: Number(f[7].slice(3)),
    bytesOut: Number(f[8].slice(4)),
  };
}

const ROTATE_BYTES = 64 * 2 ** 20;

/** Lines are written in batches: one write per this many bytes or FLUSH_MS, not one per request. */
const BATCH_BYTES = 64 * 1024;
const FLUSH_MS = 100;

export class AccessLog {
  private out: fs.WriteStream;
  private size: number;
  private pending = "";
  /** The start of a line whose end has not come yet. */
  private partial = "";
  private flushing?: NodeJS.Timeout;

  constructor(
    private readonly file: string,
    private readonly figures: Figures,
  ) {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    this.size = fs.existsSync(file) ? fs.statSync(file).size : 0;
    this.out = fs.createWriteStream(file, { flags: "a" });
  }

  /**
   * What HAProxy printed on stdout, as it comes (chunks, not lines: at tens of thousands of
   * requests a second a line-by-line reader costs more than HAProxy's own work on a request).
   */
  write(chunk: string): void {
    const text = this.partial + chunk;
    const end = text.lastIndexOf("\n");
    this.partial = text.slice(end + 1);
    for (let at = 0; at <= end; ) {
      const nl = text.indexOf("\n", at);
      this.line(text.slice(at, nl));
      at = nl + 1;
    }
  }

  /** One line HAProxy printed: an access line goes to the file (as it is but its prefix) and the figures. */
  line(line: string): void {
    const e = parseAccessLine(line);
    if (!e) {
      if (line) console.log(`haproxy: ${line}`);
      return;
    }
    if (e.app) this.figures.record(e.app, e.status, e.bytesIn, e.bytesOut, e.ms);
    const text = line.slice("access ".length) + "\n";
    this.size += text.length;
    if (this.size > ROTATE_BYTES) this.rotate();
    this.pending += text;
    if (this.pending.length >= BATCH_BYTES) this.flush();
    else this.flushing ??= setTimeout(() => this.flush(), FLUSH_MS);
  }

  close(): Promise<void> {
    this.flush();
    return new Promise((r) => this.out.end(r));
  }

  private flush(): void {
    clearTimeout(this.flushing);
    this.flushing = undefined;
    if (this.pending) this.out.write(this.pending);
    this.pending = "";
  }

  private rotate(): void {
    this.flush();
    this.out.end();
    fs.renameSync(this.file, `${this.file}.1`);
    this.out = fs.createWriteStream(this.file, { flags: "a" });
    this.size = 0;
  }
}
