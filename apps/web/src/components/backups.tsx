"use client";
/**
 * An app's backups panel: its schedule, its backups (newest first) with their size and the
 * time the app was paused, and a capture button. A failed backup is shown in red with its
 * reason, and a banner above the list says how many failed: a silent backup failure is the
 * complaint this panel exists to prevent.
 */
import { TRPCClientError } from "@trpc/client";
import { useCallback, useEffect, useState } from "react";
import { NoticeLine, type Notice } from "@/components/notice.tsx";
import { trpc } from "@/lib/trpc-client.ts";
import { formatBytes } from "@paas/shared/sizes";

type List = Awaited<ReturnType<typeof trpc.backups.list.query>>;

export function Backups({ app }: { app: string }) {
  const [list, setList] = useState<List | null>(null);
  const [busy, setBusy] = useState(false);
  const [notice, setNotice] = useState<Notice>(null);

  const load = useCallback(async () => {
    try {
      setList(await trpc.backups.list.query({ app }));
    } catch (err) {
      setNotice({ kind: "error", text: err instanceof TRPCClientError ? err.message : "could not reach the server: is it running?" });
    }
  }, [app]);
  useEffect(() => void load(), [load]);

  async function capture() {
    setBusy(true);
    setNotice(null);
    try {
      const r = await trpc.backups.capture.mutate({ app });
      setNotice({ kind: "ok", text: r.log.join(" ") || `Backup ${r.id} made` });
    } catch (err) {
      setNotice({ kind: "error", text: err instanceof Error ? err.message : String(err) });
    } finally {
      setBusy(false);
      await load();
    }
  }

  const failed = list?.backups.filter((b) => b.status === "failed") ?? [];
  return (
    <div data-testid="backups">
      {failed.length > 0 && (
        <p data-testid="backups-failed" role="alert" className="border-b border-red-200 bg-red-50 px-5 py-3 text-sm font-medium text-red-800">
          {failed.length} backup{failed.length === 1 ? "" : "s"} FAILED, the last: {failed[0]!.error}
        </p>
      )}
      <div className="flex items-center justify-between px-5 py-3 text-sm text-slate-600">
        <span>{list?.schedule ? `Scheduled "${list.schedule.cron}" (UTC)${list.schedule.keep ? `, keeping the last ${list.schedule.keep}` : ""}` : "No schedule (paas backups:schedule \"0 3 * * *\")"}</span>
        <button type="button" disabled={busy} onClick={() => void capture()} className="rounded-md bg-indigo-600 px-3 py-1.5 text-xs font-semibold text-white hover:bg-indigo-500 disabled:opacity-50">
          {busy ? "Backing up…" : "Back up now"}
        </button>
      </div>
      {/* pre-line: a failure's second line says what to do */}
      <NoticeLine notice={notice} testId="backup" className="mx-5 mb-3 whitespace-pre-line" />
      {!list ? (
        <p className="px-5 py-4 text-sm text-slate-500">Loading…</p>
      ) : list.backups.length === 0 ? (
        <p className="px-5 py-4 text-sm text-slate-500">No backups yet.</p>
      ) : (
        <table className="w-full text-left text-sm">
          <thead className="bg-slate-50 text-xs font-medium uppercase tracking-wide text-slate-500">
            <tr>
              <th className="px-4 py-2">ID</th>
              <th className="px-4 py-2">Volume</th>
              <th className="px-4 py-2">Time</th>
              <th className="px-4 py-2">Size</th>
              <th className="px-4 py-2">Paused</th>
              <th className="px-4 py-2">Status</th>
            </tr>
          </thead>
          <tbody className="divide-y divide-slate-100">
            {list.backups.map((b) => (
              <tr key={b.id} data-testid="backup-row">
                <td className="px-4 py-2 font-mono text-xs">{b.id}</td>
                <td className="px-4 py-2">{b.volume}</td>
                <td className="px-4 py-2">{new Date(b.createdAt).toLocaleString()}</td>
                <td className="px-4 py-2">{formatBytes(b.sizeBytes)}</td>
                <td className="px-4 py-2">{b.pausedMs === null ? "-" : `${b.pausedMs} ms`}</td>
                <td className={`px-4 py-2 ${b.status === "failed" ? "font-semibold text-red-700" : ""}`}>{b.status === "failed" ? `FAILED: ${b.error}` : b.status === "succeeded" ? "ok" : b.status}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}
