/**
 * The audit log's one writer: every change (who, what, which app or team, when, from which
 * address, with which token) becomes an AuditEvent row. Called by the tRPC middleware for
 * each mutation (trpc.ts) and by the git endpoint for pushes; the readers are
 * routers/audit.ts (`paas audit`, the team's page).
 *
 * Each row has its outcome (outcomeOf): "ok", "denied: <why>" (authorization or a quota refused
 * it: nothing changed) or "failed: <why>" (it was tried and did not happen, e.g. the worker's
 * job for a config change failed). Refusals are written only for a signed-in caller: see
 * auditable(). Never a secret: the request's input passes through redact() first.
 */
import { TRPCError } from "@trpc/server";
import { ZodError } from "zod";
import { db } from "@paas/db";
import { QuotaError } from "@paas/db/quotas";
import { maskDrainUrl } from "@paas/shared/drains";
import type { Principal } from "../auth.ts";
import { AuthzError } from "../authz.ts";

export const REDACTED = "[redacted]";

/** Fields whose values are secrets wherever they appear. */
const SECRET_FIELD = /pass(word|wd|phrase)?|token|secret|private|credential|^key$|^cert$/i;
/** Fields that hold a map of config vars: the names are kept, the values are not. */
const VARS_FIELD = /^(vars|env|config|values)$/i;
const PEM = /-----BEGIN [A-Z ]+-----/;
/** A URL: its password, tokens and query values are masked (a drain's URL carries them). */
const URL_LIKE = /^[a-z][a-z0-9+.-]*:\/\//i;

/** A copy of a request's input fit for the log: secret values replaced by "[redacted]". */
export function redact(value: unknown, field = "", depth = 0): unknown {
  if (depth > 6) return REDACTED;
  if (typeof value === "string") {
    if (SECRET_FIELD.test(field) || PEM.test(value)) return REDACTED;
    const text = URL_LIKE.test(value) ? maskDrainUrl(value) : value;
    return text.length > 500 ? `${text.slice(0, 500)}…` : text;
  }
  if (Array.isArray(value)) return value.slice(0, 50).map((v) => redact(v, field, depth + 1));
  if (value && typeof value === "object") {
    if (VARS_FIELD.test(field)) return Object.fromEntries(Object.keys(value).map((k) => [k, REDACTED]));
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, SECRET_FIELD.test(k) && typeof v !== "boolean" ? REDACTED : redact(v, k, depth + 1)]));
  }
  return value;
}

/** The caller's address, as the web server's edge decided it (apps/web/edge/client-address.mjs: never one the client named). */
export function clientAddress(headers: Headers): string | null {
  const xff = headers.get("x-forwarded-for");
  if (xff) return xff.split(",")[0]!.trim() || null;
  return headers.get("x-real-ip");
}

export interface AuditEntry {
  principal: Pick<Principal, "userId" | "email" | "tokenId"> | null;
  address: string | null;
  action: string;
  team?: { id: string; name: string } | null;
  app?: string | null;
  details?: unknown;
  /** outcomeOf(): "ok" when absent. */
  outcome?: string;
}

/** The longest reason an outcome keeps (a worker's error can carry a log). */
const MAX_REASON = 300;

/** The codes of a refusal (a quota's from the worker's job is FORBIDDEN: deploys.ts deployFailure). NOT_FOUND is one only from authz.ts. */
const DENIED_CODES = new Set(["UNAUTHORIZED", "FORBIDDEN"]);

/**
 * The outcome of a change that threw: "denied: <why>" when authorization or a quota refused it,
 * "failed: <why>" for anything else (bad input, a conflict, a failed job: tried, not done).
 */
export function outcomeOf(err: unknown): string {
  const cause = err instanceof TRPCError && err.cause ? err.cause : err;
  const denied =
    cause instanceof AuthzError || cause instanceof QuotaError || (err instanceof TRPCError && DENIED_CODES.has(err.code));
  // Input that did not parse: its issues in one line, as the client is told them (trpc.ts).
  const text = cause instanceof ZodError ? cause.issues.map((i) => (i.path.length ? `${i.path.join(".")}: ` : "") + i.message).join("; ") : (err as Error)?.message || String(err);
  const why = text.replace(/\s+/g, " ").trim();
  return `${denied ? "denied" : "failed"}: ${why.length > MAX_REASON ? `${why.slice(0, MAX_REASON)}…` : why}`;
}

/**
 * Whether a request by `principal` is audited whatever its outcome. Not for a caller with no
 * identity (no token, or one unknown, revoked or expired): its refusal names nobody an admin
 * could act on, it was turned away before any rule looked at what it named, and anyone can
 * send such requests by the thousand, each of which would cost an insert and grow the table.
 * A signed-in caller's every attempt is written: it names who to ask, or whose token to revoke.
 */
export function auditable(principal: AuditEntry["principal"]): boolean {
  return principal !== null;
}

/** Writes one event. Best effort: the change it records has happened; a failed write is logged, not thrown. */
export async function recordAudit(e: AuditEntry): Promise<void> {
  try {
    const token = e.principal?.tokenId ? await db.apiToken.findUnique({ where: { id: e.principal.tokenId }, select: { prefix: true } }) : null;
    await db.auditEvent.create({
      data: {
        userId: e.principal?.userId ?? null,
        actor: e.principal?.email ?? "anonymous",
        tokenId: e.principal?.tokenId || null,
        tokenPrefix: token?.prefix ?? null,
        address: e.address,
        action: e.action,
        teamId: e.team?.id ?? null,
        team: e.team?.name ?? null,
        app: e.app ?? null,
        details: JSON.stringify(redact(e.details ?? {})),
        outcome: e.outcome ?? "ok",
      },
    });
  } catch (err) {
    console.error(`audit: ${e.action} by ${e.principal?.email ?? "anonymous"} was not recorded: ${(err as Error).message}`);
  }
}

/** The team and app a request names: `app` (or `name` for apps.*), else `team`. Looked up before and after the change. */
export async function auditSubject(path: string, input: unknown, result: unknown): Promise<{ team: { id: string; name: string } | null; app: string | null }> {
  const i = (input && typeof input === "object" ? input : {}) as Record<string, unknown>;
  const r = (result && typeof result === "object" ? result : {}) as Record<string, unknown>;
  const appName = [i.app, i.name, r.name].find((v): v is string => typeof v === "string");
  if (appName) {
    const app = await db.app.findUnique({ where: { name: appName }, include: { team: true } });
    if (app) return { team: { id: app.team.id, name: app.team.name }, app: app.name };
  }
  const teamName = [i.team, r.team, ...(path.startsWith("teams.") ? [i.name, r.name] : [])].find((v): v is string => typeof v === "string");
  if (teamName) {
    const team = await db.team.findUnique({ where: { name: teamName } });
    if (team) return { team: { id: team.id, name: team.name }, app: typeof i.app === "string" ? i.app : null };
  }
  return { team: null, app: typeof i.app === "string" ? i.app : null };
}
