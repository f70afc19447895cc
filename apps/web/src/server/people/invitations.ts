/**
 * Invitations: a link with an expiry (its secret is stored hashed and shown once),
 * accepted by setting a password, which makes the person's password account (Better Auth's
 * hash) and their membership.
 */
import { hashPassword } from "better-auth/crypto";
import { db } from "@paas/db";
import { config, generateToken, hashToken } from "@paas/shared";
import type { Role } from "./roles.ts";

export const INVITE_TTL_HOURS = 7 * 24;

export class InvitationError extends Error {
  constructor(
    message: string,
    readonly code: "NOT_FOUND" | "BAD_REQUEST" | "CONFLICT",
  ) {
    super(message);
  }
}

/** The dashboard's address as people reach it (links in invitations). */
export function publicUrl(): string {
  return (process.env.PAAS_PUBLIC_URL || `http://localhost:${config().webPort}`).replace(/\/+$/, "");
}

export async function hasPassword(userId: string): Promise<boolean> {
  return (await db.account.count({ where: { userId, providerId: "credential", password: { not: null } } })) > 0;
}

export async function createInvitation(opts: { teamId: string; email: string; role: Role; invitedById: string | null; hours?: number }) {
  const t = generateToken();
  const expiresAt = new Date(Date.now() + (opts.hours ?? INVITE_TTL_HOURS) * 3600_000);
  const inv = await db.invitation.create({
    data: { teamId: opts.teamId, email: opts.email, role: opts.role, hash: t.hash, invitedById: opts.invitedById, expiresAt },
  });
  const path = `/invite/${t.token}`;
  return { id: inv.id, email: inv.email, role: inv.role, expiresAt, path, url: publicUrl() + path };
}

/** The invitation behind a link's secret, if it can still be accepted. */
export async function openInvitation(secret: string) {
  const inv = await db.invitation.findUnique({ where: { hash: hashToken(secret) }, include: { team: true } });
  if (!inv || inv.acceptedAt) throw new InvitationError("this invitation link is not valid (already used or withdrawn): ask a team admin for a new one", "NOT_FOUND");
  if (inv.expiresAt.getTime() < Date.now()) throw new InvitationError("this invitation has expired: ask a team admin for a new one", "NOT_FOUND");
  return inv;
}

/** Accepts: sets the password (a person who has one already keeps it) and joins the team. */
export async function acceptInvitation(secret: string, password: string, name?: string) {
  const inv = await openInvitation(secret);
  const user = await db.user.upsert({
    where: { email: inv.email },
    update: {},
    create: { email: inv.email, name: name || null },
  });
  if (await hasPassword(user.id)) {
    throw new InvitationError(`${inv.email} has a password already: sign in with it (a team admin adds existing accounts directly)`, "CONFLICT");
  }
  const hash = await hashPassword(password);
  await db.$transaction(async (tx) => {
    // One use: the update fails if another acceptance took it meanwhile.
    const taken = await tx.invitation.updateMany({ where: { id: inv.id, acceptedAt: null }, data: { acceptedAt: new Date() } });
    if (taken.count !== 1) throw new InvitationError("this invitation has just been used", "CONFLICT");
    await tx.account.create({ data: { userId: user.id, accountId: user.id, providerId: "credential", password: hash } });
    if (name) await tx.user.update({ where: { id: user.id }, data: { name } });
    const existing = await tx.membership.findUnique({ where: { teamId_userId: { teamId: inv.teamId, userId: user.id } } });
    if (!existing) await tx.membership.create({ data: { teamId: inv.teamId, userId: user.id, role: inv.role } });
  });
  return { email: inv.email, team: inv.team.name };
}
