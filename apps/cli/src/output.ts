/** Terminal output: aligned tables and status colours (plain when piped). */
import picocolors from "picocolors";

/**
 * Colours only on a terminal (or with FORCE_COLOR): picocolors alone also colours
 * whenever CI is set, which breaks scripts that parse our output in CI.
 */
const colour = "FORCE_COLOR" in process.env || (!("NO_COLOR" in process.env) && Boolean(process.stdout.isTTY));
export const pc = picocolors.createColors(colour);

const ANSI = /\x1b\[[0-9;]*m/g;
const visible = (s: string) => s.replace(ANSI, "").length;

export function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => visible(r[i] ?? ""))));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c + " ".repeat(widths[i] - visible(c))))
      .join("  ")
      .trimEnd();
  return [pc.bold(line(headers)), ...rows.map(line)].join("\n");
}

export function status(s: string): string {
  if (s === "succeeded" || s === "active" || s === "running") return pc.green(s);
  if (s === "failed" || s === "crashed") return pc.red(s);
  if (s === "superseded" || s === "stopped") return pc.dim(s);
  return pc.yellow(s);
}

export function when(d: Date | string | null | undefined): string {
  if (!d) return "";
  return new Date(d).toISOString().replace("T", " ").slice(0, 19) + "Z";
}

export const short = (c: string | null | undefined) => (c ? c.slice(0, 7) : "");

export function json(value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 2) + "\n");
}

export const heading = (s: string) => pc.bold(`=== ${s}`);
