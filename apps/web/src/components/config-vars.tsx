"use client";
/**
 * An app's config vars, values masked. "Reveal" asks the API for one value
 * (config.reveal checks the caller may configure the app); it is shown until
 * "Hide" or the page is left, and never put in the page's HTML by the server.
 * Setting or removing a var calls config.set / config.unset, which make a new
 * release and redeploy; the page then re-renders with it in the releases list.
 */
import { TRPCClientError } from "@trpc/client";
import { useRouter } from "next/navigation";
import { useState } from "react";
import { trpc } from "@/lib/trpc-client.ts";
import { keyProblem } from "@paas/shared/config-vars";
import { NoticeLine, type Notice } from "@/components/notice.tsx";

const button = "text-xs font-medium text-indigo-600 hover:text-indigo-500 disabled:opacity-50";

function errorText(err: unknown): string {
  if (err instanceof TRPCClientError) return err.message;
  return "could not reach the server: is it running? Nothing was changed.";
}

export function ConfigVars({ app, vars }: { app: string; vars: Record<string, string> }) {
  const router = useRouter();
  const [shown, setShown] = useState<Record<string, string>>({});
  const [confirming, setConfirming] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [notice, setNotice] = useState<Notice>(null);
  const keys = Object.keys(vars);

  const forget = (key: string) => setShown(({ [key]: _gone, ...rest }) => rest);

  async function reveal(key: string) {
    setNotice(null);
    try {
      const r = await trpc.config.reveal.mutate({ app, key });
      setShown((s) => ({ ...s, [key]: r.value }));
    } catch (err) {
      setNotice({ kind: "error", text: errorText(err) });
    }
  }

  /** Runs a config change (it deploys, so it can take seconds); true when it was saved. */
  async function change(what: string, run: () => Promise<{ message: string }>): Promise<boolean> {
    setBusy(true);
    setNotice(null);
    try {
      const r = await run();
      setNotice({ kind: "ok", text: `${what}: ${r.message}` });
      router.refresh();
      return true;
    } catch (err) {
      setNotice({ kind: "error", text: errorText(err) });
      return false;
    } finally {
      setBusy(false);
      setConfirming(null);
    }
  }

  async function remove(key: string) {
    forget(key);
    await change(`Removed ${key}`, () => trpc.config.unset.mutate({ app, keys: [key] }));
  }

  async function set(key: string, value: string): Promise<boolean> {
    forget(key);
    return change(`Set ${key}`, () => trpc.config.set.mutate({ app, vars: { [key]: value } }));
  }

  return (
    <div>
      {keys.length === 0 ? (
        <p className="px-5 py-4 text-sm text-slate-500">No config vars yet: add one below, or with <code className="font-mono">paas config:set KEY=VALUE -a {app}</code>.</p>
      ) : (
        <ul className="divide-y divide-slate-100 text-sm">
          {keys.map((k) => (
            <li key={k} className="flex items-center gap-3 px-5 py-2.5" data-testid="config-var">
              <span className="w-48 shrink-0 truncate font-mono text-xs font-semibold text-slate-700">{k}</span>
              <span className="min-w-0 flex-1 truncate font-mono text-xs text-slate-600" data-testid="config-value">
                {k in shown ? shown[k] : vars[k]}
              </span>
              {k in shown ? (
                <button type="button" className={button} onClick={() => forget(k)}>
                  Hide
                </button>
              ) : (
                <button type="button" className={button} onClick={() => void reveal(k)}>
                  Reveal
                </button>
              )}
              {confirming === k ? (
                <>
                  <button type="button" disabled={busy} className="text-xs font-semibold text-rose-600 hover:text-rose-500 disabled:opacity-50" onClick={() => void remove(k)}>
                    {busy ? "Removing…" : "Confirm removal"}
                  </button>
                  <button type="button" disabled={busy} className="text-xs font-medium text-slate-500 hover:text-slate-700 disabled:opacity-50" onClick={() => setConfirming(null)}>
                    Cancel
                  </button>
                </>
              ) : (
                <button type="button" disabled={busy} className="text-xs font-medium text-slate-500 hover:text-rose-600 disabled:opacity-50" onClick={() => setConfirming(k)}>
                  Remove
                </button>
              )}
            </li>
          ))}
        </ul>
      )}
      <NoticeLine notice={notice} testId="config" />
      <ConfigVarForm busy={busy} onInvalid={(text) => setNotice({ kind: "error", text })} onSubmit={set} />
    </div>
  );
}

/** Name + value; the name is checked here by the API's own rule before anything is sent. */
function ConfigVarForm({
  busy,
  onInvalid,
  onSubmit,
}: {
  busy: boolean;
  onInvalid: (text: string) => void;
  onSubmit: (key: string, value: string) => Promise<boolean>;
}) {
  const [key, setKey] = useState("");
  const [value, setValue] = useState("");

  async function submit(e: React.FormEvent) {
    e.preventDefault();
    const name = key.trim();
    const problem = name === "" ? "Enter a name for the variable, e.g. DATABASE_URL." : keyProblem(name);
    if (problem) return onInvalid(problem);
    if (await onSubmit(name, value)) {
      setKey("");
      setValue("");
    }
  }

  const field =
    "block w-full rounded-lg border-0 px-3 py-1.5 font-mono text-xs text-slate-900 shadow-sm ring-1 ring-inset ring-slate-300 placeholder:text-slate-400 focus:ring-2 focus:ring-inset focus:ring-indigo-500 focus:outline-none";
  return (
    <form onSubmit={submit} noValidate data-testid="config-form" className="flex flex-wrap items-end gap-3 border-t border-slate-100 px-5 py-4 mt-3">
      <div className="w-56">
        <label htmlFor="config-key" className="block text-xs font-medium text-slate-600">
          Name
        </label>
        <input
          id="config-key"
          value={key}
          onChange={(e) => setKey(e.target.value)}
          placeholder="DATABASE_URL"
          autoComplete="off"
          spellCheck={false}
          className={`mt-1 ${field}`}
        />
      </div>
      <div className="min-w-64 flex-1">
        <label htmlFor="config-value" className="block text-xs font-medium text-slate-600">
          Value
        </label>
        <textarea
          id="config-value"
          rows={1}
          value={value}
          onChange={(e) => setValue(e.target.value)}
          autoComplete="off"
          spellCheck={false}
          className={`mt-1 resize-y ${field}`}
        />
      </div>
      <button
        type="submit"
        disabled={busy}
        className="rounded-lg bg-indigo-600 px-3.5 py-1.5 text-sm font-semibold text-white shadow-sm hover:bg-indigo-500 disabled:opacity-60"
      >
        {busy ? "Deploying…" : "Set"}
      </button>
    </form>
  );
}
