/**
 * The checks an app declares for its web replicas, read from its source at build time and kept
 * with the release: Dokku's two formats.
 *   app.json  `healthchecks.web`: a list of { path, content, attempts, timeout, wait,
 *             initialDelay } (seconds; defaults 3 attempts, 5 s timeout, 5 s wait, no delay),
 *             plus our `status` (the exact status wanted). Unknown keys are ignored (Dokku's
 *             `name`, `description`); check kinds we cannot run (command, uptime, listening,
 *             headers, another port or scheme) are refused rather than skipped.
 *   CHECKS    Dokku's older file: `WAIT=`, `TIMEOUT=`, `ATTEMPTS=` settings (defaults 5, 30, 5
 *             seconds/attempts, for every check in the file), then lines of
 *             `/path [expected content]` (`//host/path` or `http://host/path` set the Host header).
 * app.json's checks win when both declare some. None declared: the port answering is the check.
 * A malformed file fails the build naming the line or key and what is wrong.
 */
import path from "node:path";
import { z } from "zod";
import { HttpCheckSchema, type HttpCheck } from "@paas/shared/agent-api";
import { PushError } from "../pipeline/push-error.ts";
import { APP_PORT, readIfExists } from "./context.ts";

export class ChecksError extends PushError {}

export interface DeclaredChecks {
  checks: HttpCheck[];
  /** The file they came from; null: none declared. */
  source: "app.json" | "CHECKS" | null;
}

/** The checks of the source tree in `dir`. */
export async function readChecks(dir: string): Promise<DeclaredChecks> {
  const appJson = await readIfExists(path.join(dir, "app.json"));
  const fromAppJson = appJson === null ? [] : parseAppJsonChecks(appJson);
  if (fromAppJson.length) return { checks: fromAppJson, source: "app.json" };
  const checksFile = await readIfExists(path.join(dir, "CHECKS"));
  const fromFile = checksFile === null ? [] : parseChecksFile(checksFile);
  if (fromFile.length) return { checks: fromFile, source: "CHECKS" };
  return { checks: [], source: null };
}

/** One line for the build log: what each check asks for. */
export function describeCheck(c: HttpCheck): string {
  const wants = [c.status === undefined ? null : `status ${c.status}`, c.content === undefined ? null : `'${c.content}'`].filter(Boolean);
  return `GET ${c.host ? `//${c.host}` : ""}${c.path}${wants.length ? ` expecting ${wants.join(" and ")}` : ""} (${c.attempts} attempt${c.attempts === 1 ? "" : "s"}, ${c.timeoutMs / 1000}s each)`;
}

const seconds = (min: number) => z.int().min(min).max(600);
// Off (false, 0, []) is fine: only a check of that kind switched on is refused.
const refused = (why: string) => z.unknown().refine((v) => !v || (Array.isArray(v) && v.length === 0), why).optional();

/** One entry of app.json's healthchecks.web. */
const AppJsonCheckSchema = z.looseObject({
  type: z.enum(["startup", "liveness", "readiness"]).optional(),
  path: z.string().optional(),
  content: z.string().optional(),
  status: z.int().min(100).max(599).optional(),
  attempts: z.int().min(1).max(100).optional(),
  timeout: seconds(1).optional(),
  wait: seconds(0).optional(),
  initialDelay: seconds(0).optional(),
  port: z.literal(APP_PORT, `checks run on $PORT (${APP_PORT}), the port the router sends to; remove "port"`).optional(),
  scheme: z.literal("http", 'only "http": replicas serve plain HTTP on $PORT').optional(),
  command: refused('command checks are not supported here; use "path" (an HTTP check)'),
  uptime: refused('uptime checks are not supported here; use "path" (an HTTP check)'),
  listening: refused('listening checks are not supported here: the port answering is already the default check'),
  httpHeaders: refused('headers are not supported here; a CHECKS line "//host/path" sets the Host header'),
  onFailure: refused("failure hooks are not supported here"),
  warn: refused("warn-only checks are not supported here: every check must pass"),
});
const AppJsonSchema = z.looseObject({
  healthchecks: z.looseObject({ web: z.array(AppJsonCheckSchema).max(20).optional() }).optional(),
});

/** `healthchecks.web` of an app.json (its checks without a path, Dokku's "is it running", are the default check). */
export function parseAppJsonChecks(text: string): HttpCheck[] {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new ChecksError(`app.json ${jsonErrorWhere(text, err as Error)}`, "fix app.json and push again");
  }
  const parsed = AppJsonSchema.safeParse(doc);
  if (!parsed.success) throw new ChecksError(`app.json ${issueWhere(parsed.error.issues[0])}`, "fix app.json and push again");
  const web = parsed.data.healthchecks?.web ?? [];
  return web.flatMap((c, i) => {
    if (c.path === undefined) return [];
    return [
      valid(`app.json healthchecks.web[${i}]`, {
        path: c.path,
        ...(c.status === undefined ? {} : { status: c.status }),
        ...(c.content === undefined || c.content === "" ? {} : { content: c.content }),
        initialDelayMs: (c.initialDelay ?? 0) * 1000,
        timeoutMs: (c.timeout ?? 5) * 1000,
        attempts: c.attempts ?? 3,
        waitMs: (c.wait ?? 5) * 1000,
      }),
    ];
  });
}

