/**
 * HAProxy's access log lines (ACCESS_LOG_FORMAT in haproxy-config.ts) -> the per-app figures,
 * and the access log file ($PAAS_DATA_DIR/logs/router-access.log, one line per request with its
 * X-Request-Id; renamed to .1 past 64 MB). Other lines HAProxy prints (a replica going down or
 * up) go to the router's own log.
 */
import fs from "node:fs";
import path from "node:path";
import type { Figures } from "./figures.ts";

export interface AccessEntry {
  requestId: string;
  /** null: answered before any app was chosen (an unknown host, a refused body). */
  app: string | null;
  server: string;
  status: number;
  bytesIn: number;
  bytesOut: number;
  ms: number;
  client: string;
  method: string;
  uri: string;
}

/** One access line, or null for any other line. */
export function parseAccessLine(line: string): AccessEntry | null {
  if (!line.startsWith("access ")) return null;
  const f = line.split(" ");
  if (f.length < 11) return null;
  const [, requestId, app, server, status, bytesIn, bytesOut, ms, client, method] = f;
  return {
    requestId,
    app: app === "-" ? null : app,
    server,
    status: Number(status),
    bytesIn: Number(bytesIn),
    bytesOut: Number(bytesOut),
    ms: Number(ms),
    client,
    method,
    uri: f.slice(10).join(" ").replace(/^"|"$/g, ""),
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
  private flushing?: NodeJS.Timeout;

  constructor(
    private readonly file: string,
    private readonly figures: Figures,
  ) {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    this.size = fs.existsSync(file) ? fs.statSync(file).size : 0;
    this.out = fs.createWriteStream(file, { flags: "a" });
  }

  /** A line HAProxy printed. */
  line(line: string): void {
    const e = parseAccessLine(line);
    if (!e) {
      console.log(`haproxy: ${line}`);
      return;
    }
    if (e.app) this.figures.record(e.app, e.status, e.bytesIn, e.bytesOut, e.ms);
    const text = `${new Date().toISOString()} ${e.requestId} ${e.app ?? "-"} ${e.server} ${e.status} ${e.ms}ms in=${e.bytesIn} out=${e.bytesOut} ${e.client} ${e.method} ${e.uri}\n`;
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
