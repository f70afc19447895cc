/**
 * The package indexes this host is configured with, for build containers: npm's registry
 * (and scoped registries, auth, CA, proxies) and pip's indexes (index URLs, find-links,
 * constraints, certificate, trusted hosts, timeout), read from their own configuration as
 * npm and pip themselves find it, and overridable per platform (PAAS_NPM_REGISTRY,
 * PAAS_PIP_INDEX_URL). A platform behind a mirror or proxy builds the way its host installs.
 *
 *   const indexes = readPackageIndexes();           // once per build, on the worker
 *   runStep(ctx, { ..., indexes });                  // context.ts: env, binds, the npmrc below
 *
 * What a build container gets, and why it is safe:
 *   - env vars for the step only (npm_config_*, PIP_*): the agent keeps a spec's env out of a
 *     commit (commit takes the image's config), so no setting reaches the app's image;
 *   - the local paths the settings name (file:// index URLs, find-links dirs, constraints,
 *     CA bundles) bound read-only at the same paths, nothing else of the host (for an index
 *     at <root>/simple, <root>: its pages link to the files beside it);
 *   - npm keys that are no valid env var name (`@scope:registry`, `//host/:_authToken`: dash,
 *     Debian's /bin/sh, drops such variables) in an npmrc whose values are `${PAAS_NPM_n}`
 *     references to env vars: the file holds names, never a secret, and is removed when the
 *     step ends (runStep);
 *   - `secrets` lists the values (tokens, passwords, URLs with credentials) that runStep
 *     masks in the build log.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import ini from "ini";
import type { BindMount } from "@paas/shared";

export interface PackageIndexes {
  /** Env vars for a build step. */
  env: Record<string, string>;
  /** Host paths the settings name, bound read-only at the same paths. */
  binds: BindMount[];
  /** The npmrc for keys env vars cannot carry (contents: `key=${VAR}` lines), or undefined. */
  npmrc?: string;
  /** Values never to print. */
  secrets: string[];
}

/** Where the build step finds `npmrc`; removed when the step ends. */
export const INDEXES_DIR = "/tmp/paas-indexes";

/** npm settings that decide where packages come from and how they are fetched. */
const NPM_KEYS = ["registry", "cafile", "ca", "strict-ssl", "proxy", "https-proxy", "noproxy", "fetch-retries", "fetch-timeout", "fetch-retry-mintimeout", "fetch-retry-maxtimeout"];
/** Of those, the ones whose value may hold a credential (a proxy URL with user:password). */
const NPM_SECRET_KEYS = ["proxy", "https-proxy"];
/** Nerf-darted keys (`//host/path/:key`) that are credentials. */
const NPM_AUTH_SUFFIXES = [":_authToken", ":_auth", ":_password", ":username", ":email"];

/** pip's install options that decide where packages come from (pip's option names). */
const PIP_KEYS = ["index-url", "extra-index-url", "no-index", "find-links", "constraint", "cert", "client-cert", "trusted-host", "timeout", "retries", "proxy"];

type Env = NodeJS.ProcessEnv;

export interface ReadOptions {
  env?: Env;
  home?: string;
  /** npm's prefix (its global npmrc is <prefix>/etc/npmrc); default: the one above node's binary. */
  npmPrefix?: string;
  /** Where pip's system-wide pip.conf is (tests); default /etc. */
  etc?: string;
}

export function readPackageIndexes(opts: ReadOptions = {}): PackageIndexes {
  const env = opts.env ?? process.env;
  const home = opts.home ?? os.homedir();
  const npm = npmSettings(env, home, opts.npmPrefix ?? path.dirname(path.dirname(process.execPath)));
  const pip = pipSettings(env, home, opts.etc ?? "/etc");
  const out: PackageIndexes = { env: {}, binds: [], secrets: [] };
  addNpm(out, npm);
  addPip(out, pip);
  return out;
}

// ---------- npm ----------

