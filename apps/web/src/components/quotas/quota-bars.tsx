"use client";
/**
 * A team's quotas: one bar per limit with the team's use (red when over it: a quota lowered
 * below the use stops growth, nothing running stops). Operators change a limit in place
 * (quotas.set, the same parsing as `paas quotas:set`); the page then re-renders.
 */
import { TRPCClientError } from "@trpc/client";
import { useRouter } from "next/navigation";
import { useState } from "react";
import { trpc } from "@/lib/trpc-client.ts";
import { formatCpus, formatMemory, parseQuotaArgs, SizeError } from "@paas/shared/sizes";

type Field = "apps" | "replicas" | "memoryMb" | "cpuMillis" | "storageMb" | "concurrentBuilds" | "buildMinutesPerDay" | "customDomains" | "drainsPerApp" | "pids";

export interface QuotaView {
  team: string;
  limits: Record<Field, number>;
  usage: Partial<Record<Field, number>>;
  over: string[];
}

/** Each limit: its name in `quotas:set`, its label, how its figures read. */
const ROWS: { field: Field; arg: string; label: string; fmt: (n: number) => string }[] = [
  { field: "apps", arg: "apps", label: "Apps", fmt: String },
  { field: "replicas", arg: "replicas", label: "Replicas", fmt: String },
  { field: "memoryMb", arg: "memory", label: "Memory", fmt: formatMemory },
  { field: "cpuMillis", arg: "cpus", label: "CPUs", fmt: formatCpus },
  { field: "storageMb", arg: "storage", label: "Volume storage", fmt: formatMemory },
  { field: "concurrentBuilds", arg: "builds", label: "Builds at once", fmt: String },
  { field: "buildMinutesPerDay", arg: "build-minutes", label: "Build minutes today", fmt: (n) => String(Math.round(n)) },
  { field: "customDomains", arg: "domains", label: "Custom domains", fmt: String },
  { field: "drainsPerApp", arg: "drains", label: "Log drains per app (the app with the most)", fmt: String },
];

function Bar({ used, limit, over }: { used: number; limit: number; over: boolean }) {
  const pct = limit > 0 ? Math.min(100, (used / limit) * 100) : used > 0 ? 100 : 0;
  const colour = over ? "bg-rose-500" : pct >= 80 ? "bg-amber-500" : "bg-indigo-500";
  return (
    <div className="h-2 w-full overflow-hidden rounded-full bg-slate-100">
      <div className={`h-full ${colour}`} style={{ width: `${pct}%` }} />
    </div>
  );
}

export function QuotaBars({ quota, canSet }: { quota: QuotaView; canSet: boolean }) {
  const router = useRouter();
  const [editing, setEditing] = useState<Field | null>(null);
  const [value, setValue] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  async function save(arg: string) {
    setBusy(true);
    setError(null);
    try {
      await trpc.quotas.set.mutate({ team: quota.team, limits: parseQuotaArgs([`${arg}=${value.trim()}`]) });
      setEditing(null);
      router.refresh();
    } catch (err) {
      setError(err instanceof TRPCClientError || err instanceof SizeError ? err.message : "could not reach the server: nothing was changed");
    } finally {
      setBusy(false);
    }
  }

  return (
    <div>
      {quota.over.length > 0 && (
        <p data-testid="quota-over" className="border-b border-rose-100 bg-rose-50 px-5 py-2 text-sm text-rose-700">
          Team {quota.team} is over its quota of {quota.over.map((f) => ROWS.find((r) => r.field === f)?.label.toLowerCase() ?? f).join(", ")}: what runs keeps running, nothing more starts until it is below.
        </p>
      )}
      <ul className="divide-y divide-slate-100">
        {ROWS.map(({ field, arg, label, fmt }) => {
          const used = quota.usage[field] ?? 0;
          const limit = quota.limits[field];
          const over = quota.over.includes(field);
          return (
            <li key={field} className="grid grid-cols-[10rem_1fr_12rem] items-center gap-4 px-5 py-2.5 text-sm" data-testid="quota" data-quota={arg}>
              <span className="text-slate-700">{label}</span>
              <Bar used={used} limit={limit} over={over} />
              {editing === field ? (
                <form
                  className="flex items-center gap-2"
                  onSubmit={(e) => {
                    e.preventDefault();
                    void save(arg);
                  }}
                >
                  <input
                    autoFocus
                    className="w-20 rounded-md border-0 px-2 py-1 font-mono text-xs ring-1 ring-inset ring-slate-300 focus:ring-2 focus:ring-indigo-600"
                    value={value}
                    onChange={(e) => setValue(e.target.value)}
                    aria-label={`${label} limit`}
                  />
                  <button type="submit" disabled={busy} className="rounded-md bg-indigo-600 px-2 py-1 text-xs font-semibold text-white disabled:opacity-50">
                    {busy ? "Saving…" : "Save"}
                  </button>
                </form>
              ) : (
                <span className="flex items-center justify-end gap-2 font-mono text-xs">
                  <span data-testid="quota-use" className={over ? "font-semibold text-rose-600" : "text-slate-600"}>
                    {fmt(used)} / {fmt(limit)}
                  </span>
                  {canSet && (
                    <button
                      type="button"
                      className="rounded px-1.5 py-0.5 text-indigo-600 hover:bg-indigo-50"
                      aria-label={`Change the ${label.toLowerCase()} quota`}
                      onClick={() => {
                        setEditing(field);
                        setValue(fmt(limit));
                        setError(null);
                      }}
                    >
                      Change
                    </button>
                  )}
                </span>
              )}
            </li>
          );
        })}
      </ul>
      {error && (
        <p role="alert" className="border-t border-rose-100 bg-rose-50 px-5 py-2 text-sm text-rose-700">
          {error}
        </p>
      )}
    </div>
  );
}
