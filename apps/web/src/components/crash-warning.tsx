/**
 * The app page's warning when replicas crash: each one's exit code (and OOM when its memory
 * limit killed it), how often it was restarted, and the last lines of its output.
 */
import { timeAgo } from "@/lib/format.ts";
import type { ReplicaCrash } from "@/server/replica-crashes.ts";

export function CrashWarning({ crashes }: { crashes: ReplicaCrash[] }) {
  if (crashes.length === 0) return null;
  return (
    <section role="alert" data-testid="crash-warning" className="mb-6 rounded-xl bg-rose-50 p-4 text-sm text-rose-900 ring-1 ring-rose-200">
      <h2 className="font-semibold">
        {crashes.length === 1 ? "A replica is crashing" : `${crashes.length} replicas are crashing`}: each is restarted with a growing delay
      </h2>
      <ul className="mt-3 space-y-3">
        {crashes.map((c) => (
          <li key={c.id} data-testid="crash">
            <p>
              <span className="font-mono text-xs">{c.processType}</span> of v{c.release}:{" "}
              {c.oomKilled ? (
                <strong>killed for using too much memory (OOM)</strong>
              ) : (
                <>
                  exited with code <strong data-testid="crash-exit-code">{c.exitCode ?? "unknown"}</strong>
                </>
              )}{" "}
              {timeAgo(c.lastExitAt)}, restarted {c.restartCount} time{c.restartCount === 1 ? "" : "s"}
              {c.state === "restarting" ? " (down now, waiting for its next start)" : ""}
            </p>
            {c.lastLines.length > 0 && (
              <pre className="mt-1 max-h-48 overflow-auto rounded bg-rose-100/60 p-2 font-mono text-xs text-rose-950" data-testid="crash-output">
                {c.lastLines.join("\n")}
              </pre>
            )}
          </li>
        ))}
      </ul>
    </section>
  );
}
