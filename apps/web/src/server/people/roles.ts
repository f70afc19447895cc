/** Team roles, weakest first: a viewer reads; a member also deploys, scales and configures; an admin also manages the team. */
import { z } from "zod";

export const ROLES = ["viewer", "member", "admin"] as const;
export type Role = (typeof ROLES)[number];
export const roleSchema = z.enum(ROLES, { error: "role must be one of admin, member, viewer" });
/** What a token may be limited to (an admin's powers are not given to tokens). */
export const tokenRoleSchema = z.enum(["member", "viewer"], { error: "a token's role must be member or viewer" });

export const rank = (r: Role): number => ROLES.indexOf(r);
export const weaker = (a: Role, b: Role): Role => (rank(a) <= rank(b) ? a : b);
export const atLeast = (r: Role, min: Role): boolean => rank(r) >= rank(min);
