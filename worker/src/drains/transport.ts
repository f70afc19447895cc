/**
 * How frames reach a drain: one connection kept open to a syslog server (syslog+tcp, or
 * syslog+tls verifying the server against the system's CAs plus PAAS_DRAIN_CA_FILE), or POSTs
 * over a kept-alive HTTPS agent with logplex framing. `send` resolves once the batch is written
 * and rejects with a reason a user can act on. An https 2xx answer is a receipt; a syslog write
 * only hands the frames to the kernel, so it resolves with the connection they went on, and the
 * delivery takes them as received once that connection stayed open a while (buffer.ts, settle).
 * A connection the server closed (its FIN, a TLS close_notify) or reset is dropped at once, as
 * node reads every socket: the next batch connects anew rather than writing into a dead one (the
 * recv-before-send that rsyslog's omfwd does for the same reason).
 *
 * Every connection checks the address it goes to: a host name that resolves to this host or the
 * platform's networks is refused like such an address in the URL (shared/drains.ts), unless the
 * operator allows local drains.
 */
import dns from "node:dns";
import fs from "node:fs";
import https from "node:https";
import net from "node:net";
import tls from "node:tls";
import { isLocalAddress, localBlockList, type DrainTarget } from "@paas/shared/drains";
import { logplexBatch, octetFrame } from "./framing.ts";

export interface Transport {
  /**
   * Resolves with the connection the batch was written on when only its staying open confirms it
   * (syslog), null when the answer did (https). `id` names the batch (https: its Logplex-Frame-Id).
   */
  send(messages: string[], id?: string): Promise<{ conn: number; bytes: number } | null>;
  /** How many batches may be out at once: syslog 1 (one connection, in order), https `inFlight`. */
  readonly parallel: number;
  /** Whether connection `conn` is still open. */
  open(conn: number): boolean;
  close(): void;
}

export interface TransportOptions {
  /** Sent as Logplex-Drain-Token (https). */
  drainToken: string;
  allowLocal: boolean;
  /** PEM of extra CAs to trust (PAAS_DRAIN_CA_FILE), beside the system's. */
  extraCa?: string;
  /** https: POSTs out at once, each on its own kept-alive connection (default 4). */
  inFlight?: number;
  timeoutMs?: number;
}

/** The CAs a TLS drain is verified against: the system's, and the operator's file when set. */
export function drainCa(file = process.env.PAAS_DRAIN_CA_FILE): string | undefined {
  if (!file) return undefined;
  try {
    return fs.readFileSync(file, "utf8");
  } catch (err) {
    throw new Error(`PAAS_DRAIN_CA_FILE=${file} cannot be read: ${(err as Error).message}`);
  }
}

const localRefusal = (host: string, address: string) =>
  new Error(`${host === address ? host : `${host} resolves to ${address}, which`} is this platform's own host or network: drains go elsewhere (the operator may allow local drains with PAAS_DRAINS_ALLOW_LOCAL=1)`);

/** A dns.lookup that refuses local addresses (net.connect calls it for host names; addresses are checked before). */
function guardedLookup(allowLocal: boolean): net.LookupFunction {
  return ((hostname: string, options: dns.LookupOptions, cb: (err: Error | null, address: string | dns.LookupAddress[], family?: number) => void) => {
    dns.lookup(hostname, options, (err, address: string | dns.LookupAddress[], family?: number) => {
      if (err) return cb(err, address, family);
      if (!allowLocal) {
        const blocked = localBlockList();
        const all = Array.isArray(address) ? address.map((a) => a.address) : [address];
        const bad = all.find((a) => isLocalAddress(a, blocked));
        if (bad) return cb(localRefusal(hostname, bad), address, family);
      }
      cb(null, address, family);
    });
  }) as net.LookupFunction;
}

function checkLiteral(t: DrainTarget, allowLocal: boolean): void {
  if (!allowLocal && net.isIP(t.host) && isLocalAddress(t.host)) throw localRefusal(t.host, t.host);
}

const ca = (extra?: string) => (extra ? [...tls.rootCertificates, extra] : undefined);

/** What a failed connection says, in words (ECONNREFUSED and friends are codes people look up). */
export function describeError(err: Error & { code?: string }, t: DrainTarget): string {
  const where = `${t.host}:${t.port}`;
  switch (err.code) {
    case "ECONNREFUSED":
      return `connection refused by ${where}: is the log server running and listening there?`;
    case "ENOTFOUND":
    case "EAI_AGAIN":
      return `${t.host} does not resolve (DNS): check the drain's host name`;
    case "ETIMEDOUT":
    case "ETIMEOUT":
      return `no answer from ${where} in time`;
    case "ECONNRESET":
    case "EPIPE":
      return `${where} closed the connection`;
    case "EHOSTUNREACH":
    case "ENETUNREACH":
      return `${where} is unreachable from the platform's network`;
    default:
      return err.code?.startsWith("ERR_TLS") || err.code?.includes("CERT") || /certificate/i.test(err.message)
        ? `TLS with ${where} failed: ${err.message} (the server's certificate must be valid for ${t.host} and signed by a trusted CA)`
        : err.message;
  }
}

