/**
 * Log drains (`paas drains:add URL`): what a drain URL may be, how it is shown, and which
 * addresses it may not reach. The API checks a URL here when it is added (syntax, and an address
 * written in it); the worker's delivery (worker/src/drains) checks again each address a host
 * name resolves to when it connects, so a name pointed at the host later is refused too.
 *
 * A drain must not be a way for a tenant to reach the platform itself (its Redis, the host
 * agent, other teams' replicas on the bridge): loopback, link-local, unspecified addresses, the
 * host's own interfaces and the platform's bridge subnet are refused unless the operator sets
 * PAAS_DRAINS_ALLOW_LOCAL=1 (for a log server on the same machine, and for the tests).
 */
import net from "node:net";
import os from "node:os";
import { z } from "zod";

export const DRAIN_SCHEMES = ["syslog+tcp", "syslog+tls", "https"] as const;
export type DrainScheme = (typeof DRAIN_SCHEMES)[number];

export const MAX_DRAIN_URL_LENGTH = 2048;

export interface DrainTarget {
  scheme: DrainScheme;
  /** Host name or address as written (IPv6 without brackets). */
  host: string;
  port: number;
  /** The URL as given, normalised by WHATWG URL (https path, query and credentials kept). */
  url: string;
}

export class DrainUrlError extends Error {
  override name = "DrainUrlError";
}

const HOSTNAME = /^(?=.{1,253}$)([a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9])?)(\.[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9])?)*\.?$/i;
const EXAMPLES = "syslog+tls://logs.example.com:6514, syslog+tcp://logs.example.com:514 or https://user:pass@logs.example.com/drain";

/** PAAS_DRAINS_ALLOW_LOCAL=1: drains may point at this host and its networks. */
export const drainsAllowLocal = (env: NodeJS.ProcessEnv = process.env) => env.PAAS_DRAINS_ALLOW_LOCAL === "1" || env.PAAS_DRAINS_ALLOW_LOCAL === "true";

/** The networks a drain may not reach: this host (every interface), loopback, link-local, unspecified, the bridge. */
export function localBlockList(subnet = process.env.PAAS_SUBNET || "10.88.0.0/24"): net.BlockList {
  const b = new net.BlockList();
  b.addSubnet("127.0.0.0", 8, "ipv4");
  b.addSubnet("0.0.0.0", 8, "ipv4");
  b.addSubnet("169.254.0.0", 16, "ipv4");
  b.addAddress("::1", "ipv6");
  b.addAddress("::", "ipv6");
  b.addSubnet("fe80::", 10, "ipv6");
  const [net4, bits] = subnet.split("/");
  if (net4 && net.isIPv4(net4) && Number(bits) >= 0 && Number(bits) <= 32) b.addSubnet(net4, Number(bits), "ipv4");
  for (const list of Object.values(os.networkInterfaces())) {
    for (const a of list ?? []) b.addAddress(a.address.split("%")[0]!, a.family === "IPv6" ? "ipv6" : "ipv4");
  }
  return b;
}

/** Whether `address` (an IP) is this host or one of the networks a drain may not reach. */
export function isLocalAddress(address: string, blocked: net.BlockList = localBlockList()): boolean {
  let a = address.replace(/^\[|\]$/g, "").split("%")[0]!;
  // ::ffff:127.0.0.1 is 127.0.0.1.
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(a);
  if (mapped) a = mapped[1]!;
  const family = net.isIP(a);
  if (!family) return false;
  return blocked.check(a, family === 4 ? "ipv4" : "ipv6");
}

