/** Signing in to the dashboard: an API token is exchanged for a session cookie. */
import { TRPCError } from "@trpc/server";
import { z } from "zod";
import { db } from "@paas/db";
import { generateToken, hashToken } from "@paas/shared";
import { authenticateToken, TOKEN_SESSION_COOKIE } from "../auth.ts";
import { createTRPCRouter, protectedProcedure, publicProcedure } from "../trpc.ts";

export const SESSION_TTL_SECONDS = 7 * 24 * 3600;

function sessionCookie(value: string, maxAge: number): string {
  // No Secure flag: the platform is served over plain HTTP on localhost by default.
  return `${TOKEN_SESSION_COOKIE}=${encodeURIComponent(value)}; Path=/; HttpOnly; SameSite=Lax; Max-Age=${maxAge}`;
}

export const authRouter = createTRPCRouter({
  signIn: publicProcedure
    .input(z.object({ token: z.string().trim().min(1, "paste an API token").max(200) }))
    .mutation(async ({ ctx, input }) => {
      const principal = await authenticateToken(input.token);
      const row = principal ? await db.apiToken.findUnique({ where: { hash: hashToken(input.token) } }) : null;
      // Only API tokens sign in; a session cannot extend itself.
      if (!principal || !row || row.kind !== "api") {
        throw new TRPCError({
          code: "UNAUTHORIZED",
          message: "that token is not valid: check it (the bootstrap admin token is in $PAAS_DATA_DIR/admin-token; `paas tokens:create` makes others)",
        });
      }
      const session = generateToken();
      await db.apiToken.create({
        data: {
          userId: principal.userId,
          teamId: principal.tokenTeamId,
          // The session keeps the pasted token's limits.
          role: principal.tokenRole,
          name: "dashboard session",
          hash: session.hash,
          prefix: session.prefix,
          kind: "session",
          expiresAt: new Date(Date.now() + SESSION_TTL_SECONDS * 1000),
        },
      });
      ctx.resHeaders?.append("Set-Cookie", sessionCookie(session.token, SESSION_TTL_SECONDS));
      return { email: principal.email };
    }),

  signOut: publicProcedure.mutation(async ({ ctx }) => {
    if (ctx.sessionToken) {
      await db.apiToken.deleteMany({ where: { hash: hashToken(ctx.sessionToken), kind: "session" } });
    }
    ctx.resHeaders?.append("Set-Cookie", sessionCookie("", 0));
    return { ok: true };
  }),

  whoami: protectedProcedure.query(async ({ ctx }) => {
    const user = await db.user.findUniqueOrThrow({
      where: { id: ctx.principal.userId },
      include: { memberships: { include: { team: true }, orderBy: { team: { name: "asc" } } } },
    });
    return {
      email: user.email,
      name: user.name,
      isOperator: user.isOperator,
      via: ctx.principal.via,
      teams: user.memberships
        .filter((m) => !ctx.principal.tokenTeamId || m.teamId === ctx.principal.tokenTeamId)
        .map((m) => ({ name: m.team.name, role: m.role })),
    };
  }),
});
