"use client";
/** A team's members and roles: admins change roles and remove members (the last admin stays). */
import { useRouter } from "next/navigation";
import { useState } from "react";
import { trpc } from "@/lib/trpc-client.ts";
import { ErrorLine, errorText, smallButtonCls } from "./ui.tsx";

type Member = { email: string; name: string | null; role: string };

export function Members({ team, members, canManage, me }: { team: string; members: Member[]; canManage: boolean; me: string }) {
  const router = useRouter();
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  async function act(fn: () => Promise<unknown>) {
    setBusy(true);
    setError(null);
    try {
      await fn();
      router.refresh();
    } catch (err) {
      setError(errorText(err));
    } finally {
      setBusy(false);
    }
  }
  return (
    <div>
      <table className="w-full text-left text-sm">
        <thead className="bg-slate-50 text-xs font-medium uppercase tracking-wide text-slate-500">
          <tr>
            <th className="px-5 py-2.5">Email</th>
            <th className="px-5 py-2.5">Role</th>
            <th className="px-5 py-2.5" />
          </tr>
        </thead>
        <tbody className="divide-y divide-slate-100">
          {members.map((m) => (
            <tr key={m.email} data-testid="member-row">
              <td className="px-5 py-2.5">
                {m.email} {m.name && <span className="text-slate-400">({m.name})</span>}
              </td>
              <td className="px-5 py-2.5">
                {canManage ? (
                  <select
                    aria-label={`role of ${m.email}`}
                    disabled={busy}
                    value={m.role}
                    onChange={(e) => act(() => trpc.teams.setRole.mutate({ team, email: m.email, role: e.target.value as "admin" }))}
                    className="rounded-md border-slate-300 py-1 text-sm"
                  >
                    <option value="admin">admin</option>
                    <option value="member">member</option>
                    <option value="viewer">viewer</option>
                  </select>
                ) : (
                  m.role
                )}
              </td>
              <td className="px-5 py-2.5 text-right">
                {(canManage || m.email === me) && (
                  <button type="button" disabled={busy} className={smallButtonCls} onClick={() => act(() => trpc.teams.removeMember.mutate({ team, email: m.email }))}>
                    {m.email === me ? "Leave" : "Remove"}
                  </button>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <div className="px-5 py-2">
        <ErrorLine error={error} testId="members-error" />
      </div>
    </div>
  );
}