/** The drain a URL names; throws DrainUrlError saying what is wrong and how to write it. */
export function parseDrainUrl(text: string, opts: { allowLocal?: boolean; blocked?: net.BlockList } = {}): DrainTarget {
  const raw = text.trim();
  if (!raw) throw new DrainUrlError(`a drain URL is needed, e.g. ${EXAMPLES}`);
  if (raw.length > MAX_DRAIN_URL_LENGTH) throw new DrainUrlError(`a drain URL is at most ${MAX_DRAIN_URL_LENGTH} characters`);
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw new DrainUrlError(`"${maskDrainUrl(raw)}" is not a URL: write it as ${EXAMPLES}`);
  }
  const scheme = u.protocol.slice(0, -1).toLowerCase();
  if (!(DRAIN_SCHEMES as readonly string[]).includes(scheme)) {
    throw new DrainUrlError(`drains speak ${DRAIN_SCHEMES.map((s) => `${s}://`).join(", ")}, not ${scheme}:// (e.g. ${EXAMPLES})`);
  }
  const host = u.hostname.replace(/^\[|\]$/g, "").toLowerCase();
  if (!host) throw new DrainUrlError(`${scheme}:// needs a host, e.g. ${scheme}://logs.example.com${scheme === "https" ? "/drain" : ":514"}`);
  if (!net.isIP(host) && !HOSTNAME.test(host)) throw new DrainUrlError(`"${host}" is not a host name or an IP address`);
  if (scheme !== "https") {
    if (!u.port) throw new DrainUrlError(`${scheme}:// needs a port: ${scheme}://${host}:${scheme === "syslog+tls" ? 6514 : 514}`);
    if ((u.pathname && u.pathname !== "/") || u.search || u.hash || u.username || u.password) {
      throw new DrainUrlError(`a syslog drain is only ${scheme}://HOST:PORT (no path, query or credentials)`);
    }
  }
  const port = u.port ? Number(u.port) : 443;
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new DrainUrlError(`port ${u.port} is not a port number (1-65535)`);
  if (!opts.allowLocal && (host === "localhost" || host.endsWith(".localhost") || isLocalAddress(host, opts.blocked))) {
    throw new DrainUrlError(`${host} is this platform's own host or network: a drain goes to a log server elsewhere (the operator may allow local drains with PAAS_DRAINS_ALLOW_LOCAL=1)`);
  }
  const url = scheme === "https" ? u.toString() : `${scheme}://${net.isIPv6(host) ? `[${host}]` : host}:${port}`;
  return { scheme: scheme as DrainScheme, host, port, url };
}

/** zod's check of a drain URL at the API's edge: the normalised URL, or the reason it is refused. */
export const drainUrl = (env: NodeJS.ProcessEnv = process.env) =>
  z
    .string()
    .max(MAX_DRAIN_URL_LENGTH)
    .transform((text, ctx) => {
      try {
        return parseDrainUrl(text, { allowLocal: drainsAllowLocal(env) }).url;
      } catch (err) {
        ctx.addIssue({ code: "custom", message: (err as Error).message });
        return z.NEVER;
      }
    });

const SECRETISH = /^(?=.*\d)(?=.*[a-z])[A-Za-z0-9_\-.~]{16,}$/i;

/**
 * A URL fit to show and to log: its password (or a user name alone, usually a token), every
 * query value, and path segments that look like tokens become "***".
 */
export function maskDrainUrl(text: string): string {
  let u: URL;
  try {
    u = new URL(text);
  } catch {
    // Not a URL: mask anything between :// and @ at least.
    return text.replace(/(:\/\/)[^/@\s]*@/, "$1***@");
  }
  if (u.password) u.password = "***";
  else if (u.username) u.username = "***";
  for (const k of [...new Set(u.searchParams.keys())]) u.searchParams.set(k, "***");
  if (u.pathname.length > 1) u.pathname = u.pathname.split("/").map((s) => (SECRETISH.test(decodeURIComponent(s)) ? "***" : s)).join("/");
  return u.toString().replace(/%2A%2A%2A/g, "***");
}

// ---- What the API publishes for the worker's deliveries, and what they report back --------------

/** A drain as the worker delivers it (Redis DRAINS_KEY, per app: the database's Drain rows). */
export interface PublishedDrain {
  id: string;
  url: string;
  /** Where its delivery starts: the app's log stream's end when the drain was added (lines from then on). */
  start: { id: string; ord: number };
}

export type DrainState = "starting" | "delivering" | "retrying";

