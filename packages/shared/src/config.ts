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

export interface PaasConfig {
  /** All state lives under this directory. */
  dataDir: string;
  webPort: number;
  httpPort: number;
  agentPort: number;
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
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): PaasConfig {
  const dataDir = path.resolve(env.PAAS_DATA_DIR || path.join(/* turbopackIgnore: true */ process.cwd(), ".paas"));
  const webPort = port(env, "PAAS_WEB_PORT", 3000);
  const httpPort = port(env, "PAAS_HTTP_PORT", 8080);
  const agentPort = port(env, "PAAS_AGENT_PORT", 3101);
  const redisPort = port(env, "PAAS_REDIS_PORT", 6379);
  const domain = env.PAAS_DOMAIN || "localhost";
  return {
    dataDir,
    webPort,
    httpPort,
    agentPort,
    redisPort,
    redisUrl: env.PAAS_REDIS_URL || `redis://127.0.0.1:${redisPort}`,
    domain,
    internalUrl: `http://127.0.0.1:${webPort}`,
    appUrl: (app) => `http://${app}.${domain}${httpPort === 80 ? "" : `:${httpPort}`}/`,
    databaseUrl: env.PAAS_DATABASE_URL || `file:${path.join(dataDir, "paas.db")}`,
    agentUrl: env.PAAS_AGENT_URL || `http://127.0.0.1:${agentPort}`,
    bridge: env.PAAS_BRIDGE || "paas0",
    subnet: env.PAAS_SUBNET || "10.88.0.0/24",
    cgroupRoot: env.PAAS_CGROUP_ROOT || "paas",
  };
}

let cached: PaasConfig | undefined;
/** The config of this process, read from the environment once. */
export function config(): PaasConfig {
  cached ??= loadConfig();
  return cached;
}