const SETTINGS = { WAIT: seconds(0), TIMEOUT: seconds(1), ATTEMPTS: z.int().min(1).max(100) } as const;
type Setting = keyof typeof SETTINGS;

/** A CHECKS file's checks. */
export function parseChecksFile(text: string): HttpCheck[] {
  const settings: Record<Setting, number> = { WAIT: 5, TIMEOUT: 30, ATTEMPTS: 5 };
  const targets: { line: number; path: string; host?: string; content?: string }[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const where = `CHECKS line ${i + 1}`;
    // A comment is a line of its own or the end of one after a space (WAIT=30  # half a minute).
    const line = raw.replace(/(^|\s)#.*$/, "").trim();
    if (!line) return;
    const setting = /^([A-Za-z_]+)=(.*)$/.exec(line);
    if (setting) {
      const [, name, value] = setting;
      if (!(name in SETTINGS)) throw new ChecksError(`${where}: unknown setting ${name} (the settings are WAIT, TIMEOUT and ATTEMPTS)`);
      const n = /^\d+$/.test(value.trim()) ? SETTINGS[name as Setting].safeParse(Number(value.trim())) : null;
      if (!n?.success) throw new ChecksError(`${where}: ${name}=${value} must be a whole number ${name === "ATTEMPTS" ? "from 1 to 100" : `of seconds from ${name === "TIMEOUT" ? 1 : 0} to 600`}`);
      settings[name as Setting] = n.data;
      return;
    }
    const [target, ...rest] = line.split(/\s+/);
    const content = rest.join(" ") || undefined;
    if (/^https:/i.test(target)) throw new ChecksError(`${where}: https checks are not supported: replicas serve plain HTTP on $PORT`);
    const url = /^(?:http:)?\/\/([^/\s]+)(\/\S*)?$/i.exec(target);
    if (url) return targets.push({ line: i + 1, host: url[1], path: url[2] ?? "/", content });
    if (!target.startsWith("/")) throw new ChecksError(`${where}: "${target}" is not a path; a check is "/path [expected content]"`);
    targets.push({ line: i + 1, path: target, content });
  });
  return targets.map((t) =>
    valid(`CHECKS line ${t.line}`, {
      path: t.path,
      ...(t.host ? { host: t.host } : {}),
      ...(t.content ? { content: t.content } : {}),
      initialDelayMs: 0,
      timeoutMs: settings.TIMEOUT * 1000,
      attempts: settings.ATTEMPTS,
      waitMs: settings.WAIT * 1000,
    }),
  );
}

/** The check as the agent's contract takes it, or the reason it cannot be one. */
function valid(where: string, check: HttpCheck): HttpCheck {
  const r = HttpCheckSchema.safeParse(check);
  if (!r.success) {
    const issue = r.error.issues[0];
    throw new ChecksError(`${where}: ${String(issue.path[0] ?? "check")} ${issue.message}`);
  }
  return r.data;
}

function issueWhere(issue: z.core.$ZodIssue): string {
  const at = issue.path.map((p) => (typeof p === "number" ? `[${p}]` : `.${String(p)}`)).join("").replace(/^\./, "");
  return `${at || "(the whole file)"}: ${issue.message}`;
}

/** "line N is not valid JSON: what" for a JSON.parse error: people count lines, and Node 20 does not always say where. */
function jsonErrorWhere(text: string, err: Error): string {
  // Node 20: `Unexpected token ',', ..."snippet"... is not valid JSON` or `... in JSON at position N`.
  const what = err.message.split(/, (?:\.\.\.)?"/)[0].replace(/ in JSON at position \d+[\s\S]*$/, "").replace(/\r?\n/g, "\\n");
  const at = firstJsonErrorAt(text);
  return `line ${text.slice(0, at).split("\n").length} is not valid JSON: ${what}`;
}

/** Where a JSON text first goes wrong (its length when it ends too soon): a scan of JSON's grammar, for the line only. */
export function firstJsonErrorAt(text: string): number {
  let i = 0;
  const ws = () => {
    while (i < text.length && " \t\r\n".includes(text[i])) i++;
  };
  const fail = (): never => {
    throw i;
  };
  const value = (): void => {
    ws();
    const c = text[i];
    if (c === "{") {
      i++;
      ws();
      if (text[i] === "}") return void i++;
      for (;;) {
        ws();
        if (text[i] !== '"') fail();
        string();
        ws();
        if (text[i++] !== ":") (i--, fail());
        value();
        ws();
        if (text[i] === ",") i++;
        else if (text[i] === "}") return void i++;
        else fail();
      }
    }
    if (c === "[") {
      i++;
      ws();
      if (text[i] === "]") return void i++;
      for (;;) {
        value();
        ws();
        if (text[i] === ",") i++;
        else if (text[i] === "]") return void i++;
        else fail();
      }
    }
    if (c === '"') return string();
    const lit = /^(true|false|null|-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?)/.exec(text.slice(i, i + 400));
    if (!lit) fail();
    i += lit![0].length;
  };
  const string = () => {
    i++;
    while (i < text.length && text[i] !== '"') {
      if (text[i] === "\\") i++;
      else if (text.charCodeAt(i) < 0x20) fail();
      i++;
    }
    if (i >= text.length) fail();
    i++;
  };
  try {
    value();
    ws();
    return i < text.length ? i : text.length;
  } catch (at) {
    return Math.min(at as number, text.length);
  }
}
