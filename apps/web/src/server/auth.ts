/**
 * Who is calling: resolves a bearer/basic/session token to a principal.
 * Every entry point (tRPC, git endpoint, metrics) authenticates here.
 */
import { db } from "@paas/db";
import { hashToken } from "@paas/shared";

export interface Principal {
  userId: string;
  email: string;
  isOperator: boolean;
  /** When the token is restricted to one team. */
  tokenTeamId: string | null;
  tokenId: string;
}

export async function authenticateToken(token: string | null | undefined): Promise<Principal | null> {
  if (!token) return null;
  const row = await db.apiToken.findUnique({ where: { hash: hashToken(token) }, include: { user: true } });
  if (!row) return null;
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
    tokenId: row.id,
  };
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

export const SESSION_COOKIE = "paas_session";
