/** Opening and accepting an invitation link: public (the link's secret is the credential). */
import { TRPCError } from "@trpc/server";
import { z } from "zod";
import { AuthzError } from "../authz.ts";
import { createTRPCRouter, publicProcedure } from "../trpc.ts";
import { acceptInvitation, InvitationError, openInvitation } from "../people/invitations.ts";

const secret = z.string().trim().min(10, "not an invitation link").max(200);

async function mapped<T>(p: Promise<T>): Promise<T> {
  try {
    return await p;
  } catch (err) {
    // A link that does not open is a refused credential (the audit log's "denied"); the rest is bad input.
    if (err instanceof InvitationError) throw err.code === "NOT_FOUND" ? new AuthzError(err.message, "NOT_FOUND") : new TRPCError({ code: err.code, message: err.message });
    throw err;
  }
}

export const invitationsRouter = createTRPCRouter({
  get: publicProcedure.input(z.object({ token: secret })).query(async ({ input }) => {
    const inv = await mapped(openInvitation(input.token));
    return { email: inv.email, team: inv.team.name, role: inv.role, expiresAt: inv.expiresAt };
  }),

  accept: publicProcedure
    .input(
      z.object({
        token: secret,
        password: z.string().min(8, "the password needs at least 8 characters").max(128, "the password has at most 128 characters"),
        name: z.string().trim().max(80).optional(),
      }),
    )
    .mutation(async ({ input }) => mapped(acceptInvitation(input.token, input.password, input.name))),
});
