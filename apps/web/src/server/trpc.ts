/**
 * tRPC setup (create-t3-app style): the context (who is calling), the
 * procedure builders, and how our domain errors become tRPC errors.
 */
import { initTRPC, TRPCError } from "@trpc/server";
import superjson from "superjson";
import { ZodError } from "zod";
import { authenticateToken, SESSION_COOKIE, tokenFromAuthorization, type Principal } from "./auth.ts";
import { AuthzError } from "./authz.ts";
import { QuotaError } from "@paas/db/quotas";

export interface Context {
  principal: Principal | null;
  /** The session token from the cookie, when that is how the caller authenticated. */
  sessionToken: string | null;
  /** Response headers (Set-Cookie); absent for server-side callers. */
  resHeaders: Headers | null;
  /** A token was presented but not accepted (for a precise error). */
  rejectedToken: boolean;
}

export function readCookie(cookieHeader: string | null | undefined, name: string): string | null {
  if (!cookieHeader) return null;
  for (const part of cookieHeader.split(";")) {
    const i = part.indexOf("=");
    if (i < 0) continue;
    if (part.slice(0, i).trim() === name) return decodeURIComponent(part.slice(i + 1).trim());
  }
  return null;
}

/** A request's token: the Authorization header wins over the session cookie (scripts and the CLI send the header). */
export function requestTokens(headers: Headers): { headerToken: string | null; sessionToken: string | null } {
  const headerToken = tokenFromAuthorization(headers.get("authorization"));
  return { headerToken, sessionToken: headerToken ? null : readCookie(headers.get("cookie"), SESSION_COOKIE) };
}

export async function createContext(opts: { headers: Headers; resHeaders?: Headers | null }): Promise<Context> {
  const { headerToken, sessionToken } = requestTokens(opts.headers);
  const principal = await authenticateToken(headerToken ?? sessionToken);
  return {
    principal,
    sessionToken: principal ? sessionToken : null,
    resHeaders: opts.resHeaders ?? null,
    rejectedToken: !principal && Boolean(headerToken ?? sessionToken),
  };
}

const t = initTRPC.context<Context>().create({
  transformer: superjson,
  errorFormatter({ shape, error }) {
    const zod = error.cause instanceof ZodError ? error.cause : null;
    // Stack traces stay in the server log.
    const { stack: _stack, ...data } = shape.data;
    return {
      ...shape,
      // One readable line for clients (the CLI prints it as is).
      message: zod ? zod.issues.map((i) => (i.path.length ? `${i.path.join(".")}: ` : "") + i.message).join("; ") : shape.message,
      data,
    };
  },
});

/** Domain errors thrown by authz/quotas become the matching tRPC codes. */
const mapErrors = t.middleware(async ({ next }) => {
  const res = await next();
  if (!res.ok) {
    const cause = res.error.cause;
    if (cause instanceof AuthzError) throw new TRPCError({ code: cause.code, message: cause.message, cause });
    if (cause instanceof QuotaError) throw new TRPCError({ code: "FORBIDDEN", message: cause.message, cause });
  }
  return res;
});

export const createCallerFactory = t.createCallerFactory;
export const createTRPCRouter = t.router;

export const publicProcedure = t.procedure.use(mapErrors);

export const protectedProcedure = publicProcedure.use(({ ctx, next }) => {
  if (!ctx.principal) {
    throw new TRPCError({
      code: "UNAUTHORIZED",
      message: ctx.rejectedToken
        ? "the token was not accepted (unknown, revoked or expired): sign in again or use a valid API token"
        : "not signed in: send an API token (Authorization: Bearer <token>), sign in on the dashboard, or run `paas login`",
    });
  }
  return next({ ctx: { ...ctx, principal: ctx.principal } });
});
