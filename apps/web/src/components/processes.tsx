"use client";
/**
 * An app's processes: a scaling control per process type (replicas, memory, CPU) and its
 * replicas as `paas ps` lists them. A change calls ps.scale / ps.resize, which the worker
 * applies in turn with the app's deploys (new replicas serve before old ones stop); the
 * page then re-renders with the replicas as they are.
 */
import { TRPCClientError } from "@trpc/client";
import { useRouter } from "next/navigation";
import { useState } from "react";
import { trpc } from "@/lib/trpc-client.ts";
import { StatusBadge } from "@/components/status-badge.tsx";
import { formatCpus, formatMemory, parseCpuMillis, parseMemoryMb, quantity as quantitySchema, SizeError } from "@paas/shared/sizes";
import { NoticeLine, type Notice } from "@/components/notice.tsx";

export interface ProcessType {
  type: string;
  quantity: number;
  memoryMb: number;
  cpuMillis: number;
}

export interface ReplicaRow {
  id: string;
  name: string;
  type: string;
  state: string;
  release: number;
  uptimeSeconds: number | null;
  host: string;
  address: string | null;
  memoryBytes: number | null;
  memoryLimitBytes: number | null;
  exitCode: number | null;
  oomKilled: boolean;
  restarts: number;
}

const input = "w-20 rounded-md border-0 px-2 py-1 font-mono text-xs text-slate-900 ring-1 ring-inset ring-slate-300 focus:ring-2 focus:ring-indigo-600";

function errorText(err: unknown): string {
  if (err instanceof TRPCClientError || err instanceof SizeError) return err.message;
  return "could not reach the server: is it running? Nothing was changed.";
}

function uptime(seconds: number | null): string {
  if (seconds === null) return "";
  if (seconds < 60) return `${seconds}s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)}h${Math.floor((seconds % 3600) / 60)}m`;
  return `${Math.floor(seconds / 86400)}d${Math.floor((seconds % 86400) / 3600)}h`;
}

const mib = (bytes: number) => `${Math.round(bytes / 2 ** 20)}M`;

/** One process type's control: its replica count and size, applied with one button. */
function TypeControl({ app, f, busy, run }: { app: string; f: ProcessType; busy: boolean; run: (what: string, fn: () => Promise<unknown>) => Promise<void> }) {
  const [count, setCount] = useState(String(f.quantity));
  const [memory, setMemory] = useState(formatMemory(f.memoryMb));
  const [cpus, setCpus] = useState(formatCpus(f.cpuMillis));

  async function apply() {
    await run(`Scaled ${f.type}`, async () => {
      const n = quantitySchema.safeParse(/^\d+$/.test(count.trim()) ? Number(count) : NaN);
      if (!n.success) throw new SizeError(`${f.type}: the replica count is a whole number from 0 to 100`);
      const memoryMb = parseMemoryMb(memory);
      const cpuMillis = parseCpuMillis(cpus);
      // Size first: a new size replaces the replicas there are, then the count adds or drains.
      if (memoryMb !== f.memoryMb || cpuMillis !== f.cpuMillis) await trpc.ps.resize.mutate({ app, type: f.type, memoryMb, cpuMillis });
      if (n.data !== f.quantity) await trpc.ps.scale.mutate({ app, quantities: { [f.type]: n.data } });
    });
  }

  return (
    <form
      className="flex flex-wrap items-center gap-3 px-5 py-2.5 text-sm"
      data-testid="scale-control"
      data-type={f.type}
      onSubmit={(e) => {
        e.preventDefault();
        void apply();
      }}
    >
      <span className="w-24 font-mono text-xs font-semibold text-slate-700">{f.type}</span>
      <label className="flex items-center gap-1.5 text-xs text-slate-500">
        Replicas
        <input className={input} type="number" min={0} max={100} value={count} onChange={(e) => setCount(e.target.value)} aria-label={`${f.type} replicas`} />
      </label>
      <label className="flex items-center gap-1.5 text-xs text-slate-500">
        Memory
        <input className={input} value={memory} onChange={(e) => setMemory(e.target.value)} aria-label={`${f.type} memory`} />
      </label>
      <label className="flex items-center gap-1.5 text-xs text-slate-500">
        CPUs
        <input className={input} value={cpus} onChange={(e) => setCpus(e.target.value)} aria-label={`${f.type} CPUs`} />
      </label>
      <button
        type="submit"
        disabled={busy}
        className="ml-auto rounded-md bg-indigo-600 px-3 py-1 text-xs font-semibold text-white shadow-sm hover:bg-indigo-500 disabled:opacity-50"
      >
        {busy ? "Applying…" : "Apply"}
      </button>
    </form>
  );
}

