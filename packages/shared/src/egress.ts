/**
 * An app's outbound network (App.egress): "on" (anywhere beyond the host, the default), "off"
 * (nowhere), or "limited" to the destinations of App.egressAllow, written as
 * `paas apps:update --egress-allow` takes them: comma-separated `DEST:PORT[/udp]`, DEST an IPv4
 * address, an IPv4 network (a.b.c.d/n) or a host name, e.g.
 *   10.1.2.3:5432,10.8.0.0/16:443,db.example.com:5432,10.0.0.2:514/udp
 * Host names are resolved when the app deploys (every address they have then); a name whose
 * addresses change needs a redeploy. Whatever the setting, the host's own services and other
 * teams' replicas stay out of reach (the runtime's network rules).
 */
import { z } from "zod";

export const EGRESS_MODES = ["on", "off", "limited"] as const;
export type EgressMode = (typeof EGRESS_MODES)[number];

export interface EgressDestination {
  /** As written: an address, a network or a host name. */
  dest: string;
  /** The network when `dest` is an address (as /32) or a network; absent for a host name. */
  cidr?: string;
  port: number;
  protocol: "tcp" | "udp";
}

/** At most this many destinations (each becomes set entries on every replica's host). */
export const MAX_EGRESS_DESTINATIONS = 32;

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const HOSTNAME = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/i;

export class EgressSyntaxError extends Error {}

/** The destinations of an allow list; throws EgressSyntaxError naming the first bad one. */
export function parseEgressAllow(text: string): EgressDestination[] {
  const items = text
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  if (!items.length) throw new EgressSyntaxError("the allow list is empty: name destinations as HOST:PORT (or use --egress off)");
  if (items.length > MAX_EGRESS_DESTINATIONS) throw new EgressSyntaxError(`at most ${MAX_EGRESS_DESTINATIONS} destinations, got ${items.length}`);
  const out: EgressDestination[] = [];
  for (const item of items) {
    const bad = (why: string) => new EgressSyntaxError(`"${item}": ${why}; write DEST:PORT[/udp], DEST an address, a network (a.b.c.d/n) or a host name`);
    const m = /^(.+):(\d{1,5})(\/(tcp|udp))?$/i.exec(item);
    if (!m) throw bad("no port");
    const [, dest, portText, , proto] = m;
    const port = Number(portText);
    if (port < 1 || port > 65535) throw bad("the port must be 1 to 65535");
    const protocol = (proto?.toLowerCase() ?? "tcp") as "tcp" | "udp";
    const net = /^([\d.]+)\/(\d{1,2})$/.exec(dest);
    if (net) {
      if (!IPV4.test(net[1]) || Number(net[2]) > 32) throw bad("not an IPv4 network");
      out.push({ dest, cidr: dest, port, protocol });
    } else if (IPV4.test(dest)) {
      out.push({ dest, cidr: `${dest}/32`, port, protocol });
    } else if (HOSTNAME.test(dest) && !/^[\d.]+$/.test(dest)) {
      out.push({ dest: dest.toLowerCase(), port, protocol });
    } else {
      throw bad("not an IPv4 address, network or host name");
    }
  }
  return out;
}

/** The list as stored and shown: one spelling per destination, in the order given. */
export function formatEgressAllow(list: EgressDestination[]): string {
  return [...new Set(list.map((d) => `${d.dest}:${d.port}${d.protocol === "udp" ? "/udp" : ""}`))].join(",");
}

/** An allow list at the API's edge: parsed, and given back in its stored spelling. */
export const egressAllowText = z.string().transform((text, ctx) => {
  try {
    return formatEgressAllow(parseEgressAllow(text));
  } catch (err) {
    ctx.addIssue({ code: "custom", message: (err as Error).message });
    return z.NEVER;
  }
});
