/**
 * Teams and their people: the teams the caller belongs to, creating teams (operators),
 * members and roles, invitations (links with an expiry), and moving an app to another team
 * (operators). Every rule is in authz.ts; the last admin of a team stays an admin.
 */
import { TRPCError } from "@trpc/server";
import { z } from "zod";
import { db } from "@paas/db";
import { appName } from "@paas/shared";
import { authorizeApp, authorizeOperator, authorizeTeam, visibleTeamIds } from "../authz.ts";
import { moveApps, quotaOf } from "@paas/db/quotas";
import { runDeploy } from "../deploys.ts";
import { createTRPCRouter, protectedProcedure } from "../trpc.ts";
import { roleSchema } from "../people/roles.ts";
import { createInvitation, hasPassword, INVITE_TTL_HOURS } from "../people/invitations.ts";

export const teamName = z
  .string()
  .trim()
  .min(1, "a team name is required")
  .max(40, "team names have at most 40 characters")
  .regex(/^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/, "team names are lowercase letters, digits and dashes (not at either end)");
// Loose on purpose: the operator is admin@paas.localhost.
const email = z.string().trim().toLowerCase().max(254).regex(/^[^@\s]+@[^@\s]+$/, "not an email address");

const teamInput = z.object({ team: teamName });
const memberInput = z.object({ team: teamName, email });

/** Refuses a change that would leave the team without an admin. */
async function keepAnAdmin(teamId: string, teamNameForMessage: string, userId: string, what: string) {
  const admins = await db.membership.findMany({ where: { teamId, role: "admin" } });
  if (admins.length === 1 && admins[0].userId === userId) {
    throw new TRPCError({
      code: "CONFLICT",
      message: `cannot ${what}: they are the last admin of team "${teamNameForMessage}"; make another member an admin first (paas members:role EMAIL admin -t ${teamNameForMessage})`,
    });
  }
}

async function membershipOf(teamId: string, teamLabel: string, addr: string) {
  const m = await db.membership.findFirst({ where: { teamId, user: { email: addr } }, include: { user: true } });
  if (!m) throw new TRPCError({ code: "NOT_FOUND", message: `${addr} is not a member of team "${teamLabel}" (see paas members -t ${teamLabel})` });
  return m;
}

