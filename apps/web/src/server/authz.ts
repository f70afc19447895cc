/**
 * What a principal may do: the one place for authorization rules.
 * Every tRPC procedure and HTTP endpoint calls these; tests cover each rule.
 *
 * Rules:
 * - operators may do everything;
 * - a team member may read and deploy the team's apps, and create apps;
 * - a team admin may also delete apps, manage members, tokens and quotas;
 * - a token restricted to a team acts only on that team;
 * - someone outside the team gets "not found" (we do not reveal that an app exists).
 */
import { db } from "@paas/db";
import type { Principal } from "./auth.ts";

export type AppAction = "read" | "deploy" | "configure" | "delete";
export type TeamAction = "read" | "create-app" | "manage";

export class AuthzError extends Error {
  constructor(
    message: string,
    readonly code: "UNAUTHORIZED" | "FORBIDDEN" | "NOT_FOUND",
  ) {
    super(message);
    this.name = "AuthzError";
  }
}

const NEEDS_ADMIN: ReadonlySet<AppAction | TeamAction> = new Set(["delete", "manage"]);

async function roleIn(p: Principal, teamId: string): Promise<"admin" | "member" | null> {
  if (p.tokenTeamId && p.tokenTeamId !== teamId) return null;
  const m = await db.membership.findUnique({ where: { teamId_userId: { teamId, userId: p.userId } } });
  return (m?.role as "admin" | "member" | undefined) ?? null;
}

/** Returns the app when `p` may do `action` on it; throws AuthzError otherwise. */
export async function authorizeApp(p: Principal | null, appName: string, action: AppAction) {
  if (!p) throw new AuthzError("authentication required: pass an API token", "UNAUTHORIZED");
  const app = await db.app.findUnique({ where: { name: appName }, include: { team: true } });
  const notFound = new AuthzError(`app "${appName}" not found (or you have no access to it)`, "NOT_FOUND");
  if (!app) throw notFound;
  if (p.isOperator && !p.tokenTeamId) return app;
  const role = await roleIn(p, app.teamId);
  if (!role) throw notFound;
  if (NEEDS_ADMIN.has(action) && role !== "admin") {
    throw new AuthzError(`only admins of team "${app.team.name}" may ${action} apps`, "FORBIDDEN");
  }
  return app;
}

/** Returns the team when `p` may do `action` in it; throws AuthzError otherwise. */
export async function authorizeTeam(p: Principal | null, teamName: string, action: TeamAction) {
  if (!p) throw new AuthzError("authentication required: pass an API token", "UNAUTHORIZED");
  const team = await db.team.findUnique({ where: { name: teamName } });
  const notFound = new AuthzError(`team "${teamName}" not found (or you are not a member)`, "NOT_FOUND");
  if (!team) throw notFound;
  if (p.isOperator && !p.tokenTeamId) return team;
  const role = await roleIn(p, team.id);
  if (!role) throw notFound;
  if (NEEDS_ADMIN.has(action) && role !== "admin") {
    throw new AuthzError(`only admins of team "${team.name}" may do that`, "FORBIDDEN");
  }
  return team;
}

/** The teams `p` belongs to (restricted to the token's team when it has one). */
export async function visibleTeamIds(p: Principal): Promise<string[]> {
  const ms = await db.membership.findMany({ where: { userId: p.userId } });
  return ms.map((m) => m.teamId).filter((id) => !p.tokenTeamId || id === p.tokenTeamId);
}

/**
 * A build the principal may read, or null: a build that does not exist and one it may not
 * see look the same, so nobody learns that another team's build exists.
 */
export async function readableBuild(principal: Principal, buildId: string) {
  const build = await db.build.findUnique({ where: { id: buildId }, include: { app: true } });
  if (!build) return null;
  try {
    await authorizeApp(principal, build.app.name, "read");
    return build;
  } catch (err) {
    if (err instanceof AuthzError) return null;
    throw err;
  }
}