class SyslogTransport implements Transport {
  readonly parallel = 1;
  private socket: net.Socket | null = null;
  /** The current connection's number (each connect makes a new one). */
  private conn = 0;

  constructor(
    private readonly t: DrainTarget,
    private readonly o: TransportOptions,
  ) {}

  private connect(): Promise<net.Socket> {
    checkLiteral(this.t, this.o.allowLocal);
    const timeout = this.o.timeoutMs ?? 10_000;
    return new Promise((resolve, reject) => {
      const opts = { host: this.t.host, port: this.t.port, lookup: guardedLookup(this.o.allowLocal) };
      const s =
        this.t.scheme === "syslog+tls"
          ? tls.connect({ ...opts, servername: net.isIP(this.t.host) ? undefined : this.t.host, ca: ca(this.o.extraCa) })
          : net.connect(opts);
      const timer = setTimeout(() => s.destroy(Object.assign(new Error("connect timed out"), { code: "ETIMEDOUT" })), timeout);
      const fail = (err: Error) => {
        clearTimeout(timer);
        reject(err);
      };
      s.once("error", fail);
      s.once(this.t.scheme === "syslog+tls" ? "secureConnect" : "connect", () => {
        clearTimeout(timer);
        s.off("error", fail);
        s.setKeepAlive(true, 30_000);
        s.setNoDelay(true);
        // A server that closes or fails the connection: the next batch connects anew.
        const gone = () => {
          if (this.socket === s) this.socket = null;
        };
        s.on("error", gone);
        s.on("close", gone);
        s.on("end", () => s.destroy());
        // Syslog servers send nothing back; whatever comes is read and dropped.
        s.resume();
        resolve(s);
      });
    });
  }

  open(conn: number): boolean {
    return this.socket !== null && !this.socket.destroyed && this.conn === conn;
  }

  async send(messages: string[]): Promise<{ conn: number; bytes: number }> {
    if (!this.socket || this.socket.destroyed) {
      this.socket = await this.connect();
      this.conn++;
    }
    const s = this.socket;
    const conn = this.conn;
    const data = messages.map(octetFrame).join("");
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => s.destroy(Object.assign(new Error("write timed out"), { code: "ETIMEDOUT" })), this.o.timeoutMs ?? 30_000);
      const onClose = () => done(Object.assign(new Error("connection closed"), { code: "ECONNRESET" }));
      const done = (err?: Error | null) => {
        clearTimeout(timer);
        s.off("close", onClose);
        if (err) {
          if (this.socket === s) this.socket = null;
          s.destroy();
          reject(err);
        } else resolve();
      };
      s.once("close", onClose);
      s.write(data, (err) => done(err));
    });
    return { conn, bytes: Buffer.byteLength(data) };
  }

  /** Ends the connection with a FIN (TLS: close_notify) after what was written; destroyed if the server does not answer it soon. */
  close(): void {
    const s = this.socket;
    this.socket = null;
    if (!s || s.destroyed) return;
    s.end();
    setTimeout(() => s.destroy(), 2000).unref();
  }
}

class HttpsTransport implements Transport {
  private readonly agent: https.Agent;
  readonly parallel: number;

  constructor(
    private readonly t: DrainTarget,
    private readonly o: TransportOptions,
  ) {
    this.parallel = o.inFlight ?? 4;
    this.agent = new https.Agent({ keepAlive: true, maxSockets: this.parallel, ca: ca(o.extraCa), lookup: guardedLookup(o.allowLocal) } as https.AgentOptions);
  }

  open(): boolean {
    return false;
  }

  send(messages: string[], id?: string): Promise<null> {
    checkLiteral(this.t, this.o.allowLocal);
    const { body, headers } = logplexBatch(messages, this.o.drainToken, id);
    const u = new URL(this.t.url);
    const auth = u.username ? `${decodeURIComponent(u.username)}:${decodeURIComponent(u.password)}` : undefined;
    return new Promise((resolve, reject) => {
      const req = https.request(
        { host: this.t.host, port: this.t.port, path: u.pathname + u.search, method: "POST", agent: this.agent, auth, servername: net.isIP(this.t.host) ? undefined : this.t.host, headers: { ...headers, "content-length": Buffer.byteLength(body) } },
        (res) => {
          res.resume();
          res.on("end", () => {
            const status = res.statusCode ?? 0;
            if (status >= 200 && status < 300) resolve(null);
            else reject(new Error(`${this.t.host} answered HTTP ${status}${status === 401 || status === 403 ? " (check the drain URL's credentials)" : ""}`));
          });
          res.on("error", reject);
        },
      );
      req.setTimeout(this.o.timeoutMs ?? 30_000, () => req.destroy(Object.assign(new Error("no answer in time"), { code: "ETIMEDOUT" })));
      req.on("error", reject);
      req.end(body);
    });
  }

  close(): void {
    this.agent.destroy();
  }
}

export function transportFor(t: DrainTarget, o: TransportOptions): Transport {
  return t.scheme === "https" ? new HttpsTransport(t, o) : new SyslogTransport(t, o);
}