/** npm's config as npm layers it: builtin, global, user npmrc, then npm_config_* env. */
export function npmSettings(env: Env, home: string, prefix: string): Map<string, string | string[]> {
  const byName = (name: string) => Object.entries(env).find(([k]) => k.toLowerCase() === name)?.[1];
  const files = [
    path.join(prefix, "lib/node_modules/npm/npmrc"),
    byName("npm_config_globalconfig") ?? path.join(prefix, "etc/npmrc"),
    byName("npm_config_userconfig") ?? path.join(home, ".npmrc"),
  ];
  const merged = new Map<string, string | string[]>();
  for (const f of files) {
    let text: string;
    try {
      text = fs.readFileSync(f, "utf8");
    } catch {
      continue;
    }
    for (const [k, v] of Object.entries(ini.parse(text))) {
      if (typeof v === "string" || (Array.isArray(v) && v.every((x) => typeof x === "string"))) merged.set(k, envExpand(v, env));
      else if (typeof v === "boolean" || typeof v === "number") merged.set(k, String(v));
    }
  }
  for (const [k, v] of Object.entries(env)) {
    if (!/^npm_config_/i.test(k) || !v) continue;
    const key = k.slice("npm_config_".length);
    // npm's own rule: nerf-darted keys as they are, others with _ as - and lower case
    merged.set(key.startsWith("//") ? key : key.replace(/(?!^)_/g, "-").toLowerCase(), v);
  }
  if (env.PAAS_NPM_REGISTRY) merged.set("registry", env.PAAS_NPM_REGISTRY);
  return merged;
}

/** npm's ${VAR} in npmrc values. */
function envExpand<T extends string | string[]>(v: T, env: Env): T {
  const one = (s: string) => s.replace(/(\\*)\$\{([^${}?]+)\}/g, (m, esc: string, name: string) => (esc.length % 2 ? m.slice((esc.length + 1) / 2) : esc.slice(esc.length / 2) + (env[name] ?? "")));
  return (Array.isArray(v) ? v.map(one) : one(v)) as T;
}

function addNpm(out: PackageIndexes, npm: Map<string, string | string[]>) {
  const lines: string[] = [];
  let n = 0;
  for (const [key, value] of npm) {
    const nerf = key.startsWith("//");
    const scoped = /^@[^:]+:registry$/.test(key);
    if (!nerf && !scoped && !NPM_KEYS.includes(key)) continue;
    const values = Array.isArray(value) ? value : [value];
    const secret = (nerf && NPM_AUTH_SUFFIXES.some((s) => key.endsWith(s))) || NPM_SECRET_KEYS.includes(key) || values.some(hasCredentials);
    if (secret) out.secrets.push(...values.filter((v) => v.length >= 4));
    if (key === "cafile" || (nerf && (key.endsWith(":cafile") || key.endsWith(":certfile") || key.endsWith(":keyfile")))) {
      for (const v of values) bindIfLocal(out, v);
    }
    if (nerf || scoped || Array.isArray(value)) {
      // no env var can carry it: a line in the npmrc, its value by reference
      for (const v of values) {
        const ref = `PAAS_NPM_${n++}`;
        out.env[ref] = v;
        lines.push(`${key}${Array.isArray(value) ? "[]" : ""}=\${${ref}}`);
      }
    } else {
      out.env[`npm_config_${key.replace(/-/g, "_")}`] = value as string;
    }
  }
  if (lines.length) {
    out.npmrc = lines.join("\n") + "\n";
    out.env.NPM_CONFIG_USERCONFIG = `${INDEXES_DIR}/npmrc`;
  }
}

// ---------- pip ----------

/**
 * pip's settings for `pip install`, as pip finds them: the global files (XDG_CONFIG_DIRS'
 * pip/pip.conf, /etc/pip.conf), the user's (~/.pip/pip.conf, ~/.config/pip/pip.conf), then
 * PIP_CONFIG_FILE's (none at all when it is os.devnull), [global] then [install] of each, then
 * PIP_* env vars. Keys as pip normalises them (lower case, - for _).
 */
