/**
 * One-time push tokens: the git endpoint mints one per receive-pack request and
 * hands it to the pre-receive hook (PAAS_PUSH_TOKEN); the hook presents it to
 * the internal API to create the push's build and to follow its log. It stands
 * for "this user, already authorized to deploy this app, is pushing now", so
 * the hook never sees the user's own API token.
 *
 * Redis hash `paas:push:<sha256(token)>` = { appId, app, userId, decision?, buildId? },
 * with a TTL as a backstop; the endpoint deletes it when the push ends.
 */
import { randomBytes } from "node:crypto";
import { hashToken } from "@paas/shared";
import { redis } from "../redis.ts";
import type { PushDecision } from "./branch-policy.ts";

export interface PushGrant {
  appId: string;
  app: string;
  userId: string;
  /** The API token the pusher used and where the push came from, for the audit log. */
  tokenId?: string;
  address?: string;
  /** What the branch policy decided for this push's ref updates (branch-policy.ts), once it has. */
  decision?: PushDecision;
  /** The build this push created, once it has. */
  buildId?: string;
}

/** Longer than any push should take: a slow build plus a slow upload. */
export const PUSH_TOKEN_TTL_S = 2 * 3600;
const CLAIMING = "claiming";

const key = (token: string) => `paas:push:${hashToken(token)}`;

export async function createPushToken(grant: Omit<PushGrant, "buildId" | "decision">): Promise<string> {
  const token = `push_${randomBytes(24).toString("base64url")}`;
  await redis().multi().hset(key(token), grant).expire(key(token), PUSH_TOKEN_TTL_S).exec();
  return token;
}

export async function readPushToken(token: string | null | undefined): Promise<PushGrant | null> {
  if (!token) return null;
  const h = await redis().hgetall(key(token));
  if (!h.appId || !h.userId || !h.app) return null;
  const buildId = h.buildId && h.buildId !== CLAIMING ? h.buildId : undefined;
  const decision = h.decision ? (JSON.parse(h.decision) as PushDecision) : undefined;
  return { appId: h.appId, app: h.app, userId: h.userId, buildId, decision, tokenId: h.tokenId || undefined, address: h.address || undefined };
}

/**
 * Keeps the push's decision; a push is decided once (false: it was already,
 * and the first decision stands).
 */
export async function recordDecision(token: string, decision: PushDecision): Promise<boolean> {
  return (await redis().hsetnx(key(token), "decision", JSON.stringify(decision))) === 1;
}

/**
 * Claims the token for creating a build: true for the first caller only, so a
 * token creates at most one build (a retried or replayed request gets false).
 */
export async function claimPushToken(token: string): Promise<boolean> {
  return (await redis().hsetnx(key(token), "buildId", CLAIMING)) === 1;
}

/** Records the build the token created; the token may then read that build's log. */
export async function bindPushToken(token: string, buildId: string): Promise<void> {
  await redis().hset(key(token), "buildId", buildId);
}

export async function revokePushToken(token: string): Promise<void> {
  await redis().del(key(token));
}

/** Revokes the push tokens of these apps (destroyed: a push under way cannot build any more). */
export async function revokePushTokensOf(appIds: string[]): Promise<void> {
  const ids = new Set(appIds);
  for await (const keys of redis().scanStream({ match: "paas:push:*", count: 500 })) {
    for (const k of keys as string[]) if (ids.has((await redis().hget(k, "appId")) ?? "")) await redis().del(k);
  }
}
