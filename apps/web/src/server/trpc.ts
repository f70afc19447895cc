/**
 * tRPC setup (create-t3-app style): the context (who is calling), the
 * procedure builders, and how our domain errors become tRPC errors.
 */
import { initTRPC, TRPCError } from "@trpc/server";
import superjson from "superjson";
import { ZodError } from "zod";
import { authenticateRequest, type Principal } from "./auth.ts";
import { AuthzError } from "./authz.ts";
import { QuotaError } from "@paas/db/quotas";
import { auditable, auditSubject, clientAddress, outcomeOf, recordAudit } from "./audit/record.ts";

export interface Context {
  principal: Principal | null;
  /** The token-paste session's token (cookie paas_session), when that is how the caller authenticated. */
  sessionToken: string | null;
  /** Response headers (Set-Cookie); absent for server-side callers. */
  resHeaders: Headers | null;
  /** A token was presented but not accepted (for a precise error). */
  rejectedToken: boolean;
  /** The caller's address, for the audit log. */
  address: string | null;
}

export async function createContext(opts: { headers: Headers; resHeaders?: Headers | null }): Promise<Context> {
  const { principal, presented, tokenSession } = await authenticateRequest(opts.headers);
  return {
    principal,
    sessionToken: tokenSession,
    resHeaders: opts.resHeaders ?? null,
    rejectedToken: !principal && presented,
    address: clientAddress(opts.headers),
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

/** Mutations that change nothing of a team or an app: the caller's own session. */
const NOT_AUDITED = new Set(["auth.signOut"]);

/**
 * Every mutation goes in the audit log (audit/record.ts) with its outcome, its input without
 * secrets: done ("ok"), refused by authorization or a quota ("denied: ..."), or tried and not
 * done ("failed: ..."). The one place refusals and failures are written: procedures only throw.
 */
const audit = t.middleware(async ({ ctx, type, path, getRawInput, next }) => {
  if (type !== "mutation" || NOT_AUDITED.has(path)) return next();
  const input = await getRawInput().catch(() => undefined);
  // Before the change (a destroyed app is gone after it) and, for what it creates, after.
  // A caller with no identity costs no lookup: only its changes that happened are written.
  const before = auditable(ctx.principal) ? await auditSubject(path, input, undefined) : null;
  const res = await next();
  if (!res.ok && !before) return res;
  const subject = before?.app ? before : await auditSubject(path, input, res.ok ? res.data : undefined);
  await recordAudit({ principal: ctx.principal, address: ctx.address, action: path, ...subject, details: input, outcome: res.ok ? "ok" : outcomeOf(res.error) });
  return res;
});

export const createCallerFactory = t.createCallerFactory;
export const createTRPCRouter = t.router;

export const publicProcedure = t.procedure.use(mapErrors).use(audit);

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
