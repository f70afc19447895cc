/**
 * What a principal may do: the one place for authorization rules.
 * Every tRPC procedure, HTTP route (routes.ts) and git operation calls these;
 * tests/e2e/authz-walk.test.ts tries every one of them with identities that must be refused.
 *
 * Rules:
 * - platform operators may do everything (with a token restricted to a team: only there);
 * - in a team: a viewer reads; a member also deploys, scales, configures and creates apps;
 *   an admin also deletes apps and manages members, invitations and the team's tokens;
 * - a token restricted to a team acts only on that team, with at most its role, and never
 *   with more than its user's role there: min(token role, user's role);
 * - someone outside the team gets "not found" (we do not reveal that an app or team exists);
 * - only operators create teams, move apps between teams and set quotas.
 * - team admins read their team's audit log ("audit"); only operators set quotas ("set-quotas");
 * - the whole platform's figures (GET /metrics) are for operators (a token not restricted to a team).
 */
import { db } from "@paas/db";
import type { Principal } from "./auth.ts";
import { atLeast, weaker, type Role } from "./people/roles.ts";

export type AppAction = "read" | "deploy" | "configure" | "delete";
export type TeamAction = "read" | "create-app" | "create-token" | "manage" | "audit" | "set-quotas";

export class AuthzError extends Error {
  constructor(
    message: string,
    readonly code: "UNAUTHORIZED" | "FORBIDDEN" | "NOT_FOUND",
  ) {
    super(message);
    this.name = "AuthzError";
  }
}

/** The least role each action needs. */
const NEEDS: Record<AppAction | TeamAction, Role> = {
  read: "viewer",
  deploy: "member",
  configure: "member",
  "create-app": "member",
  // Viewers change nothing, tokens included: an admin or member makes a viewer token for scripts that read.
  "create-token": "member",
  delete: "admin",
  manage: "admin",
  audit: "admin",
  "set-quotas": "admin",
};

const unauthenticated = () => new AuthzError("authentication required: pass an API token or sign in", "UNAUTHORIZED");

/** The principal's effective role in a team, or null when it may not act there at all. */
export async function roleIn(p: Principal, teamId: string): Promise<Role | null> {
  if (p.tokenTeamId && p.tokenTeamId !== teamId) return null;
  let role: Role | null;
  if (p.isOperator) role = "admin";
  else {
    const m = await db.membership.findUnique({ where: { teamId_userId: { teamId, userId: p.userId } } });
    role = (m?.role as Role | undefined) ?? null;
  }
  if (role && p.tokenRole) role = weaker(role, p.tokenRole);
  return role;
}

/** An operator acting as such (not through a token restricted to one team). */
export function isPlatformOperator(p: Principal | null): boolean {
  return Boolean(p?.isOperator && !p.tokenTeamId && !p.tokenRole);
}

/** Throws unless `p` is a platform operator acting as such. */
export function authorizeOperator(p: Principal | null, what: string): Principal {
  if (!p) throw unauthenticated();
  if (!isPlatformOperator(p)) throw new AuthzError(`only platform operators may ${what}`, "FORBIDDEN");
  return p!;
}

const VERBS: Record<AppAction | TeamAction, string> = {
  read: "read",
  deploy: "deploy or scale apps",
  configure: "configure apps",
  "create-app": "create apps",
  "create-token": "create API tokens",
  delete: "delete apps",
  manage: "manage the team's members and tokens",
  audit: "read the audit log",
  "set-quotas": "set quotas",
};

function refuse(role: Role, action: AppAction | TeamAction, where: string): AuthzError {
  const who = NEEDS[action] === "admin" ? "admins" : "members and admins";
  return new AuthzError(`only ${who} of team "${where}" may ${VERBS[action]} (your role there: ${role}); ask a team admin`, "FORBIDDEN");
}

/** Returns the app when `p` may do `action` on it; throws AuthzError otherwise. */
export async function authorizeApp(p: Principal | null, appName: string, action: AppAction) {
  if (!p) throw unauthenticated();
  const app = await db.app.findUnique({ where: { name: appName }, include: { team: true } });
  const notFound = new AuthzError(`app "${appName}" not found (or you have no access to it)`, "NOT_FOUND");
  if (!app) throw notFound;
  const role = await roleIn(p, app.teamId);
  if (!role) throw notFound;
  if (!atLeast(role, NEEDS[action])) throw refuse(role, action, app.team.name);
  return app;
}

/**
 * What `p` may do on an app it can read, by the same rules as authorizeApp and moveApp: for
 * pages that offer only what the server will allow (a viewer gets no forms).
 */
export async function appAbilities(p: Principal, app: { teamId: string }) {
  const role = await roleIn(p, app.teamId);
  const may = (action: AppAction) => role !== null && atLeast(role, NEEDS[action]);
  return { role, deploy: may("deploy"), configure: may("configure"), delete: may("delete"), transfer: isPlatformOperator(p) };
}

/** Whether `p` may read the app: for messages that name an app only to those who may see it. */
export async function mayReadApp(p: Principal, appName: string): Promise<boolean> {
  try {
    await authorizeApp(p, appName, "read");
    return true;
  } catch (err) {
    if (err instanceof AuthzError) return false;
    throw err;
  }
}

/** Returns the team (and the principal's role in it) when `p` may do `action` in it; throws AuthzError otherwise. */
export async function authorizeTeam(p: Principal | null, teamName: string, action: TeamAction) {
  if (!p) throw unauthenticated();
  const team = await db.team.findUnique({ where: { name: teamName } });
  const notFound = new AuthzError(`team "${teamName}" not found (or you are not a member)`, "NOT_FOUND");
  if (!team) throw notFound;
  const role = await roleIn(p, team.id);
  if (!role) throw notFound;
  if (action === "set-quotas" && !isPlatformOperator(p)) {
    throw new AuthzError(`only the platform's operators may set quotas: ask one to run \`paas quotas:set ... --team ${team.name}\``, "FORBIDDEN");
  }
  if (!atLeast(role, NEEDS[action])) throw refuse(role, action, team.name);
  return Object.assign(team, { role });
}

/** The teams `p` belongs to (restricted to the token's team when it has one). Operators reach others by name. */
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

/**
 * An API token `p` may revoke: its own, or (team admins) one restricted to a team it
 * administers; operators any. Others' tokens look the same as missing ones.
 */
export async function authorizeTokenRevoke(p: Principal | null, tokenId: string) {
  if (!p) throw unauthenticated();
  const row = await db.apiToken.findUnique({ where: { id: tokenId } });
  const notFound = new AuthzError(`token ${tokenId} not found (see \`paas tokens\`)`, "NOT_FOUND");
  if (!row || row.kind !== "api") throw notFound;
  if (isPlatformOperator(p)) return row;
  // A restricted token acts inside its team only: it may revoke itself or that team's tokens.
  if (row.userId === p.userId && (!p.tokenTeamId || row.teamId === p.tokenTeamId)) return row;
  if (row.teamId && (await roleIn(p, row.teamId)) === "admin") return row;
  throw notFound;
}
