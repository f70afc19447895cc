/** Small display helpers shared by the pages. */
export function timeAgo(d: Date | string | null | undefined, now: Date = new Date()): string {
  if (!d) return "—";
  const s = Math.round((now.getTime() - new Date(d).getTime()) / 1000);
  if (s < 5) return "just now";
  if (s < 60) return `${s}s ago`;
  const m = Math.round(s / 60);
  if (m < 60) return `${m} min ago`;
  const h = Math.round(m / 60);
  if (h < 48) return `${h} h ago`;
  return `${Math.round(h / 24)} days ago`;
}

export function duration(start: Date | null | undefined, end: Date | null | undefined): string {
  if (!start || !end) return "—";
  const s = Math.max(0, Math.round((new Date(end).getTime() - new Date(start).getTime()) / 1000));
  return s < 60 ? `${s}s` : `${Math.floor(s / 60)}m ${s % 60}s`;
}

export function shortCommit(c: string | null | undefined): string {
  return c ? c.slice(0, 7) : "—";
}

/** A build whose log is still growing (queued or running). */
export function buildRunning(status: string): boolean {
  return status === "pending" || status === "building";
}
