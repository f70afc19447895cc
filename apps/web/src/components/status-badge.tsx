/** A coloured pill for build, release and container states. */
const TONES: Record<string, string> = {
  succeeded: "bg-emerald-50 text-emerald-700 ring-emerald-600/20",
  active: "bg-emerald-50 text-emerald-700 ring-emerald-600/20",
  running: "bg-emerald-50 text-emerald-700 ring-emerald-600/20",
  failed: "bg-rose-50 text-rose-700 ring-rose-600/20",
  crashed: "bg-rose-50 text-rose-700 ring-rose-600/20",
  restarting: "bg-rose-50 text-rose-700 ring-rose-600/20",
  building: "bg-amber-50 text-amber-700 ring-amber-600/20",
  deploying: "bg-amber-50 text-amber-700 ring-amber-600/20",
  starting: "bg-amber-50 text-amber-700 ring-amber-600/20",
  stopping: "bg-amber-50 text-amber-700 ring-amber-600/20",
  pending: "bg-sky-50 text-sky-700 ring-sky-600/20",
  superseded: "bg-slate-100 text-slate-600 ring-slate-500/20",
  stopped: "bg-slate-100 text-slate-600 ring-slate-500/20",
};
const DOTS: Record<string, string> = {
  succeeded: "bg-emerald-500",
  active: "bg-emerald-500",
  running: "bg-emerald-500",
  failed: "bg-rose-500",
  crashed: "bg-rose-500",
  restarting: "bg-rose-500 animate-pulse",
  building: "bg-amber-500 animate-pulse",
  deploying: "bg-amber-500 animate-pulse",
  starting: "bg-amber-500 animate-pulse",
  stopping: "bg-amber-500",
  pending: "bg-sky-500",
};

export function StatusBadge({ status, label }: { status: string; label?: string }) {
  const tone = TONES[status] ?? "bg-slate-100 text-slate-600 ring-slate-500/20";
  return (
    <span
      data-status={status}
      className={`inline-flex items-center gap-1.5 rounded-full px-2 py-0.5 text-xs font-medium ring-1 ring-inset ${tone}`}
    >
      <span className={`size-1.5 rounded-full ${DOTS[status] ?? "bg-slate-400"}`} />
      {label ?? status}
    </span>
  );
}
