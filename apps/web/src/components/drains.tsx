"use client";
/**
 * An app's log drains panel: each drain (URL masked) with its state, lines delivered, dropped
 * and queued and its last error, refreshed every few seconds; a form to add one and a button to
 * remove one (members and admins; the API refuses others with its reason).
 */
import { TRPCClientError } from "@trpc/client";
import { useCallback, useEffect, useState } from "react";
import { trpc } from "@/lib/trpc-client.ts";
import { StatusBadge } from "@/components/status-badge.tsx";
import { timeAgo } from "@/lib/format.ts";
import { NoticeLine, type Notice } from "@/components/notice.tsx";

type Drain = Awaited<ReturnType<typeof trpc.drains.list.query>>[number];

const REFRESH_MS = 5000;
const field = "rounded-md border-0 px-2 py-1 font-mono text-xs text-slate-900 ring-1 ring-inset ring-slate-300 focus:ring-2 focus:ring-indigo-600";
const errorText = (err: unknown) => (err instanceof TRPCClientError || err instanceof Error ? err.message : "could not reach the server: is it running? Nothing was changed.");
const BADGE: Record<Drain["state"], string> = { delivering: "running", retrying: "failed", starting: "pending", waiting: "pending" };

export function Drains({ app }: { app: string }) {
  const [list, setList] = useState<Drain[] | null>(null);
  const [url, setUrl] = useState("");
  const [busy, setBusy] = useState(false);
  const [notice, setNotice] = useState<Notice>(null);

  const load = useCallback(async () => {
    try {
      setList(await trpc.drains.list.query({ app }));
    } catch (err) {
      setNotice({ kind: "error", text: errorText(err) });
    }
  }, [app]);
  useEffect(() => {
    void load();
    const t = setInterval(() => void load(), REFRESH_MS);
    return () => clearInterval(t);
  }, [load]);

  async function change(fn: () => Promise<string>) {
    setBusy(true);
    setNotice(null);
    try {
      setNotice({ kind: "ok", text: await fn() });
      await load();
    } catch (err) {
      setNotice({ kind: "error", text: errorText(err) });
    } finally {
      setBusy(false);
    }
  }

  return (
    <div data-testid="drains">
      {list === null ? (
        <p className="px-5 py-4 text-sm text-slate-500">Loading…</p>
      ) : list.length === 0 ? (
        <p className="px-5 py-4 text-sm text-slate-500">No drains: add a syslog (syslog+tls://, syslog+tcp://) or https:// one below to send the app&apos;s log there too.</p>
      ) : (
        <table className="w-full text-left text-sm">
          <thead className="bg-slate-50 text-xs font-medium uppercase tracking-wide text-slate-500">
            <tr>
              <th className="px-4 py-2">URL</th>
              <th className="px-4 py-2">State</th>
              <th className="px-4 py-2 text-right">Delivered</th>
              <th className="px-4 py-2 text-right">Dropped</th>
              <th className="px-4 py-2 text-right">Queued</th>
              <th className="px-4 py-2">Last error</th>
              <th className="px-4 py-2" />
            </tr>
          </thead>
          <tbody className="divide-y divide-slate-100">
            {list.map((d) => (
              <tr key={d.id} data-testid="drain-row">
                <td className="px-4 py-2 font-mono text-xs">{d.url}</td>
                <td className="px-4 py-2">
                  <StatusBadge status={BADGE[d.state]} label={d.state} />
                </td>
                <td className="px-4 py-2 text-right font-mono text-xs">{d.sent}</td>
                <td className={`px-4 py-2 text-right font-mono text-xs ${d.dropped ? "text-rose-700" : "text-slate-500"}`}>{d.dropped}</td>
                <td className="px-4 py-2 text-right font-mono text-xs text-slate-500">{d.queued}</td>
                <td className="px-4 py-2 text-xs text-slate-500">{d.lastError ? `${d.lastError} (${timeAgo(d.lastErrorAt)})` : "-"}</td>
                <td className="px-4 py-2 text-right">
                  <button
                    type="button"
                    disabled={busy}
                    onClick={() => void change(async () => `Removed drain ${(await trpc.drains.remove.mutate({ app, url: d.id })).url}.`)}
                    className="rounded-md px-2 py-1 text-xs font-semibold text-rose-700 ring-1 ring-inset ring-rose-300 hover:bg-rose-50 disabled:opacity-50"
                  >
                    Remove
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <form
        className="flex flex-wrap items-center gap-2 border-t border-slate-100 px-5 py-3"
        onSubmit={(e) => {
          e.preventDefault();
          void change(async () => {
            const d = await trpc.drains.add.mutate({ app, url: url.trim() });
            setUrl("");
            return `Added drain ${d.url}: the app's lines from now on go there too.`;
          });
        }}
      >
        <input className={`${field} min-w-72 flex-1`} placeholder="syslog+tls://logs.example.com:6514" value={url} onChange={(e) => setUrl(e.target.value)} aria-label="drain URL" required />
        <button type="submit" disabled={busy} className="rounded-md bg-indigo-600 px-3 py-1 text-xs font-semibold text-white shadow-sm hover:bg-indigo-500 disabled:opacity-50">
          {busy ? "Applying…" : "Add drain"}
        </button>
      </form>
      <NoticeLine notice={notice} testId="drain" className="mx-5 mb-3" />
    </div>
  );
}
