/**
 * The router beside nginx, the same backend behind each, in one run:
 *   flock /tmp/paas-bench.lock npx tsx bench/router.ts [--seconds 10] [--rounds 3] [--connections 64] [--threads 2] [--peers direct,nginx,router] [--backend-port N]
 * Backend: one small Node http server (its own process, keep-alive, a 12-byte body), as an app
 * replica would be. Peers, each sent the same wrk load (Debian's wrk; apt-get installs it when
 * missing) with `Host: bench.localhost`:
 *   direct   wrk -> the backend
 *   nginx    Debian's nginx as a keep-alive reverse proxy (worker_processes auto, upstream
 *            keepalive 64, HTTP/1.1 to the backend), its own temp config and port, doing per
 *            request what the router does: a request id made, passed to the app and returned,
 *            X-Forwarded-For/Proto/Host, and an access log line (id, app, upstream, status,
 *            bytes, time, client, method, URI) written per request
 *   haproxy  Debian's HAProxy with a plain config of the same shape (a candidate, not the router)
 *   router   our router as infra/up starts it (dist/services/router.mjs, built first), its table
 *            from a Redis of its own, the route published the way the control plane publishes it
 *   port:N   whatever already listens on 127.0.0.1:N (a candidate started by hand, proxying
 *            to --backend-port)
 * Each round runs every peer once, in turn (2 s of warm-up load, then the measured window), so
 * the machine's drift (2 shared cores) falls on every peer alike. The table gives each peer's
 * median over the rounds: requests/s, p50 and p99 latency (wrk --latency), the ratio of its
 * requests/s to nginx's and its p99 minus direct's (the latency the proxy adds).
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { Redis } from "ioredis";
import { publishRoutes } from "../worker/src/pipeline/route.ts";
import { freePort, startRedis } from "../tests/helpers/redis.ts";
import { waitFor } from "../tests/helpers/wait.ts";

const arg = (name: string, def: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : def;
};
const SECONDS = Number(arg("seconds", "10"));
const ROUNDS = Number(arg("rounds", "3"));
const CONNECTIONS = Number(arg("connections", "64"));
const THREADS = Number(arg("threads", "2"));
const PEERS = arg("peers", "direct,nginx,router").split(",");
const HOST = "bench.localhost";
// A fixed port lets a candidate started by hand (port:N) point at the backend.
const BACKEND_PORT = Number(arg("backend-port", "0"));
const root = path.resolve(import.meta.dirname, "..");
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "paas-bench-router-"));

const children: ChildProcess[] = [];
function start(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): ChildProcess {
  const p = spawn(cmd, args, { env, stdio: ["ignore", "ignore", "pipe"] });
  let err = "";
  p.stderr!.on("data", (c: Buffer) => (err = (err + c.toString()).slice(-2000)));
  p.on("exit", (code) => {
    if (!stopping) console.error(`${cmd} exited (${code}): ${err}`);
  });
  children.push(p);
  return p;
}
let stopping = false;

// node:http, not fetch: fetch sends its own Host header whatever we give it.
const answers = (port: number) =>
  new Promise<boolean>((resolve) => {
    http
      .get({ host: "127.0.0.1", port, path: "/", headers: { host: HOST }, agent: false }, (res) => {
        res.resume();
        res.on("end", () => resolve(res.statusCode === 200));
      })
      .on("error", () => resolve(false));
  });

function need(bin: string, pkg: string) {
  try {
    execFileSync("sh", ["-c", `command -v ${bin}`], { stdio: "ignore" });
  } catch {
    console.log(`installing ${pkg} (Debian)`);
    execFileSync("apt-get", ["install", "-y", "-qq", "--no-install-recommends", pkg], { stdio: "inherit", env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" } });
  }
}

async function backend(): Promise<number> {
  const port = BACKEND_PORT || (await freePort());
  const code = `require("http").createServer((q, s) => s.end("hello world\\n")).listen(${port}, "127.0.0.1")`;
  start(process.execPath, ["-e", code]);
  await waitFor(() => answers(port), "the backend to answer", 10_000, 50);
  return port;
}

async function nginx(backendPort: number): Promise<number> {
  need("nginx", "nginx-light");
  const port = await freePort();
  const d = path.join(dir, "nginx");
  fs.mkdirSync(d);
  fs.writeFileSync(
    path.join(d, "nginx.conf"),
    `worker_processes auto;
pid ${d}/nginx.pid;
error_log ${d}/error.log;
events { worker_connections 4096; }
http {
  log_format paas 'access $request_id bench $upstream_addr $status $request_length $bytes_sent $request_time $remote_addr $request_method "$request_uri"';
  access_log ${d}/access.log paas;
  client_body_temp_path ${d}/body; proxy_temp_path ${d}/proxy; fastcgi_temp_path ${d}/f; uwsgi_temp_path ${d}/u; scgi_temp_path ${d}/s;
  upstream app { server 127.0.0.1:${backendPort}; keepalive 64; }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://app;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto $scheme;
      proxy_set_header X-Forwarded-Host $host;
      proxy_set_header X-Request-Id $request_id;
      add_header X-Request-Id $request_id always;
    }
  }
}
`,
  );
  start("nginx", ["-p", d, "-c", path.join(d, "nginx.conf"), "-g", "daemon off;"]);
  await waitFor(() => answers(port), "nginx to answer", 10_000, 50);
  return port;
}

async function haproxy(backendPort: number): Promise<number> {
  need("haproxy", "haproxy");
  const port = await freePort();
  const cfg = path.join(dir, "haproxy.cfg");
  fs.writeFileSync(
    cfg,
    `global
  nbthread 2
defaults
  mode http
  timeout connect 5s
  timeout client 60s
  timeout server 60s
  option forwardfor
  http-reuse always
frontend fe
  bind 127.0.0.1:${port}
  default_backend app
backend app
  server s1 127.0.0.1:${backendPort}
`,
  );
  start("haproxy", ["-db", "-f", cfg]);
  await waitFor(() => answers(port), "haproxy to answer", 10_000, 50);
  return port;
}

async function router(backendPort: number): Promise<number> {
  execFileSync(process.execPath, [path.join(root, "infra/build-services.mjs")], { stdio: "ignore" });
  const redis = await startRedis();
  cleanups.push(() => redis.stop());
  const client = new Redis(redis.url);
  await publishRoutes(client, "bench", [`127.0.0.1:${backendPort}`]);
  client.disconnect();
  const port = await freePort();
  const env = { ...process.env, PAAS_DATA_DIR: path.join(dir, "router-data"), PAAS_HTTP_PORT: String(port), PAAS_HTTPS_PORT: String(await freePort()), PAAS_REDIS_URL: redis.url, PAAS_DOMAIN: "localhost" };
  start(process.execPath, [path.join(root, "dist/services/router.mjs")], env);
  await waitFor(() => answers(port), "the router to answer", 20_000, 50);
  return port;
}

interface Run {
  rps: number;
  p50: number;
  p99: number;
  errors: number;
}

/** wrk's durations ("812.00us", "1.20ms", "2.00s") in milliseconds. */
function ms(s: string): number {
  const m = /^([\d.]+)(us|ms|s|m)$/.exec(s);
  if (!m) throw new Error(`wrk printed a duration we do not read: ${s}`);
  return Number(m[1]) * { us: 1e-3, ms: 1, s: 1e3, m: 6e4 }[m[2] as "us" | "ms" | "s" | "m"];
}

