"use client";
/**
 * An app's sidecars panel: each sidecar with its container on every replica, an attach form
 * (a kind of the platform, or a custom one with an image, shared volumes, its network and
 * memory) and a detach button. Attach, swap (attach the same kind again) and detach never
 * restart the app's containers; the worker applies them in turn with the app's deploys.
 */
import { TRPCClientError } from "@trpc/client";
import { useCallback, useEffect, useState } from "react";
import { trpc } from "@/lib/trpc-client.ts";
import { StatusBadge } from "@/components/status-badge.tsx";
import { parseMemoryMb, SizeError } from "@paas/shared/sizes";
import { NoticeLine, type Notice } from "@/components/notice.tsx";

type Sidecar = Awaited<ReturnType<typeof trpc.sidecars.list.query>>[number];

const field = "rounded-md border-0 px-2 py-1 font-mono text-xs text-slate-900 ring-1 ring-inset ring-slate-300 focus:ring-2 focus:ring-indigo-600";

function errorText(err: unknown): string {
  if (err instanceof TRPCClientError || err instanceof SizeError || err instanceof Error) return err.message;
  return "could not reach the server: is it running? Nothing was changed.";
}

export function Sidecars({ app }: { app: string }) {
  const [list, setList] = useState<Sidecar[] | null>(null);
  const [busy, setBusy] = useState(false);
  const [notice, setNotice] = useState<Notice>(null);
  const [kind, setKind] = useState("");
  const [image, setImage] = useState("");
  const [volumes, setVolumes] = useState("");
  const [net, setNet] = useState<"app" | "none">("app");
  const [memory, setMemory] = useState("64M");
  const [cmd, setCmd] = useState("");

  const load = useCallback(async () => {
    try {
      setList(await trpc.sidecars.list.query({ app }));
    } catch (err) {
      setNotice({ kind: "error", text: errorText(err) });
    }
  }, [app]);
  useEffect(() => void load(), [load]);

  async function run(fn: () => Promise<{ message: string }>) {
    setBusy(true);
    setNotice(null);
    try {
      const r = await fn();
      setNotice({ kind: "ok", text: r.message });
      await load();
    } catch (err) {
      setNotice({ kind: "error", text: errorText(err) });
    } finally {
      setBusy(false);
    }
  }

  function attach() {
    return run(async () => {
      const vols = volumes
        .split(",")
        .map((v) => v.trim())
        .filter(Boolean)
        .map((v) => {
          const i = v.indexOf(":");
          if (i <= 0) throw new Error(`volume ${v}: write NAME:/path, e.g. data:/data`);
          return { name: v.slice(0, i), path: v.slice(i + 1) };
        });
      return trpc.sidecars.attach.mutate({
        app,
        kind: kind.trim(),
        ...(image.trim() ? { image: image.trim() } : {}),
        ...(vols.length ? { volumes: vols } : {}),
        net,
        memoryMb: parseMemoryMb(memory),
        ...(cmd.trim() ? { cmd: ["/bin/sh", "-c", cmd.trim()] } : {}),
      });
    });
  }

  return (
    <div data-testid="sidecars">
      {list === null ? (
        <p className="px-5 py-4 text-sm text-slate-500">Loading…</p>
      ) : list.length === 0 ? (
        <p className="px-5 py-4 text-sm text-slate-500">No sidecars: attach one below (logging, metrics, backup, or a custom image). The app is not restarted.</p>
      ) : (
        <table className="w-full text-left text-sm">
          <thead className="bg-slate-50 text-xs font-medium uppercase tracking-wide text-slate-500">
            <tr>
              <th className="px-4 py-2">Kind</th>
              <th className="px-4 py-2">Image</th>
              <th className="px-4 py-2">Net</th>
              <th className="px-4 py-2">Volumes</th>
              <th className="px-4 py-2">Memory</th>
              <th className="px-4 py-2">Replicas</th>
              <th className="px-4 py-2" />
            </tr>
          </thead>
          <tbody className="divide-y divide-slate-100">
            {list.map((s) => (
              <tr key={s.kind} data-testid="sidecar-row" data-kind={s.kind}>
                <td className="px-4 py-2 font-mono text-xs font-medium">{s.kind}</td>
                <td className="px-4 py-2 font-mono text-xs text-slate-500">{s.image}</td>
                <td className="px-4 py-2 text-slate-500">{s.net}</td>
                <td className="px-4 py-2 font-mono text-xs text-slate-500">{s.volumes.map((v) => `${v.name}:${v.path}`).join(", ") || "-"}</td>
                <td className="px-4 py-2 font-mono text-xs text-slate-500">{s.memoryMb}M</td>
                <td className="px-4 py-2">
                  {s.replicas.length === 0 && <span className="text-xs text-slate-400">none running</span>}
                  {s.replicas.map((r) => (
                    <span key={r.id} className="mr-2 inline-flex items-center gap-1 text-xs">
                      <span className="font-mono">{r.replica}</span> <StatusBadge status={r.state} />
                      {r.restarts > 0 && <span className="text-amber-700">{r.restarts} restarts</span>}
                    </span>
                  ))}
                </td>
                <td className="px-4 py-2 text-right">
                  <button
                    type="button"
                    disabled={busy}
                    onClick={() => void run(() => trpc.sidecars.detach.mutate({ app, kind: s.kind }))}
                    className="rounded-md px-2 py-1 text-xs font-semibold text-rose-700 ring-1 ring-inset ring-rose-300 hover:bg-rose-50 disabled:opacity-50"
                  >
                    Detach
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <form
        className="flex flex-wrap items-center gap-2 border-t border-slate-100 px-5 py-3 text-xs text-slate-500"
        onSubmit={(e) => {
          e.preventDefault();
          void attach();
        }}
      >
        <input className={`${field} w-28`} placeholder="kind" value={kind} onChange={(e) => setKind(e.target.value)} aria-label="sidecar kind" required />
        <input className={`${field} w-36`} placeholder="image (custom)" value={image} onChange={(e) => setImage(e.target.value)} aria-label="sidecar image" />
        <input className={`${field} w-32`} placeholder="data:/data" value={volumes} onChange={(e) => setVolumes(e.target.value)} aria-label="sidecar volumes" />
        <select className={field} value={net} onChange={(e) => setNet(e.target.value as "app" | "none")} aria-label="sidecar network">
          <option value="app">net: app</option>
          <option value="none">net: none</option>
        </select>
        <input className={`${field} w-16`} value={memory} onChange={(e) => setMemory(e.target.value)} aria-label="sidecar memory" />
        <input className={`${field} w-48`} placeholder="command (optional)" value={cmd} onChange={(e) => setCmd(e.target.value)} aria-label="sidecar command" />
        <button type="submit" disabled={busy} className="ml-auto rounded-md bg-indigo-600 px-3 py-1 text-xs font-semibold text-white shadow-sm hover:bg-indigo-500 disabled:opacity-50">
          {busy ? "Applying…" : "Attach"}
        </button>
      </form>
      <NoticeLine notice={notice} testId="sidecar" className="mx-5 mb-3" />
    </div>
  );
}