export function Processes({ app, formation, replicas }: { app: string; formation: ProcessType[]; replicas: ReplicaRow[] }) {
  const router = useRouter();
  const [busy, setBusy] = useState(false);
  const [notice, setNotice] = useState<Notice>(null);

  async function run(what: string, fn: () => Promise<unknown>) {
    setBusy(true);
    setNotice(null);
    try {
      await fn();
      setNotice({ kind: "ok", text: `${what}: done` });
      router.refresh();
    } catch (err) {
      setNotice({ kind: "error", text: errorText(err) });
    } finally {
      setBusy(false);
    }
  }

  if (formation.length === 0) {
    return <p className="px-5 py-4 text-sm text-slate-500">Nothing runs yet: push to deploy, then scale each process type here.</p>;
  }
  return (
    <div>
      <div className="divide-y divide-slate-100 border-b border-slate-100">
        {formation.map((f) => (
          // Keyed by the formation, so the inputs start from what was applied after a refresh.
          <TypeControl key={`${f.type}:${f.quantity}:${f.memoryMb}:${f.cpuMillis}`} app={app} f={f} busy={busy} run={run} />
        ))}
      </div>
      <NoticeLine notice={notice} testId="scale" />
      {replicas.length === 0 ? (
        <p className="px-5 py-4 text-sm text-slate-500">No replicas run (every process type is scaled to 0).</p>
      ) : (
        <table className="mt-2 w-full text-left text-sm">
          <thead className="bg-slate-50 text-xs font-medium uppercase tracking-wide text-slate-500">
            <tr>
              <th className="px-4 py-2">Replica</th>
              <th className="px-4 py-2">State</th>
              <th className="px-4 py-2">Release</th>
              <th className="px-4 py-2">Uptime</th>
              <th className="px-4 py-2">Host</th>
              <th className="px-4 py-2">Address</th>
              <th className="px-4 py-2">Memory</th>
            </tr>
          </thead>
          <tbody className="divide-y divide-slate-100">
            {replicas.map((r) => (
              <tr key={r.id} data-testid="replica-row" data-name={r.name}>
                <td className="px-4 py-2 font-mono text-xs font-medium">{r.name}</td>
                <td className="px-4 py-2">
                  <StatusBadge status={r.state} />
                  {r.state === "crashed" && (
                    <span className="ml-2 text-xs text-red-700">
                      exit {r.exitCode ?? "?"}
                      {r.oomKilled ? ", out of memory" : ""}
                    </span>
                  )}
                  {r.state !== "crashed" && r.restarts > 0 && <span className="ml-2 text-xs text-amber-700">{r.restarts} restarts</span>}
                </td>
                <td className="px-4 py-2 text-slate-500">v{r.release}</td>
                <td className="px-4 py-2 text-slate-500">{uptime(r.uptimeSeconds)}</td>
                <td className="px-4 py-2 text-slate-500">{r.host}</td>
                <td className="px-4 py-2 font-mono text-xs text-slate-500">{r.address ?? ""}</td>
                <td className="px-4 py-2 font-mono text-xs text-slate-500">
                  {r.memoryBytes !== null ? mib(r.memoryBytes) : ""}
                  {r.memoryLimitBytes ? ` / ${mib(r.memoryLimitBytes)}` : ""}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}
