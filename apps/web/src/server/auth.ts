/**
 * Who is calling: resolves a bearer/basic API token, or a dashboard session cookie
 * (Better Auth, people/better-auth.ts), to a principal.
 * Every entry point (tRPC, git endpoint, SSE, metrics) authenticates here.
 */
import { db } from "@paas/db";
import { hashToken } from "@paas/shared";
import { auth } from "./people/better-auth.ts";
import type { Role } from "./people/roles.ts";

export interface Principal {
  userId: string;
  email: string;
  isOperator: boolean;
  /** When the token is restricted to one team. */
  tokenTeamId: string | null;
  /** The most the token may do in its team ("member" | "viewer"); null: its user's role. */
  tokenRole: Role | null;
  /** The API token's id; null for a dashboard session. */
  tokenId: string | null;
  via: "token" | "session";
}

export async function authenticateToken(token: string | null | undefined): Promise<Principal | null> {
  if (!token) return null;
  const row = await db.apiToken.findUnique({ where: { hash: hashToken(token) }, include: { user: true } });
  if (!row || row.revokedAt) return null;
  if (row.expiresAt && row.expiresAt.getTime() < Date.now()) return null;
  // A write per request would put the database on every API call's path: touch at most once a minute.
  // Best effort; a failed touch must not fail the request.
  if (!row.lastUsedAt || Date.now() - row.lastUsedAt.getTime() > 60_000) {
    db.apiToken.update({ where: { id: row.id }, data: { lastUsedAt: new Date() } }).catch(() => {});
  }
  return {
    userId: row.userId,
    email: row.user.email,
    isOperator: row.user.isOperator,
    tokenTeamId: row.teamId,
    tokenRole: (row.role as Role | null) ?? null,
    tokenId: row.id,
    via: "token",
  };
}

/** The signed-in person of a dashboard session cookie (Better Auth checks its signature and expiry). */
export async function authenticateSession(headers: Headers): Promise<Principal | null> {
  if (!headers.get("cookie")?.includes(SESSION_COOKIE)) return null;
  const s = await auth().api.getSession({ headers, query: { disableCookieCache: true } }).catch(() => null);
  if (!s) return null;
  const user = await db.user.findUnique({ where: { id: s.user.id } });
  if (!user) return null;
  return { userId: user.id, email: user.email, isOperator: user.isOperator, tokenTeamId: null, tokenRole: null, tokenId: null, via: "session" };
}

/** Token from `Authorization: Bearer T` or `Authorization: Basic base64(any:T)` (git). */
export function tokenFromAuthorization(header: string | null | undefined): string | null {
  if (!header) return null;
  const [scheme, value] = header.split(" ", 2);
  if (!value) return null;
  if (scheme.toLowerCase() === "bearer") return value.trim();
  if (scheme.toLowerCase() === "basic") {
    const decoded = Buffer.from(value, "base64").toString("utf8");
    const i = decoded.indexOf(":");
    return i >= 0 ? decoded.slice(i + 1) : null;
  }
  return null;
}

/** Better Auth's session cookie (email and password sign-in; prefix "paas"). */
export const SESSION_COOKIE = "paas.session_token";
/** The session made by signing in with a pasted API token: an ApiToken of kind "session" with the token's restrictions. */
export const TOKEN_SESSION_COOKIE = "paas_session";

export function readCookie(cookieHeader: string | null | undefined, name: string): string | null {
  if (!cookieHeader) return null;
  for (const part of cookieHeader.split(";")) {
    const i = part.indexOf("=");
    if (i < 0) continue;
    if (part.slice(0, i).trim() === name) return decodeURIComponent(part.slice(i + 1).trim());
  }
  return null;
}

/**
 * The caller of a request: the Authorization header wins (scripts, the CLI, git); else the
 * dashboard's session cookie. `presented` says whether any credential came, for precise errors.
 */
export async function authenticateRequest(
  headers: Headers,
): Promise<{ principal: Principal | null; presented: boolean; via: "token" | "session" | null; tokenSession: string | null }> {
  const headerToken = tokenFromAuthorization(headers.get("authorization"));
  if (headerToken) return { principal: await authenticateToken(headerToken), presented: true, via: "token", tokenSession: null };
  const tokenSession = readCookie(headers.get("cookie"), TOKEN_SESSION_COOKIE);
  if (tokenSession) {
    const p = await authenticateToken(tokenSession);
    if (p) return { principal: { ...p, via: "session" }, presented: true, via: "session", tokenSession };
  }
  const hasCookie = Boolean(headers.get("cookie")?.includes(SESSION_COOKIE));
  if (!hasCookie) return { principal: null, presented: Boolean(tokenSession), via: tokenSession ? "session" : null, tokenSession: null };
  return { principal: await authenticateSession(headers), presented: true, via: "session", tokenSession: null };
}
