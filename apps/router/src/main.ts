/**
 * The router: follows the routes the control plane publishes in Redis and has HAProxy (Debian's,
 * run by this process) serve them on PAAS_HTTP_PORT, and with TLS on PAAS_HTTPS_PORT (SNI: a
 * custom domain's certificate, else the default one for *.PAAS_DOMAIN, tls.ts); keeps the
 * access log and the per-app figures.
 *   PAAS_ROUTER_MAX_BODY_BYTES  request bodies declared larger get 413 (default 100 MiB)
 *   PAAS_ROUTER_TIMEOUT         seconds a replica has to start its response before a 504 (default 60)
 * Why HAProxy and not a proxy in Node: bench/router.ts (README, Benchmarks).
 */
import fs from "node:fs";
import path from "node:path";
import { Redis } from "ioredis";
import { certKey, config, ROUTES_APPLIED_KEY } from "@paas/shared";
import { AccessLog } from "./access-log.ts";
import { DataPlane } from "./data-plane.ts";
import { serveFigures } from "./exporter.ts";
import { Figures } from "./figures.ts";
import { HAProxy } from "./haproxy.ts";
import { files, type DataPlaneSettings } from "./haproxy-config.ts";
import { followRoutes } from "./redis-source.ts";
import { RoutingTable } from "./table.ts";
import { ensureDefaultCert } from "./tls.ts";

function positive(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return fallback;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n <= 0) throw new Error(`${name} must be a whole number above 0, got "${raw}"`);
  return n;
}

const cfg = config();
const settings: DataPlaneSettings = {
  dir: path.join(cfg.dataDir, "router"),
  port: cfg.httpPort,
  httpsPort: cfg.httpsPort,
  defaultCert: await ensureDefaultCert(cfg.tlsDir, cfg.domain),
  // Its copies of the custom domains' certificates: its own, whatever else shares the data dir.
  tlsDir: path.join(cfg.dataDir, "router", "tls"),
  ipv6: fs.existsSync("/proc/net/if_inet6"),
  maxBodyBytes: positive("PAAS_ROUTER_MAX_BODY_BYTES", 100 * 2 ** 20),
  responseTimeoutS: positive("PAAS_ROUTER_TIMEOUT", 60),
};
const figures = new Figures();
const accessLog = new AccessLog(path.join(cfg.dataDir, "logs", "router-access.log"), figures);
const haproxy = new HAProxy(files(settings.dir), {
  onOutput: (chunk) => accessLog.write(chunk),
  onExit: (code, signal) => {
    // Nothing serves the apps any more: exit, for the supervisor to start the router again.
    console.error(`router: haproxy exited (${signal ?? code}); exiting`);
    process.exit(1);
  },
});
const redis = new Redis(cfg.redisUrl);
const dataPlane = new DataPlane(settings, haproxy, (sha) => redis.get(certKey(sha)));
const table = new RoutingTable();

let serving = false;
let tableSerial = 0;
const apply = (serial = tableSerial) => {
  tableSerial = serial;
  figures.retain(new Set(table.apps().map((a) => a.app)));
  if (!serving) return;
  dataPlane
    .update(table.apps(), table.certs())
    // Deploys wait for this before they report their app live (route.ts waitForRouter).
    .then(() => redis.set(ROUTES_APPLIED_KEY, serial))
    .catch((err: Error) => console.error(`router: the table's change was not applied: ${err.message}`));
};
const stopFollowing = await followRoutes(table, cfg.redisUrl, apply);
await dataPlane.start(table.apps(), table.certs());
serving = true;
apply(); // changes published while HAProxy started
console.log(`router: HAProxy serving on :${cfg.httpPort} and TLS on :${cfg.httpsPort} for *.${cfg.domain} (${table.size} routes, ${dataPlane.loadedCerts().size} domain certificates)`);

// A certificate published before its PEM could be had (a store restored later, a race with
// its removal) is tried again until it can.
const certRetry = setInterval(() => dataPlane.certsWaiting() && apply(), 2000);
certRetry.unref();

const exporter = serveFigures(figures, cfg.routerMetricsPort);
const publishing = setInterval(() => void figures.publish(redis).catch(() => {}), 5000);
publishing.unref();

let stopping = false;
const shutdown = async () => {
  if (stopping) return;
  stopping = true;
  setTimeout(() => process.exit(0), 8000).unref();
  clearInterval(publishing);
  clearInterval(certRetry);
  exporter.close();
  await haproxy.stop();
  await figures.publish(redis).catch(() => {});
  await Promise.all([stopFollowing(), accessLog.close()]);
  redis.disconnect();
  process.exit(0);
};
process.on("SIGTERM", () => void shutdown());
process.on("SIGINT", () => void shutdown());
