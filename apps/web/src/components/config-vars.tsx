"use client";
/**
 * An app's config vars, values masked. "Reveal" asks the API for one value
 * (config.reveal checks the caller may configure the app); it is shown until
 * "Hide" or the page is left, and never put in the page's HTML by the server.
 */
import { TRPCClientError } from "@trpc/client";
import { useState } from "react";
import { trpc } from "@/lib/trpc-client.ts";

export function ConfigVars({ app, vars }: { app: string; vars: Record<string, string> }) {
  const [shown, setShown] = useState<Record<string, string>>({});
  const [error, setError] = useState<string | null>(null);
  const keys = Object.keys(vars);
  if (keys.length === 0) {
    return <p className="px-5 py-4 text-sm text-slate-500">No config vars. Set one with <code className="font-mono">paas config:set KEY=VALUE -a {app}</code>.</p>;
  }
  async function reveal(key: string) {
    setError(null);
    try {
      const r = await trpc.config.reveal.mutate({ app, key });
      setShown((s) => ({ ...s, [key]: r.value }));
    } catch (err) {
      setError(err instanceof TRPCClientError ? err.message : String(err));
    }
  }
  return (
    <div>
      {error && <p className="px-5 pt-3 text-sm text-rose-700">{error}</p>}
      <ul className="divide-y divide-slate-100 text-sm">
        {keys.map((k) => (
          <li key={k} className="flex items-center gap-3 px-5 py-2.5" data-testid="config-var">
            <span className="w-48 shrink-0 truncate font-mono text-xs font-semibold text-slate-700">{k}</span>
            <span className="min-w-0 flex-1 truncate font-mono text-xs text-slate-600" data-testid="config-value">
              {k in shown ? shown[k] : vars[k]}
            </span>
            {k in shown ? (
              <button
                type="button"
                className="text-xs font-medium text-indigo-600 hover:text-indigo-500"
                onClick={() => setShown(({ [k]: _gone, ...rest }) => rest)}
              >
                Hide
              </button>
            ) : (
              <button type="button" className="text-xs font-medium text-indigo-600 hover:text-indigo-500" onClick={() => void reveal(k)}>
                Reveal
              </button>
            )}
          </li>
        ))}
      </ul>
    </div>
  );
}