export const teamsRouter = createTRPCRouter({
  list: protectedProcedure.query(async ({ ctx }) => {
    const ids = await visibleTeamIds(ctx.principal);
    const teams = await db.team.findMany({
      where: { id: { in: ids } },
      orderBy: { name: "asc" },
      include: {
        quota: true,
        memberships: { where: { userId: ctx.principal.userId } },
        _count: { select: { apps: true, memberships: true } },
      },
    });
    return Promise.all(
      teams.map(async (t) => ({
        name: t.name,
        role: t.memberships[0]?.role ?? null,
        apps: t._count.apps,
        members: t._count.memberships,
        quota: { apps: (t.quota ?? (await quotaOf(db, t.id))).apps },
        createdAt: t.createdAt,
      })),
    );
  }),

  create: protectedProcedure.input(teamInput).mutation(async ({ ctx, input }) => {
    authorizeOperator(ctx.principal, "create teams");
    if (await db.team.findUnique({ where: { name: input.team } })) {
      throw new TRPCError({ code: "CONFLICT", message: `team "${input.team}" exists already: pick another name` });
    }
    const team = await db.team.create({ data: { name: input.team } });
    await quotaOf(db, team.id);
    // The operator who creates it is its first admin, so someone can invite people.
    await db.membership.create({ data: { teamId: team.id, userId: ctx.principal.userId, role: "admin" } });
    return { name: team.name, createdAt: team.createdAt };
  }),

  members: protectedProcedure.input(teamInput).query(async ({ ctx, input }) => {
    const team = await authorizeTeam(ctx.principal, input.team, "read");
    const ms = await db.membership.findMany({ where: { teamId: team.id }, include: { user: true }, orderBy: { createdAt: "asc" } });
    return ms.map((m) => ({ email: m.user.email, name: m.user.name, role: m.role, since: m.createdAt }));
  }),

  /** Adds a person: an invitation link for someone without a password yet, else the membership at once. */
  addMember: protectedProcedure
    .input(memberInput.extend({ role: roleSchema.default("member"), expiresInHours: z.number().int().min(1).max(24 * 90).default(INVITE_TTL_HOURS) }))
    .mutation(async ({ ctx, input }) => {
      const team = await authorizeTeam(ctx.principal, input.team, "manage");
      const user = await db.user.findUnique({ where: { email: input.email } });
      if (user && (await db.membership.findUnique({ where: { teamId_userId: { teamId: team.id, userId: user.id } } }))) {
        throw new TRPCError({ code: "CONFLICT", message: `${input.email} is a member of team "${team.name}" already: change the role with paas members:role` });
      }
      if (user && (await hasPassword(user.id))) {
        await db.membership.create({ data: { teamId: team.id, userId: user.id, role: input.role } });
        return { added: true as const, email: input.email, role: input.role, invitation: null };
      }
      const invitation = await createInvitation({ teamId: team.id, email: input.email, role: input.role, invitedById: ctx.principal.userId, hours: input.expiresInHours });
      return { added: false as const, email: input.email, role: input.role, invitation };
    }),

  removeMember: protectedProcedure.input(memberInput).mutation(async ({ ctx, input }) => {
    // Anyone may leave a team; removing someone else takes an admin.
    const self = input.email === ctx.principal.email.toLowerCase();
    const team = await authorizeTeam(ctx.principal, input.team, self ? "read" : "manage");
    const m = await membershipOf(team.id, team.name, input.email);
    await keepAnAdmin(team.id, team.name, m.userId, `remove ${input.email}`);
    await db.$transaction([
      db.membership.delete({ where: { id: m.id } }),
      // Their tokens restricted to this team would act nowhere now: revoke them.
      db.apiToken.updateMany({ where: { userId: m.userId, teamId: team.id, revokedAt: null }, data: { revokedAt: new Date() } }),
    ]);
    return { email: input.email, team: team.name };
  }),

  setRole: protectedProcedure.input(memberInput.extend({ role: roleSchema })).mutation(async ({ ctx, input }) => {
    const team = await authorizeTeam(ctx.principal, input.team, "manage");
    const m = await membershipOf(team.id, team.name, input.email);
    if (m.role === "admin" && input.role !== "admin") await keepAnAdmin(team.id, team.name, m.userId, `make ${input.email} a ${input.role}`);
    await db.membership.update({ where: { id: m.id }, data: { role: input.role } });
    return { email: input.email, team: team.name, role: input.role };
  }),

  invitations: protectedProcedure.input(teamInput).query(async ({ ctx, input }) => {
    const team = await authorizeTeam(ctx.principal, input.team, "manage");
    const rows = await db.invitation.findMany({ where: { teamId: team.id, acceptedAt: null }, orderBy: { createdAt: "desc" } });
    return rows.map((i) => ({ id: i.id, email: i.email, role: i.role, expiresAt: i.expiresAt, expired: i.expiresAt.getTime() < Date.now(), createdAt: i.createdAt }));
  }),

  withdrawInvitation: protectedProcedure.input(z.object({ team: teamName, id: z.string().min(1).max(64) })).mutation(async ({ ctx, input }) => {
    const team = await authorizeTeam(ctx.principal, input.team, "manage");
    const gone = await db.invitation.deleteMany({ where: { id: input.id, teamId: team.id, acceptedAt: null } });
    if (gone.count === 0) throw new TRPCError({ code: "NOT_FOUND", message: `no pending invitation ${input.id} in team "${team.name}"` });
    return { id: input.id };
  }),

  /** Moves an app to another team (operators): its builds, releases and settings go with it. */
  moveApp: protectedProcedure.input(z.object({ app: appName, team: teamName })).mutation(async ({ ctx, input }) => {
    authorizeOperator(ctx.principal, "move apps between teams");
    const app = await authorizeApp(ctx.principal, input.app, "read");
    const team = await authorizeTeam(ctx.principal, input.team, "read");
    if (app.teamId === team.id) throw new TRPCError({ code: "CONFLICT", message: `${app.name} is in team "${team.name}" already` });
    // With its preview apps, refused (a QuotaError) when the team's quotas would not hold.
    await moveApps(db, app, team);
    // Replicas run in their team's cgroup (`<team>/<app>`, under its kernel caps): replaced one
    // by one as ps:restart does, they come up in the new team's and stop counting to the old one.
    const moved = await db.app.findMany({ where: { OR: [{ id: app.id }, { previewOfId: app.id }], containers: { some: { stoppedAt: null } } }, select: { id: true, name: true } });
    const notRestarted: { app: string; error: string }[] = [];
    for (const m of moved) {
      const r = await runDeploy({ kind: "formation", appId: m.id, change: { restart: [] } });
      if (!r.ok) notRestarted.push({ app: m.name, error: r.error ?? "the restart failed" });
    }
    return { app: app.name, from: app.team.name, to: team.name, restarted: moved.length - notRestarted.length, notRestarted };
  }),
});
