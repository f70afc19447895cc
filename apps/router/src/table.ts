/**
 * The routing table: host name -> an app's healthy replicas, chosen round-robin.
 * Pure logic, fed by whatever publishes routes (Redis in production, tests directly).
 */
import type { RouteEntry } from "@paas/shared";

export type Resolution =
  | { kind: "backend"; app: string; backend: string }
  | { kind: "no-app"; host: string }
  | { kind: "no-replica"; app: string };

export class RoutingTable {
  private routes = new Map<string, RouteEntry>();
  private cursor = new Map<string, number>();

  constructor(readonly domain: string) {}

  set(host: string, entry: RouteEntry | null): void {
    host = host.toLowerCase();
    if (entry) this.routes.set(host, entry);
    else this.routes.delete(host);
  }

  replaceAll(entries: Iterable<[string, RouteEntry]>): void {
    this.routes.clear();
    for (const [host, entry] of entries) this.set(host, entry);
  }

  get size(): number {
    return this.routes.size;
  }

  /** `hostHeader` as sent by the client: may carry a port and any case. */
  resolve(hostHeader: string | undefined): Resolution {
    const host = normalizeHost(hostHeader);
    const entry = this.routes.get(host);
    if (!entry) return { kind: "no-app", host };
    if (entry.backends.length === 0) return { kind: "no-replica", app: entry.app };
    const i = (this.cursor.get(host) ?? 0) % entry.backends.length;
    this.cursor.set(host, i + 1);
    return { kind: "backend", app: entry.app, backend: entry.backends[i] };
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
