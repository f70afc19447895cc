import type { Metadata } from "next";
import { TRPCError } from "@trpc/server";
import { AcceptInvite } from "@/components/people/accept-invite.tsx";
import { serverCaller } from "@/server/caller.ts";

export const metadata: Metadata = { title: "Join a team" };

export default async function InvitePage({ params }: { params: Promise<{ token: string }> }) {
  const { token } = await params;
  const api = await serverCaller();
  let inv: { email: string; team: string; role: string } | null = null;
  let problem: string | null = null;
  try {
    inv = await api.invitations.get({ token });
  } catch (err) {
    problem = err instanceof TRPCError ? err.message : "this invitation cannot be read now: try again";
  }
  return (
    <div className="flex min-h-screen items-center justify-center bg-gradient-to-b from-slate-900 to-slate-800 px-4">
      <div className="w-full max-w-md rounded-2xl bg-white p-8 shadow-xl">
        {inv ? (
          <>
            <h1 className="text-lg font-semibold text-slate-900">Join team {inv.team}</h1>
            <p className="mt-1 text-sm text-slate-500">
              <span data-testid="invite-email">{inv.email}</span> is invited as {inv.role}. Set a password to accept.
            </p>
            <AcceptInvite token={token} email={inv.email} />
          </>
        ) : (
          <p role="alert" className="text-sm text-rose-700">
            {problem}
          </p>
        )}
      </div>
    </div>
  );
}
