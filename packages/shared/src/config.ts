/**
 * One place for the platform's settings. Every component reads its settings
 * from here, so a name, a default or a derived path is defined exactly once.
 */
import path from "node:path";

function port(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n <= 0 || n > 65535) {
    throw new Error(`${name} must be a port number (1-65535), got "${raw}"`);
  }
  return n;
}

/** 127.0.0.0/8, ::1 and localhost: only this machine reaches an agent listening there. */
export function isLoopback(host: string): boolean {
  return host === "localhost" || host === "::1" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

/**
 * Where the agent listens and the token it requires. Off loopback a token is a must (any
 * machine that reaches the address could otherwise run containers as root here).
 */
function agentListen(env: NodeJS.ProcessEnv): { agentHost: string; agentToken?: string } {
  const agentHost = env.PAAS_AGENT_HOST || "127.0.0.1";
  const agentToken = env.PAAS_AGENT_TOKEN || undefined;
  if (agentToken !== undefined && !/^[\x21-\x7e]{16,}$/.test(agentToken)) {
    throw new Error("PAAS_AGENT_TOKEN must be at least 16 printable characters without spaces (e.g. the output of `openssl rand -hex 32`)");
  }
  if (!isLoopback(agentHost) && !agentToken) {
    throw new Error(
      `PAAS_AGENT_HOST=${agentHost} lets other machines reach the host agent, so it needs a token: set PAAS_AGENT_TOKEN (e.g. \`openssl rand -hex 32\`) here and the same value for every worker that drives this agent`,
    );
  }
  return { agentHost, agentToken };
}

/** A whole number of seconds (0 to an hour) from `name`, else `fallback`. */
function seconds(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < 0 || n > 3600) throw new Error(`${name} must be a whole number of seconds from 0 to 3600, got "${raw}"`);
  return n;
}

/** A positive whole number of bytes from `name`, else `fallback`. */
function bytes(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n <= 0) throw new Error(`${name} must be a number of bytes (a whole number above 0), got "${raw}"`);
  return n;
}

export interface PaasConfig {
  /** All state lives under this directory. */
  dataDir: string;
  webPort: number;
  httpPort: number;
  /** The router's TLS port (PAAS_HTTPS_PORT, default 8443): SNI picks a domain's certificate. */
  httpsPort: number;
  /**
   * Certificates: `default.pem`, the router's self-signed one for *.<domain>, and
   * `domains/<host>.pem` per custom domain (certificate chain and key, mode 600).
   */
  tlsDir: string;
  agentPort: number;
  /** Address the agent listens on (PAAS_AGENT_HOST); 127.0.0.1 unless set. */
  agentHost: string;
  /** Bearer token the agent requires and AgentClient sends (PAAS_AGENT_TOKEN); required off loopback. */
  agentToken?: string;
  redisPort: number;
  redisUrl: string;
  domain: string;
  /** Where the platform's own components reach the web app (git hook -> API). */
  internalUrl: string;
  /** The URL users see for an app. */
  appUrl(app: string): string;
  databaseUrl: string;
  agentUrl: string;
  /** Runtime-specific settings; tests run a second platform beside a dev one. */
  bridge: string;
  subnet: string;
  cgroupRoot: string;
  /** A push whose source tree (the tar of the pushed commit) is larger is refused (PAAS_MAX_PUSH_BYTES). */
  maxPushBytes: number;
  /**
   * Seconds a replica that left the route keeps running before its SIGTERM (PAAS_DRAIN_SECONDS,
   * default 5): the router stops sending it requests and those it has finish.
   */
  drainSeconds: number;
  /** Seconds between a replica's SIGTERM and its SIGKILL (PAAS_STOP_GRACE_SECONDS, default 10). */
  stopGraceSeconds: number;
  /** Prometheus, on loopback (PAAS_PROMETHEUS_PORT, default 9390): the metrics' history. */
  prometheusUrl: string;
  /** The router's per-app figures for Prometheus, on loopback (PAAS_ROUTER_METRICS_PORT, default 9391). */
  routerMetricsPort: number;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): PaasConfig {
  const dataDir = path.resolve(env.PAAS_DATA_DIR || path.join(/* turbopackIgnore: true */ process.cwd(), ".paas"));
  const webPort = port(env, "PAAS_WEB_PORT", 3000);
  const httpPort = port(env, "PAAS_HTTP_PORT", 8080);
  const httpsPort = port(env, "PAAS_HTTPS_PORT", 8443);
  const agentPort = port(env, "PAAS_AGENT_PORT", 3101);
  const redisPort = port(env, "PAAS_REDIS_PORT", 6379);
  const domain = env.PAAS_DOMAIN || "localhost";
  const { agentHost, agentToken } = agentListen(env);
  // An agent on every address (0.0.0.0, ::) is reached here through loopback.
  const agentDial = agentHost === "0.0.0.0" || agentHost === "::" ? "127.0.0.1" : agentHost.includes(":") ? `[${agentHost}]` : agentHost;
  return {
    dataDir,
    webPort,
    httpPort,
    httpsPort,
    tlsDir: path.join(dataDir, "tls"),
    agentPort,
    agentHost,
    agentToken,
    redisPort,
    redisUrl: env.PAAS_REDIS_URL || `redis://127.0.0.1:${redisPort}`,
    domain,
    internalUrl: `http://127.0.0.1:${webPort}`,
    appUrl: (app) => `http://${app}.${domain}${httpPort === 80 ? "" : `:${httpPort}`}/`,
    databaseUrl: env.PAAS_DATABASE_URL || `file:${path.join(dataDir, "paas.db")}`,
    agentUrl: env.PAAS_AGENT_URL || `http://${agentDial}:${agentPort}`,
    bridge: env.PAAS_BRIDGE || "paas0",
    subnet: env.PAAS_SUBNET || "10.88.0.0/24",
    cgroupRoot: env.PAAS_CGROUP_ROOT || "paas",
    // Heroku refuses a slug over 500 MB; our limit is on the pushed tree, before any build.
    maxPushBytes: bytes(env, "PAAS_MAX_PUSH_BYTES", 512 * 2 ** 20),
    drainSeconds: seconds(env, "PAAS_DRAIN_SECONDS", 5),
    stopGraceSeconds: seconds(env, "PAAS_STOP_GRACE_SECONDS", 10),
    prometheusUrl: `http://127.0.0.1:${port(env, "PAAS_PROMETHEUS_PORT", 9390)}`,
    routerMetricsPort: port(env, "PAAS_ROUTER_METRICS_PORT", 9391),
  };
}

let cached: PaasConfig | undefined;
/** The config of this process, read from the environment once. */
export function config(): PaasConfig {
  cached ??= loadConfig();
  return cached;
}
