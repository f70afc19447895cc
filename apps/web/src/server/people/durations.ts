/** "30d", "12h", "90m", "1w" to milliseconds (tokens:create --expires). */
export function parseDuration(s: string): number | null {
  const m = /^(\d{1,5})\s*(m|h|d|w)$/i.exec(s.trim());
  if (!m) return null;
  const n = Number(m[1]);
  if (n <= 0) return null;
  return n * { m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 }[m[2].toLowerCase() as "m" | "h" | "d" | "w"];
}