/** A drain's figures, as the worker keeps them in drainStatsKey(app) (fields `<id>:<name>`). */
export interface DrainStatus {
  state: DrainState | "waiting";
  /** Lines delivered. */
  sent: number;
  /** Lines lost: past the buffer while the drain was down, or trimmed by the log's retention before they were read. */
  dropped: number;
  /** Lines read and waiting to go out. */
  queued: number;
  lastError: string | null;
  lastErrorAt: string | null;
  lastSentAt: string | null;
}

export const DRAIN_STAT_FIELDS = ["sent", "dropped", "queued", "state", "error", "errorAt", "sentAt", "cursor"] as const;
export const drainStatField = (id: string, name: (typeof DRAIN_STAT_FIELDS)[number]) => `${id}:${name}`;

/** A drain's status from the stats hash (HGETALL); "waiting" until a delivery reported. */
export function drainStatus(hash: Record<string, string>, id: string): DrainStatus {
  const get = (n: (typeof DRAIN_STAT_FIELDS)[number]) => hash[drainStatField(id, n)];
  const num = (n: (typeof DRAIN_STAT_FIELDS)[number]) => Number(get(n) ?? 0) || 0;
  const state = get("state");
  return {
    state: state === "starting" || state === "delivering" || state === "retrying" ? state : "waiting",
    sent: num("sent"),
    dropped: num("dropped"),
    queued: num("queued"),
    lastError: get("error") || null,
    lastErrorAt: get("errorAt") || null,
    lastSentAt: get("sentAt") || null,
  };
}

/** The parts of XINFO STREAM's flat reply a drain needs; a missing stream is empty. */
export function parseStreamInfo(reply: unknown): { length: number; entriesAdded: number; firstId: string | null; lastId: string } {
  const a = Array.isArray(reply) ? reply : [];
  const f: Record<string, unknown> = {};
  for (let i = 0; i + 1 < a.length; i += 2) f[String(a[i])] = a[i + 1];
  const first = f["first-entry"];
  return {
    length: Number(f.length ?? 0),
    entriesAdded: Number(f["entries-added"] ?? f.length ?? 0),
    firstId: Array.isArray(first) ? String(first[0]) : null,
    lastId: String(f["last-generated-id"] ?? "0-0"),
  };
}

export interface DrainSettings {
  /** Lines a drain's buffer holds while it is down (PAAS_DRAIN_BUFFER_LINES, default 10,000); past it the oldest are dropped and counted. */
  bufferLines: number;
  /** Lines per write or POST (PAAS_DRAIN_BATCH_LINES, default 500). */
  batchLines: number;
  /** https POSTs out at once per drain (PAAS_DRAIN_HTTPS_IN_FLIGHT, default 4). */
  httpsInFlight: number;
  /** The longest wait between two retries of a drain that is down (PAAS_DRAIN_RETRY_MAX_SECONDS, default 30). */
  retryMaxSeconds: number;
  /** PEM file of CAs trusted beside the system's for syslog+tls and https drains (PAAS_DRAIN_CA_FILE). */
  caFile?: string;
  allowLocal: boolean;
}

export function drainSettings(env: NodeJS.ProcessEnv = process.env): DrainSettings {
  const whole = (name: string, fallback: number, max: number) => {
    const raw = env[name];
    if (raw === undefined || raw === "") return fallback;
    const n = Number(raw);
    if (!Number.isSafeInteger(n) || n < 1 || n > max) throw new Error(`${name} must be a whole number from 1 to ${max}, got "${raw}"`);
    return n;
  };
  return {
    bufferLines: whole("PAAS_DRAIN_BUFFER_LINES", 10_000, 10_000_000),
    batchLines: whole("PAAS_DRAIN_BATCH_LINES", 500, 10_000),
    httpsInFlight: whole("PAAS_DRAIN_HTTPS_IN_FLIGHT", 4, 64),
    retryMaxSeconds: whole("PAAS_DRAIN_RETRY_MAX_SECONDS", 30, 3600),
    caFile: env.PAAS_DRAIN_CA_FILE || undefined,
    allowLocal: drainsAllowLocal(env),
  };
}
