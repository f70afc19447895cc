/**
 * The routing table: host name -> the app that answers there and its healthy replicas, as the
 * control plane publishes it. Pure state, fed by redis-source.ts (tests feed it directly); the
 * data plane (data-plane.ts) is configured from its per-app view.
 */
import type { RouteEntry } from "@paas/shared";

/** One app's routes: every host that points at it and its replicas' host:port addresses. */
export interface AppRoutes {
  app: string;
  hosts: string[];
  backends: string[];
}

// What the data plane may be given: app names are DNS labels (naming.ts), hosts are host names,
// replicas host:port (an IPv4 address or a name; the port 1-65535).
const APP_RE = /^[a-z0-9][a-z0-9-]*$/;
const HOST_RE = /^[a-z0-9.-]+$/;
const ADDRESS_RE = /^[a-z0-9.-]+:([1-9]\d{0,4})$/;
const SHA256_RE = /^[0-9a-f]{64}$/;

/** Why `entry` cannot be routed (null: it can). A bad entry is refused whole: it changes nothing. */
export function invalidEntry(host: string, entry: RouteEntry): string | null {
  if (!HOST_RE.test(host)) return `host ${JSON.stringify(host)} is not a host name`;
  if (typeof entry?.app !== "string" || !APP_RE.test(entry.app)) return `app ${JSON.stringify(entry?.app)} is not an app name`;
  if (!Array.isArray(entry.backends)) return "backends is not a list";
  for (const b of entry.backends) {
    const m = typeof b === "string" ? ADDRESS_RE.exec(b) : null;
    if (!m || Number(m[1]) > 65535) return `replica address ${JSON.stringify(b)} is not host:port`;
  }
  if (entry.cert !== undefined && (typeof entry.cert !== "string" || !SHA256_RE.test(entry.cert))) return `cert ${JSON.stringify(entry.cert)} is not a sha256`;
  return null;
}

export class RoutingTable {
  private routes = new Map<string, RouteEntry>();

  /** Sets or (entry null) removes a host's route; an invalid entry is refused with the reason. */
  set(host: string, entry: RouteEntry | null): void {
    host = normalizeHost(host);
    if (!entry) {
      this.routes.delete(host);
      return;
    }
    const why = invalidEntry(host, entry);
    if (why) throw new Error(`route for ${host} refused: ${why}`);
    this.routes.set(host, { app: entry.app, backends: [...new Set(entry.backends)], ...(entry.cert ? { cert: entry.cert } : {}) });
  }

  /** The whole table at once (a start, a reconnect); invalid entries are left out and returned. */
  replaceAll(entries: Iterable<[string, RouteEntry]>): string[] {
    const refused: string[] = [];
    this.routes.clear();
    for (const [host, entry] of entries) {
      try {
        this.set(host, entry);
      } catch (err) {
        refused.push((err as Error).message);
      }
    }
    return refused;
  }

  /** Hosts with a certificate of their own (custom domains): host -> the sha256 of its PEM. */
  certs(): Map<string, string> {
    const certs = new Map<string, string>();
    for (const [host, { cert }] of this.routes) if (cert) certs.set(host, cert);
    return certs;
  }

  get size(): number {
    return this.routes.size;
  }

  /**
   * Per app, sorted by name: its hosts and replicas. Hosts of one app normally list the same
   * replicas (route.ts publishes them together); where they differ, the union is served.
   */
  apps(): AppRoutes[] {
    const byApp = new Map<string, AppRoutes>();
    for (const [host, { app, backends }] of this.routes) {
      const a = byApp.get(app) ?? { app, hosts: [], backends: [] };
      a.hosts.push(host);
      for (const b of backends) if (!a.backends.includes(b)) a.backends.push(b);
      byApp.set(app, a);
    }
    return [...byApp.values()].map((a) => ({ ...a, hosts: a.hosts.sort() })).sort((x, y) => x.app.localeCompare(y.app));
  }
}

/** Lowercase host name without port or trailing dot. */
export function normalizeHost(hostHeader: string | undefined): string {
  if (!hostHeader) return "";
  let host = hostHeader.trim().toLowerCase();
  if (host.startsWith("[")) return host.slice(0, host.indexOf("]") + 1); // IPv6 literal
  const colon = host.lastIndexOf(":");
  if (colon >= 0) host = host.slice(0, colon);
  return host.endsWith(".") ? host.slice(0, -1) : host;
}
