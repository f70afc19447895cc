/**
 * A team's audit log, newest first: when, who (and with which token, from where), what, which
 * app, and how it ended: a refused change (denied) has a red row, a failed one an amber row,
 * each with its reason.
 */
import { splitOutcome } from "@paas/shared/audit-outcome";
import { timeAgo } from "@/lib/format.ts";

export interface AuditRow {
  id: string;
  at: Date | string;
  actor: string;
  token: string | null;
  address: string | null;
  action: string;
  app: string | null;
  details: Record<string, unknown>;
  outcome: string;
}

const ROW = { ok: "", denied: "bg-red-50", failed: "bg-amber-50" };
const BADGE = { ok: "text-slate-500", denied: "bg-red-100 text-red-800", failed: "bg-amber-100 text-amber-800" };

export function AuditLog({ events }: { events: AuditRow[] }) {
  if (!events.length) return <p className="px-5 py-4 text-sm text-slate-500">No changes recorded yet.</p>;
  return (
    <table className="w-full text-left text-sm" data-testid="audit-log">
      <thead className="bg-slate-50 text-xs uppercase tracking-wide text-slate-500">
        <tr>
          <th className="px-5 py-2 font-medium">When</th>
          <th className="px-5 py-2 font-medium">Who</th>
          <th className="px-5 py-2 font-medium">Action</th>
          <th className="px-5 py-2 font-medium">App</th>
          <th className="px-5 py-2 font-medium">Outcome</th>
          <th className="px-5 py-2 font-medium">Details</th>
        </tr>
      </thead>
      <tbody className="divide-y divide-slate-100">
        {events.map((e) => {
          const { kind, why } = splitOutcome(e.outcome);
          return (
            <tr key={e.id} data-testid="audit-event" data-action={e.action} data-outcome={kind} className={ROW[kind]}>
              <td className="whitespace-nowrap px-5 py-2 text-slate-500" title={new Date(e.at).toISOString()}>
                {timeAgo(e.at)}
              </td>
              <td className="px-5 py-2">
                <div className="text-slate-900">{e.actor}</div>
                <div className="font-mono text-xs text-slate-400">
                  {[e.token && `token ${e.token}…`, e.address && `from ${e.address}`].filter(Boolean).join(" · ")}
                </div>
              </td>
              <td className="px-5 py-2 font-mono text-xs text-slate-700">{e.action}</td>
              <td className="px-5 py-2 text-slate-700">{e.app ?? "—"}</td>
              <td className="max-w-xs px-5 py-2 text-xs">
                <span className={`rounded px-1.5 py-0.5 font-medium ${BADGE[kind]}`}>{kind}</span>
                {why && <div className="mt-1 text-slate-600">{why}</div>}
              </td>
              <td className="max-w-xs truncate px-5 py-2 font-mono text-xs text-slate-500" title={JSON.stringify(e.details)}>
                {JSON.stringify(e.details)}
              </td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}
