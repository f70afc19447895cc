/**
 * An app's log stream: the one module that knows its format, from the host's collector
 * (runtime/src/logship.ts) and the worker's platform events (worker/src/app-events.ts) to the
 * API, the CLI, the dashboard and the drains.
 *
 * In Redis: one stream per app (appLogKey), one entry per line, fields
 *   t       ISO time the line was read (the monitor's stamp) or the event happened
 *   src     "app" (the app's own output) | "platform" (deploys, scaling, crashes)
 *   type    the process type ("web", "worker"), or for platform lines what spoke ("deploy", "web")
 *   replica the replica's number ("1"), empty for platform lines about the whole app
 *   stream  "stdout" | "stderr" | "file:<path>" | "platform"
 *   line    the text
 * The stream's ids order lines as they arrived; retention trims by count (MAXLEN ~) and age (MINID ~).
 */

export const appLogKey = (app: string) => `paas:applog:${app}`;
/** Per container: how far the collector has shipped its log (hash field = container id, value = JSON LogCursor). */
export const LOG_OFFSETS_KEY = "paas:applog:offsets";
/** Drains: hash field = app name, value = JSON PublishedDrain[] (shared/drains.ts: the worker's deliveries follow it). */
export const DRAINS_KEY = "paas:drains";
/** Per app: each drain's figures and cursor (hash fields `<drain id>:sent` ..., shared/drains.ts). */
export const drainStatsKey = (app: string) => `paas:drains:stats:${app}`;
/** Published when an app's drains change: the worker's deliveries start or stop at once. */
export const DRAINS_CHANGED = "paas:drains:changed";

export interface AppLogEntry {
  /** The stream id (ms-seq): resume after it. */
  id: string;
  t: string;
  src: "app" | "platform";
  type: string;
  replica: string;
  stream: string;
  line: string;
}

export interface LogRetention {
  /** Entries kept per app (approximately: XADD MAXLEN ~). */
  maxLines: number;
  /** Seconds an entry is kept. */
  maxAgeSeconds: number;
}

/** PAAS_LOG_MAX_LINES (default 100,000) and PAAS_LOG_MAX_AGE_SECONDS (default 7 days). */
export function logRetention(env: NodeJS.ProcessEnv = process.env): LogRetention {
  const num = (name: string, fallback: number) => {
    const raw = env[name];
    if (raw === undefined || raw === "") return fallback;
    const n = Number(raw);
    if (!Number.isSafeInteger(n) || n <= 0) throw new Error(`${name} must be a whole number above 0, got "${raw}"`);
    return n;
  };
  return { maxLines: num("PAAS_LOG_MAX_LINES", 100_000), maxAgeSeconds: num("PAAS_LOG_MAX_AGE_SECONDS", 7 * 24 * 3600) };
}

/** The XADD arguments (after the key) of one entry, trimmed to `r.maxLines`. */
export function xaddArgs(e: Omit<AppLogEntry, "id">, r: LogRetention): string[] {
  return ["MAXLEN", "~", String(r.maxLines), "*", "t", e.t, "src", e.src, "type", e.type, "replica", e.replica, "stream", e.stream, "line", e.line];
}

/** The MINID (stream id) before which entries are older than the retention's age. */
export const minIdFor = (r: LogRetention, now = Date.now()) => `${now - r.maxAgeSeconds * 1000}-0`;

export function entryFromFields(id: string, fields: string[]): AppLogEntry {
  const f: Record<string, string> = {};
  for (let i = 0; i + 1 < fields.length; i += 2) f[fields[i]] = fields[i + 1];
  return { id, t: f.t ?? "", src: f.src === "platform" ? "platform" : "app", type: f.type ?? "", replica: f.replica ?? "", stream: f.stream ?? "", line: f.line ?? "" };
}

/** Who spoke, as Heroku writes it: `app[web.1]`, `paas[deploy]`, `app[web.1 /var/log/app/x.log]`. */
export function speaker(e: Pick<AppLogEntry, "src" | "type" | "replica" | "stream">): string {
  const who = e.replica ? `${e.type}.${e.replica}` : e.type;
  const file = e.stream.startsWith("file:") ? ` ${e.stream.slice(5)}` : "";
  return `${e.src === "platform" ? "paas" : "app"}[${who}${file}]`;
}

/** `2026-12-03T10:00:00.123Z app[web.1]: text` */
export const formatLine = (e: AppLogEntry) => `${e.t} ${speaker(e)}: ${e.line}`;

export interface LogFilter {
  /** Process type (also matches platform lines about that type). */
  type?: string;
  /** Plain text the line must contain (case-sensitive, as grep). */
  grep?: string;
  /** Only "app" or "platform" lines. */
  src?: "app" | "platform";
}

export function matches(e: AppLogEntry, f: LogFilter): boolean {
  if (f.type && e.type !== f.type) return false;
  if (f.src && e.src !== f.src) return false;
  if (f.grep && !e.line.includes(f.grep)) return false;
  return true;
}

/** "10m", "2h", "30s", "1d" as milliseconds; undefined when it is not one. */
export function parseSince(s: string): number | undefined {
  const m = /^(\d+)(s|m|h|d)$/.exec(s.trim());
  if (!m) return undefined;
  return Number(m[1]) * { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as "s" | "m" | "h" | "d"];
}