function wrk(port: number, seconds: number): Run {
  const out = execFileSync("wrk", [`-t${THREADS}`, `-c${CONNECTIONS}`, `-d${seconds}s`, "--latency", "-H", `Host: ${HOST}`, `http://127.0.0.1:${port}/`], {
    encoding: "utf8",
  });
  const pct = (p: string) => ms(new RegExp(`^\\s+${p}%\\s+(\\S+)`, "m").exec(out)![1]);
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0);
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const errors = non2xx + (sock ? sock.slice(1).reduce((a, b) => a + Number(b), 0) : 0);
  return { rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(out)![1]), p50: pct("50"), p99: pct("99"), errors };
}

const cleanups: (() => Promise<void>)[] = [];
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function main() {
  need("wrk", "wrk");
  const backendPort = await backend();
  const ports: Record<string, number> = {};
  for (const peer of PEERS) {
    if (peer === "direct") ports[peer] = backendPort;
    else if (peer === "nginx") ports[peer] = await nginx(backendPort);
    else if (peer === "haproxy") ports[peer] = await haproxy(backendPort);
    else if (peer === "router") ports[peer] = await router(backendPort);
    else if (/^port:\d+$/.test(peer)) ports[peer] = Number(peer.slice(5));
    else throw new Error(`unknown peer ${peer} (direct, nginx, haproxy, router, or port:N for a proxy already listening on 127.0.0.1:N)`);
  }
  const load = fs.readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");
  console.log(`wrk -t${THREADS} -c${CONNECTIONS} -d${SECONDS}s --latency, ${ROUNDS} rounds, ${os.cpus().length} cores (load ${load} at start)`);
  console.log(`backend: one Node ${process.version} http server (keep-alive, 12-byte body); Host: ${HOST}`);
  const runs: Record<string, Run[]> = Object.fromEntries(PEERS.map((p) => [p, []]));
  for (let r = 1; r <= ROUNDS; r++) {
    for (const peer of PEERS) {
      wrk(ports[peer], 2);
      const run = wrk(ports[peer], SECONDS);
      runs[peer].push(run);
      console.log(`  round ${r} ${peer.padEnd(8)} ${run.rps.toFixed(0).padStart(7)} req/s  p50 ${run.p50.toFixed(2)} ms  p99 ${run.p99.toFixed(2)} ms${run.errors ? `  errors ${run.errors}` : ""}`);
    }
  }
  const med = Object.fromEntries(PEERS.map((p) => [p, { rps: median(runs[p].map((x) => x.rps)), p50: median(runs[p].map((x) => x.p50)), p99: median(runs[p].map((x) => x.p99)), errors: runs[p].reduce((a, x) => a + x.errors, 0) }]));
  console.log(`\n| peer | req/s | p50 ms | p99 ms | x nginx req/s | p99 added over direct | errors |`);
  console.log(`| --- | ---: | ---: | ---: | ---: | ---: | ---: |`);
  for (const p of PEERS) {
    const m = med[p];
    const ratio = med.nginx ? (m.rps / med.nginx.rps).toFixed(2) : "-";
    const added = med.direct && p !== "direct" ? `${(m.p99 - med.direct.p99).toFixed(2)} ms` : "-";
    console.log(`| ${p} | ${m.rps.toFixed(0)} | ${m.p50.toFixed(2)} | ${m.p99.toFixed(2)} | ${ratio} | ${added} | ${m.errors} |`);
  }
}

async function stop() {
  stopping = true;
  for (const c of children) c.kill("SIGTERM");
  await Promise.all(children.map((c) => (c.exitCode === null && c.signalCode === null ? new Promise((r) => c.once("exit", r)) : undefined)));
  for (const c of cleanups) await c().catch(() => {});
  fs.rmSync(dir, { recursive: true, force: true });
}

try {
  await main();
} finally {
  await stop();
}
