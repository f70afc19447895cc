"use client";
/** Inviting people (the link is shown once) and the pending invitations. */
import { useRouter } from "next/navigation";
import { useState } from "react";
import { trpc } from "@/lib/trpc-client.ts";
import { buttonCls, ErrorLine, errorText, inputCls, smallButtonCls } from "./ui.tsx";

type Pending = { id: string; email: string; role: string; expiresAt: Date; expired: boolean };

export function Invitations({ team, pending }: { team: string; pending: Pending[] }) {
  const router = useRouter();
  const [email, setEmail] = useState("");
  const [role, setRole] = useState<"admin" | "member" | "viewer">("member");
  const [link, setLink] = useState<string | null>(null);
  const [note, setNote] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  async function invite(e: React.FormEvent) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    setLink(null);
    setNote(null);
    try {
      const r = await trpc.teams.addMember.mutate({ team, email, role });
      if (r.invitation) setLink(window.location.origin + r.invitation.path);
      else setNote(`${r.email} has an account already and was added as ${r.role}.`);
      setEmail("");
      router.refresh();
    } catch (err) {
      setError(errorText(err));
    } finally {
      setBusy(false);
    }
  }

  return (
    <div className="space-y-4 px-5 py-4">
      <form onSubmit={invite} className="flex flex-wrap gap-2">
        <input id="invite-email" type="email" required placeholder="email@example.com" value={email} onChange={(e) => setEmail(e.target.value)} className={`max-w-xs ${inputCls}`} />
        <select id="invite-role" value={role} onChange={(e) => setRole(e.target.value as "member")} className="rounded-lg border-slate-300 text-sm">
          <option value="admin">admin</option>
          <option value="member">member</option>
          <option value="viewer">viewer</option>
        </select>
        <button type="submit" disabled={busy} className={buttonCls}>
          Invite
        </button>
      </form>
      <ErrorLine error={error} testId="invite-form-error" />
      {note && <p className="text-sm text-slate-600">{note}</p>}
      {link && (
        <div className="rounded-lg bg-amber-50 p-3 text-sm ring-1 ring-amber-200">
          <p className="text-amber-900">Send this link to them; it is shown only now:</p>
          <code data-testid="invite-link" className="mt-1 block break-all font-mono text-xs">
            {link}
          </code>
        </div>
      )}
      {pending.length > 0 && (
        <ul className="divide-y divide-slate-100 text-sm">
          {pending.map((i) => (
            <li key={i.id} data-testid="invitation-row" className="flex items-center justify-between py-2">
              <span>
                {i.email} <span className="text-slate-400">as {i.role}</span>{" "}
                <span className={i.expired ? "text-rose-600" : "text-slate-400"}>{i.expired ? "expired" : `until ${new Date(i.expiresAt).toISOString().slice(0, 16).replace("T", " ")}`}</span>
              </span>
              <button
                type="button"
                className={smallButtonCls}
                onClick={async () => {
                  await trpc.teams.withdrawInvitation.mutate({ team, id: i.id }).catch((err) => setError(errorText(err)));
                  router.refresh();
                }}
              >
                Withdraw
              </button>
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}
