/**
 * The agent's bearer token (PAAS_AGENT_TOKEN): when one is set, every HTTP request must carry
 * `Authorization: Bearer <token>`. Both sides are hashed before a constant-time compare, so
 * neither the time taken nor a length check tells a caller how much of a guess was right.
 */
import { createHash, timingSafeEqual } from "node:crypto";

const digest = (s: string) => createHash("sha256").update(s).digest();

/** A check of a request's Authorization header; with no token, everything passes (loopback only). */
export function bearerCheck(token: string | undefined): (authorization: string | undefined) => boolean {
  if (!token) return () => true;
  const want = digest(token);
  return (authorization) => {
    const m = /^Bearer +(\S+)\s*$/i.exec(authorization ?? "");
    // Hash and compare even when the header is malformed: a refusal takes as long either way.
    const same = timingSafeEqual(digest(m?.[1] ?? ""), want);
    return !!m && same;
  };
}
