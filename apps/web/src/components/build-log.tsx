/** A build log in a terminal-like panel; step lines and errors stand out. */
import { lineKind } from "@paas/shared/build-log";

export function BuildLog({ log, maxHeight = "32rem" }: { log: string; maxHeight?: string }) {
  const lines = log.replace(/\n$/, "").split("\n");
  return (
    <div className="overflow-hidden rounded-lg bg-slate-950 shadow-inner ring-1 ring-slate-900/10">
      <pre
        data-testid="build-log"
        className="overflow-auto p-4 font-mono text-[12.5px] leading-relaxed text-slate-300"
        style={{ maxHeight }}
      >
        {log.length === 0 ? (
          <span className="text-slate-500">(no output yet)</span>
        ) : (
          lines.map((line, i) => (
            <div key={i} className="flex gap-4">
              <span className="w-8 shrink-0 select-none text-right text-slate-600">{i + 1}</span>
              <span className={lineClass(line)}>{line || " "}</span>
            </div>
          ))
        )}
      </pre>
    </div>
  );
}

function lineClass(line: string): string {
  const base = "min-w-0 whitespace-pre-wrap break-all ";
  const kind = lineKind(line);
  if (kind === "deployed") return base + "font-semibold text-emerald-300";
  if (kind === "step") return base + "font-semibold text-sky-300";
  // A tool's own error lines (npm's ERR!, a compiler's "error") count as errors here too.
  if (kind === "error" || /\b(error|failed|ERR!)/i.test(line)) return base + "text-rose-300";
  if (/\bwarn(ing)?\b/i.test(line)) return base + "text-amber-200";
  return base;
}
