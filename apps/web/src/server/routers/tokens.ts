/**
 * API tokens for the CLI and git: shown once, stored hashed, restricted to one team, with a
 * role that never exceeds the creator's in that team (authz.ts roleIn takes the weaker).
 */
import { TRPCError } from "@trpc/server";
import { z } from "zod";
import { db } from "@paas/db";
import { generateToken } from "@paas/shared";
import { authorizeTeam, authorizeTokenRevoke, isPlatformOperator } from "../authz.ts";
import { createTRPCRouter, protectedProcedure } from "../trpc.ts";
import { atLeast, tokenRoleSchema } from "../people/roles.ts";
import { parseDuration } from "../people/durations.ts";
import { teamName } from "./teams.ts";

export const tokensRouter = createTRPCRouter({
  /** The caller's own tokens, and for team admins their teams' tokens (never the secrets). */
  list: protectedProcedure.query(async ({ ctx }) => {
    const p = ctx.principal;
    const adminOf = await db.membership.findMany({ where: { userId: p.userId, role: "admin" }, select: { teamId: true } });
    const teamIds = adminOf.map((m) => m.teamId).filter((id) => !p.tokenTeamId || id === p.tokenTeamId);
    const rows = await db.apiToken.findMany({
      where: {
        kind: "api",
        ...(isPlatformOperator(p) ? {} : { OR: [{ userId: p.userId, ...(p.tokenTeamId ? { teamId: p.tokenTeamId } : {}) }, ...(p.tokenRole ? [] : [{ teamId: { in: teamIds } }])] }),
      },
      include: { team: true, user: true },
      orderBy: { createdAt: "desc" },
    });
    return rows.map((t) => ({
      id: t.id,
      name: t.name,
      prefix: t.prefix,
      team: t.team?.name ?? null,
      role: t.role,
      owner: t.user.email,
      createdAt: t.createdAt,
      lastUsedAt: t.lastUsedAt,
      expiresAt: t.expiresAt,
      revokedAt: t.revokedAt,
      state: t.revokedAt ? "revoked" : t.expiresAt && t.expiresAt.getTime() < Date.now() ? "expired" : "active",
    }));
  }),

  create: protectedProcedure
    .input(
      z.object({
        team: teamName,
        name: z.string().trim().min(1).max(80).default("cli"),
        expires: z.string().trim().max(10).optional(),
        role: tokenRoleSchema.default("member"),
      }),
    )
    .mutation(async ({ ctx, input }) => {
      const team = await authorizeTeam(ctx.principal, input.team, "create-token");
      if (!atLeast(team.role, input.role)) {
        throw new TRPCError({ code: "FORBIDDEN", message: `your role in team "${team.name}" is ${team.role}: a token cannot have more (use --role viewer)` });
      }
      let expiresAt: Date | null = null;
      if (input.expires) {
        const ms = parseDuration(input.expires);
        if (!ms) throw new TRPCError({ code: "BAD_REQUEST", message: `--expires must be a duration like 30d, 12h or 1w, got "${input.expires}"` });
        expiresAt = new Date(Date.now() + ms);
      }
      const t = generateToken();
      const row = await db.apiToken.create({
        data: { userId: ctx.principal.userId, teamId: team.id, name: input.name, hash: t.hash, prefix: t.prefix, kind: "api", role: input.role, expiresAt },
      });
      return { id: row.id, token: t.token, team: team.name, role: input.role, name: row.name, expiresAt };
    }),

  revoke: protectedProcedure.input(z.object({ id: z.string().trim().min(1).max(64) })).mutation(async ({ ctx, input }) => {
    const row = await authorizeTokenRevoke(ctx.principal, input.id);
    if (!row.revokedAt) await db.apiToken.update({ where: { id: row.id }, data: { revokedAt: new Date() } });
    return { id: row.id, name: row.name };
  }),
});
