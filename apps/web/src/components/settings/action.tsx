"use client";
/**
 * What the settings forms share: one change at a time, its outcome shown under the form (the
 * server's own message when refused: it says what to do), then the page read again.
 */
import { useRouter } from "next/navigation";
import { useState } from "react";
import { NoticeLine as SharedNoticeLine, type Notice } from "@/components/notice.tsx";
import { errorText } from "@/components/people/ui.tsx";

export type { Notice };

export const fieldCls =
  "rounded-lg border-0 px-3 py-1.5 text-sm text-slate-900 shadow-sm ring-1 ring-inset ring-slate-300 placeholder:text-slate-400 focus:ring-2 focus:ring-inset focus:ring-indigo-500 focus:outline-none";
export const primaryCls = "rounded-lg bg-indigo-600 px-3.5 py-1.5 text-sm font-semibold text-white shadow-sm hover:bg-indigo-500 disabled:opacity-60";
export const dangerCls = "rounded-lg bg-rose-600 px-3.5 py-1.5 text-sm font-semibold text-white shadow-sm hover:bg-rose-500 disabled:opacity-60";
export const linkDangerCls = "text-xs font-semibold text-rose-600 hover:text-rose-500 disabled:opacity-50";
export const labelCls = "block text-xs font-medium text-slate-600";

/** `run(fn)`: fn returns the line to show once it is done; true when it was. */
export function useAction() {
  const router = useRouter();
  const [busy, setBusy] = useState(false);
  const [notice, setNotice] = useState<Notice>(null);

  async function run(fn: () => Promise<string>): Promise<boolean> {
    setBusy(true);
    setNotice(null);
    try {
      setNotice({ kind: "ok", text: await fn() });
      router.refresh();
      return true;
    } catch (err) {
      setNotice({ kind: "error", text: errorText(err) });
      return false;
    } finally {
      setBusy(false);
    }
  }
  return { busy, notice, run, refuse: (text: string) => setNotice({ kind: "error", text }) };
}

/** The outcome line (notice.tsx's, with the settings forms' margins): `${testId}-error` or `${testId}-status`. */
export function NoticeLine({ notice, testId }: { notice: Notice; testId: string }) {
  return <SharedNoticeLine notice={notice} testId={testId} className="mx-5 my-3" />;
}

/** For viewers: the settings are shown, and who may change them. */
export function ReadOnly({ children }: { children: React.ReactNode }) {
  return <p className="border-t border-slate-100 px-5 py-3 text-xs text-slate-500" data-testid="read-only">{children}</p>;
}

/** "Remove", then the confirming button and Cancel (`extra`, e.g. a force box, before them). */
export function ConfirmRemove({ busy, open, onOpen, onCancel, onConfirm, label, extra }: { busy: boolean; open: boolean; onOpen: () => void; onCancel: () => void; onConfirm: () => void; label: string; extra?: React.ReactNode }) {
  if (!open) {
    return (
      <button type="button" disabled={busy} className="text-xs font-medium text-slate-500 hover:text-rose-600 disabled:opacity-50" onClick={onOpen}>
        Remove
      </button>
    );
  }
  return (
    <span className="inline-flex items-center gap-3">
      {extra}
      <button type="button" disabled={busy} className={linkDangerCls} onClick={onConfirm}>
        {label}
      </button>
      <button type="button" disabled={busy} className="text-xs font-medium text-slate-500 hover:text-slate-700" onClick={onCancel}>
        Cancel
      </button>
    </span>
  );
}

/** A labelled one-line input, in monospace (names, paths, hosts). */
export function TextField({ id, label, value, onChange, placeholder, className = "" }: { id: string; label: React.ReactNode; value: string; onChange: (v: string) => void; placeholder?: string; className?: string }) {
  return (
    <div className={className}>
      <label htmlFor={id} className={labelCls}>
        {label}
      </label>
      <input id={id} value={value} onChange={(e) => onChange(e.target.value)} placeholder={placeholder} autoComplete="off" spellCheck={false} className={`mt-1 block w-full font-mono ${fieldCls}`} />
    </div>
  );
}

/** A form's submit button on a row of its own. */
export function SubmitRow({ busy, label, busyLabel }: { busy: boolean; label: string; busyLabel: string }) {
  return (
    <div className="border-t border-slate-100 px-5 py-3">
      <button type="submit" disabled={busy} className={primaryCls}>
        {busy ? busyLabel : label}
      </button>
    </div>
  );
}
