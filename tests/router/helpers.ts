/**
 * The router as infra/up runs it (apps/router/src/main.ts: HAProxy and its controller), on a
 * free port with a data dir and a Redis of its own, and small real backends for it to route to.
 */
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import http from "node:http";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { Redis } from "ioredis";
import { publishRoutes } from "../../worker/src/pipeline/route.ts";
import { freePort, startRedis } from "../helpers/redis.ts";
import { waitFor } from "../helpers/wait.ts";

const root = path.resolve(import.meta.dirname, "../..");

export interface TestRouter {
  port: number;
  /** The TLS port (PAAS_HTTPS_PORT). */
  httpsPort: number;
  redisUrl: string;
  dataDir: string;
  redis: Redis;
  /** Points app `<app>.localhost` at `backends`, as the control plane does. */
  publish(app: string, backends: string[]): Promise<void>;
  /** A runtime API command to the router's HAProxy. */
  admin(cmd: string): Promise<string>;
  /** The router process (its controller); HAProxy runs as its child. */
  proc: ChildProcess;
  /** Starts the router again on the same data dir, port and Redis (after kill or stop). */
  restart(): Promise<void>;
  output(): string;
  stop(): Promise<void>;
}

/** `env` may name the Redis (PAAS_REDIS_URL: the caller's, left running) and the ports to use. */
export async function startRouter(env: Record<string, string> = {}): Promise<TestRouter> {
  const redisServer = env.PAAS_REDIS_URL ? { url: env.PAAS_REDIS_URL, stop: async () => {} } : await startRedis();
  const redis = new Redis(redisServer.url);
  const port = Number(env.PAAS_HTTP_PORT) || (await freePort());
  const httpsPort = Number(env.PAAS_HTTPS_PORT) || (await freePort());
  // A data dir the caller names (PAAS_DATA_DIR) is the caller's to remove.
  const ownDataDir = !env.PAAS_DATA_DIR;
  const dataDir = env.PAAS_DATA_DIR ?? fs.mkdtempSync(path.join(os.tmpdir(), "paas-router-test-"));
  let out = "";
  let proc!: ChildProcess;
  const launch = async () => {
    proc = spawn(process.execPath, ["--import", "tsx", path.join(root, "apps/router/src/main.ts")], {
      env: { ...process.env, PAAS_DATA_DIR: dataDir, PAAS_HTTP_PORT: String(port), PAAS_HTTPS_PORT: String(httpsPort), PAAS_REDIS_URL: redisServer.url, PAAS_DOMAIN: "localhost", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    proc.stdout!.on("data", (c) => (out += c));
    proc.stderr!.on("data", (c) => (out += c));
    const exited = new Promise<never>((_, reject) => proc.once("exit", (code) => reject(new Error(`the router exited (${code}) while starting:\n${out}`))));
    const serving = waitFor(() => /router: HAProxy serving/.test(out), "the router to serve", 20_000, 50).catch((err) => {
      throw new Error(`${(err as Error).message}\n${out}`);
    });
    await Promise.race([serving, exited]);
    exited.catch(() => {});
  };
  await launch();
  const router: TestRouter = {
    port,
    httpsPort,
    redisUrl: redisServer.url,
    dataDir,
    redis,
    publish: async (app, backends) => {
      await publishRoutes(redis, app, backends);
    },
    admin: (cmd) =>
      new Promise((resolve, reject) => {
        const c = net.connect(path.join(dataDir, "router/admin.sock"));
        let s = "";
        c.on("data", (d) => (s += d));
        c.on("end", () => resolve(s));
        c.on("error", reject);
        c.write(`${cmd}\n`);
      }),
    get proc() {
      return proc;
    },
    restart: async () => {
      out = "";
      await launch();
    },
    output: () => out,
    stop: async () => {
      if (proc.exitCode === null && proc.signalCode === null) {
        const gone = new Promise((r) => proc.once("exit", r));
        proc.kill("SIGTERM");
        await gone;
      }
      redis.disconnect();
      await redisServer.stop();
      if (ownDataDir) fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
  return router;
}

export interface Backend {
  addr: string;
  port: number;
  server: http.Server;
  /** Stops listening and cuts every connection: the replica is gone. */
  kill(): Promise<void>;
}

/** An HTTP server on 127.0.0.1 (`port`: a given one, to bring a replica back where it was). */
export async function backend(handler: http.RequestListener, port = 0): Promise<Backend> {
  const server = http.createServer(handler);
  // Every connection, upgraded ones too (closeAllConnections does not know those).
  const sockets = new Set<net.Socket>();
  server.on("connection", (s: net.Socket) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(port, "127.0.0.1", r));
  const p = (server.address() as net.AddressInfo).port;
  return {
    addr: `127.0.0.1:${p}`,
    port: p,
    server,
    kill: () =>
      new Promise((r) => {
        server.close(() => r());
        for (const s of sockets) s.destroy();
      }),
  };
}

export interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** A request through the router with `Host: host`; `agent` false: a connection of its own. */
export function get(port: number, host: string, opts: { path?: string; agent?: http.Agent | false; headers?: http.OutgoingHttpHeaders } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: "127.0.0.1", port, path: opts.path ?? "/", headers: { host, ...opts.headers }, agent: opts.agent ?? false }, (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (c) => (body += c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
        res.on("error", reject);
      })
      .on("error", reject);
  });
}

/** Resolves once `host` answers with a body that passes `ok` (a route change took effect). */
export const answers = (port: number, host: string, ok: (a: Answer) => boolean, what: string, ms = 10_000) =>
  waitFor(async () => ok(await get(port, host)), what, ms, 20);

export interface ServerState {
  slot: string;
  addr: string;
  /** HAProxy's operational state: 0 down, 2 up (1 starting, 3 stopping). */
  op: number;
  /** Administrative state bits: 1 put in maintenance (by us, at run time), 4 disabled in the config (an empty slot's start; stays set once filled). */
  admin: number;
}

/** Every server slot as the router's HAProxy sees it now (`show servers state`). */
export async function serverStates(router: TestRouter): Promise<ServerState[]> {
  const out = await router.admin("show servers state");
  return out
    .split("\n")
    .filter((l) => /^\d/.test(l))
    .map((l) => l.split(" "))
    .map((f) => ({ slot: f[3], addr: `${f[4]}:${f[18]}`, op: Number(f[5]), admin: Number(f[6]) }));
}

/** The state of the slot serving `addr` (undefined: none does). */
/** The state of the checked server for `addr` (undefined: none; its unchecked twin p<N> is not looked at). */
export const stateOf = async (router: TestRouter, addr: string) => (await serverStates(router)).find((s) => s.addr === addr && s.slot.startsWith("r") && (s.admin & 1) === 0);

/** The pids of `pid` and all its descendants. */
export function processTree(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const d of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${d}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(d)]);
    } catch {}
  }
  const all = [pid];
  for (let i = 0; i < all.length; i++) all.push(...(children.get(all[i]) ?? []));
  return all;
}

/** Resident memory of a process, in bytes (0 when it is gone). */
export function rss(pid: number): number {
  try {
    return Number(/VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, "utf8"))![1]) * 1024;
  } catch {
    return 0;
  }
}
