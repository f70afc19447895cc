/**
 * Starts a whole platform for a test: its own data dir, ports, bridge, subnet
 * and cgroup root, so it never disturbs a platform a developer is running.
 */
import { execFile } from "node:child_process";
import fs from "node:fs/promises";
import http, { type Agent, type RequestOptions } from "node:http";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { createDb } from "@paas/db";
import { generateToken } from "@paas/shared";

const run = promisify(execFile);
export const ROOT = path.resolve(import.meta.dirname, "../..");

export interface Platform {
  env: NodeJS.ProcessEnv;
  dataDir: string;
  webUrl: string;
  routerPort: number;
  adminToken: string;
  stop(): Promise<void>;
}

/**
 * `overrides` replaces settings, e.g. PAAS_SUBNET when two platforms' bases map to the same subnet.
 * `root` is the checkout whose infra/up and infra/down run (another commit's, for a before/after bench).
 */
export async function startPlatform(name: string, base: number, overrides: NodeJS.ProcessEnv = {}, root = ROOT): Promise<Platform> {
  // A data dir of the caller's choosing (PAAS_DATA_DIR in the overrides) is the caller's to keep.
  const ownDataDir = !overrides.PAAS_DATA_DIR;
  const dataDir = overrides.PAAS_DATA_DIR ?? (await fs.mkdtemp(path.join(os.tmpdir(), `paas-${name}-`)));
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    PAAS_DATA_DIR: dataDir,
    PAAS_WEB_PORT: String(base),
    PAAS_HTTP_PORT: String(base + 80),
    PAAS_HTTPS_PORT: String(base + 43),
    PAAS_AGENT_PORT: String(base + 91),
    PAAS_REDIS_PORT: String(base + 79),
    // (base + 95 would be 4045 for base 3950: a port fetch refuses to dial, as 6000 and others)
    PAAS_PROMETHEUS_PORT: String(base + 97),
    PAAS_ROUTER_METRICS_PORT: String(base + 96),
    PAAS_BRIDGE: `paas${name.slice(0, 6)}0`,
    // One subnet per base port (bases 10 apart never share one): two platforms up at once
    // with one subnet would clash.
    PAAS_SUBNET: `10.${200 + Math.floor(base / 2500)}.${Math.floor(base / 10) % 250}.0/24`,
    PAAS_CGROUP_ROOT: `paas-${name}`,
    ...overrides,
  };
  try {
    await run(path.join(root, "infra/up"), ["--detach"], { env, cwd: root, maxBuffer: 64 << 20 });
  } catch (err) {
    // Whatever did start (web, agent, Redis) would hold the ports for the next run.
    await stopPlatform(env, ownDataDir, root);
    const e = err as { stdout?: string; stderr?: string };
    throw new Error(`infra/up failed:\n${e.stdout}\n${e.stderr}`);
  }
  const adminToken = (await fs.readFile(path.join(dataDir, "admin-token"), "utf8")).trim();
  return {
    env,
    dataDir,
    webUrl: `http://127.0.0.1:${base}`,
    routerPort: base + 80,
    adminToken,
    stop: () => stopPlatform(env, ownDataDir, root),
  };
}

/**
 * infra/down (services, apps, the platform's bridge, firewall rules and cgroup root), then the
 * data dir it made: the host is left as the platform found it.
 */
async function stopPlatform(env: NodeJS.ProcessEnv, ownDataDir: boolean, root: string): Promise<void> {
  const down = await sh(path.join(root, "infra/down"), [], { env, cwd: root });
  if (down.code !== 0) throw new Error(`infra/down failed:\n${down.stdout}\n${down.stderr}`);
  // --one-file-system: were a container's mount left behind, its files are not ours to delete.
  if (ownDataDir) await run("rm", ["-rf", "--one-file-system", env.PAAS_DATA_DIR!]);
}

/**
 * Stops one of the platform's services until the next `infra/up`: the supervisor is told not
 * to restart it (its file in run/supervise/ goes first), then its session is killed.
 */
export async function stopService(p: Platform, name: string): Promise<void> {
  await fs.rm(path.join(p.dataDir, "run/supervise", name), { force: true });
  const pid = Number(await fs.readFile(path.join(p.dataDir, `run/${name}.pid`), "utf8"));
  process.kill(-pid, "SIGKILL");
}

/** Runs a command, returning its output and exit code without throwing. */
export async function sh(
  cmd: string,
  args: string[],
  opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(cmd, args, { ...opts, maxBuffer: 64 << 20 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === "number" ? e.code : 1, stdout: e.stdout ?? "", stderr: e.stderr ?? "" };
  }
}

/** A GET through the router as `<app>.localhost` asks for it, or with `host` as the Host header (a custom domain); on `agent`'s connections if given. */
export function viaRouter(p: Platform, app: string, urlPath = "/", host = `${app}.localhost:${p.routerPort}`, agent: Agent | false = false): Promise<{ status: number; body: string }> {
  return httpGet({ host: "127.0.0.1", port: p.routerPort, path: urlPath, headers: { host }, agent });
}

/** A GET with the body read as text; an answer not complete within `timeoutMs` (10 s) fails. */
export function httpGet(opts: RequestOptions, timeoutMs = 10_000): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ agent: false, ...opts }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (c) => (body += c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
      res.on("error", reject);
    });
    req.on("error", reject);
    req.setTimeout(timeoutMs, () => req.destroy(new Error("timeout")));
  });
}

/** `git push` of `dir`'s `ref` to `app` on the platform, as its team would: with a token (the operator's by default). */
export function pushApp(p: Platform, app: string, dir: string, { token = p.adminToken, ref = "main" } = {}) {
  return sh("git", ["push", `http://git:${token}@127.0.0.1:${p.env.PAAS_WEB_PORT}/git/${app}.git`, ref], { cwd: dir, env: { ...process.env, GIT_TERMINAL_PROMPT: "0" } });
}

/** A git work tree with the fixture app committed on main. */
export async function fixtureRepo(fixture: string): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), `fixture-${fixture}-`));
  await fs.cp(path.join(ROOT, "tests/fixtures", fixture), dir, { recursive: true });
  const git = (...args: string[]) => run("git", args, { cwd: dir });
  await git("init", "-q", "-b", "main");
  await git("config", "user.email", "dev@example.com");
  await git("config", "user.name", "Dev");
  await git("add", "-A");
  await git("commit", "-qm", "first");
  return dir;
}

export async function commitChange(dir: string, file: string, content: string, message: string): Promise<void> {
  await fs.writeFile(path.join(dir, file), content);
  await run("git", ["add", "-A"], { cwd: dir });
  await run("git", ["commit", "-qm", message], { cwd: dir });
}

/**
 * A second team with one admin member and an API token, made straight in the platform's
 * database (no API for it needs to exist to test that tenants are kept apart).
 */
export async function addTeamWithToken(dataDir: string, team = "other", email = "eve@example.com"): Promise<string> {
  const db = createDb(`file:${path.join(dataDir, "paas.db")}`);
  try {
    const t = await db.team.create({ data: { name: team } });
    const user = await db.user.create({ data: { email } });
    await db.membership.create({ data: { teamId: t.id, userId: user.id, role: "admin" } });
    const token = generateToken();
    await db.apiToken.create({ data: { userId: user.id, name: "test", hash: token.hash, prefix: token.prefix } });
    return token.token;
  } finally {
    await db.$disconnect();
  }
}
