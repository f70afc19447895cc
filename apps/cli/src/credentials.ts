/**
 * Where the CLI finds the API: PAAS_URL / PAAS_TOKEN win over what
 * `paas login` stored in ~/.config/paas/credentials.json (mode 600).
 */
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";

export interface Credentials {
  url: string;
  token: string;
}

export class CliError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "CliError";
  }
}

export function credentialsPath(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_CONFIG_HOME || path.join(env.HOME || os.homedir(), ".config");
  return path.join(base, "paas", "credentials.json");
}

export function readStored(env: NodeJS.ProcessEnv = process.env): Partial<Credentials> {
  try {
    const raw = JSON.parse(readFileSync(credentialsPath(env), "utf8")) as Partial<Credentials>;
    return { url: typeof raw.url === "string" ? raw.url : undefined, token: typeof raw.token === "string" ? raw.token : undefined };
  } catch {
    return {};
  }
}

export function writeStored(creds: Credentials, env: NodeJS.ProcessEnv = process.env): string {
  const file = credentialsPath(env);
  mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  writeFileSync(file, JSON.stringify(creds, null, 2) + "\n", { mode: 0o600 });
  chmodSync(file, 0o600); // also when the file existed with looser bits
  return file;
}

export function normalizeUrl(url: string): string {
  let u = url.trim();
  if (!/^https?:\/\//.test(u)) u = `http://${u}`;
  try {
    const parsed = new URL(u);
    return `${parsed.protocol}//${parsed.host}${parsed.pathname.replace(/\/+$/, "")}`;
  } catch {
    throw new CliError(`"${url}" is not a URL: use e.g. http://localhost:3000`);
  }
}

/** The API's URL and token, or a CliError saying how to provide them. */
export function resolveCredentials(env: NodeJS.ProcessEnv = process.env): Credentials {
  const stored = readStored(env);
  const url = env.PAAS_URL || stored.url || `http://localhost:${env.PAAS_WEB_PORT || 3000}`;
  const token = env.PAAS_TOKEN || stored.token;
  if (!token) throw new CliError("not logged in: run `paas login`, or set PAAS_URL and PAAS_TOKEN");
  return { url: normalizeUrl(url), token };
}