export function pipSettings(env: Env, home: string, etc = "/etc"): Map<string, string> {
  const files: string[] = [];
  if (env.PIP_CONFIG_FILE !== "/dev/null") {
    const xdgDirs = (env.XDG_CONFIG_DIRS || "/etc/xdg").split(":").filter(Boolean);
    files.push(...xdgDirs.map((d) => path.join(d, "pip/pip.conf")), path.join(etc, "pip.conf"));
    files.push(path.join(home, ".pip/pip.conf"), path.join(env.XDG_CONFIG_HOME || path.join(home, ".config"), "pip/pip.conf"));
    if (env.PIP_CONFIG_FILE) files.push(env.PIP_CONFIG_FILE);
  }
  const merged = new Map<string, string>();
  for (const f of files) {
    let text: string;
    try {
      text = fs.readFileSync(f, "utf8");
    } catch {
      continue;
    }
    const sections = parseConfigParser(text);
    for (const section of ["global", "install"]) for (const [k, v] of sections.get(section) ?? []) merged.set(normalizePipKey(k), v);
  }
  for (const [k, v] of Object.entries(env)) {
    if (!k.startsWith("PIP_") || v === undefined || k === "PIP_CONFIG_FILE") continue;
    merged.set(normalizePipKey(k.slice(4)), v);
  }
  if (env.PAAS_PIP_INDEX_URL) merged.set("index-url", env.PAAS_PIP_INDEX_URL);
  return merged;
}

const normalizePipKey = (k: string) => {
  const key = k.toLowerCase().replace(/_/g, "-").replace(/^--/, "");
  return key === "default-timeout" ? "timeout" : key;
};

/** Python's configparser format as pip reads it: [sections], `k = v` or `k: v`, indented continuation lines, # and ; comments. */
export function parseConfigParser(text: string): Map<string, Map<string, string>> {
  const out = new Map<string, Map<string, string>>();
  let section: Map<string, string> | undefined;
  let last: string | undefined;
  for (const raw of text.split(/\r?\n/)) {
    if (/^\s*([#;]|$)/.test(raw)) continue;
    if (/^\s/.test(raw) && section && last !== undefined) {
      section.set(last, `${section.get(last)}\n${raw.trim()}`.trim());
      continue;
    }
    const head = /^\[([^\]]+)\]\s*$/.exec(raw.trim());
    if (head) {
      section = out.get(head[1]) ?? new Map();
      out.set(head[1], section);
      last = undefined;
      continue;
    }
    const kv = /^([^=:]+?)\s*[=:]\s*(.*)$/.exec(raw.trim());
    if (kv && section) {
      last = kv[1].toLowerCase();
      section.set(last, kv[2]);
    }
  }
  return out;
}

function addPip(out: PackageIndexes, pip: Map<string, string>) {
  for (const key of PIP_KEYS) {
    const value = pip.get(key);
    if (value === undefined) continue;
    // multi-valued options: whitespace separated, as pip splits them
    const values = value.split(/\s+/).filter(Boolean);
    out.env[`PIP_${key.toUpperCase().replace(/-/g, "_")}`] = values.join(" ");
    for (const v of values) {
      if (hasCredentials(v)) out.secrets.push(v, ...credentialsOf(v));
      if (["index-url", "extra-index-url", "find-links", "constraint", "cert", "client-cert"].includes(key)) bindIfLocal(out, v);
    }
  }
}

// ---------- shared ----------

/** Does this URL carry a user:password (or token) in it? */
function hasCredentials(v: string): boolean {
  try {
    const u = new URL(v);
    return u.password !== "" || (u.username !== "" && u.protocol !== "file:");
  } catch {
    return false;
  }
}

function credentialsOf(v: string): string[] {
  const u = new URL(v);
  return [u.password, decodeURIComponent(u.password)].filter((s) => s.length >= 4);
}

/** A local path (or file:// URL) that exists on this host is bound read-only at the same path. */
function bindIfLocal(out: PackageIndexes, v: string) {
  let p: string | undefined;
  if (v.startsWith("file:")) {
    try {
      p = decodeURIComponent(new URL(v).pathname).replace(/\/+$/, "");
    } catch {
      return;
    }
    // A repository's /simple pages link to files beside it (../../files/x.whl, as pip
    // download trees, dir2pi and pypiserver lay them out): its root is what pip reads.
    if (path.basename(p) === "simple") p = path.dirname(p);
  } else if (v.startsWith("/")) p = v;
  if (!p || !fs.existsSync(p)) return;
  p = path.resolve(p);
  // a path inside a bound directory is seen through it already; a directory takes in those below it
  if (out.binds.some((b) => b.target === p || p!.startsWith(`${b.target}/`))) return;
  out.binds = out.binds.filter((b) => !b.target.startsWith(`${p}/`));
  out.binds.push({ source: p, target: p, readOnly: true });
}
