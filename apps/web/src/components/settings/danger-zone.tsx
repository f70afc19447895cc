"use client";
/**
 * Destroying the app (`paas apps:destroy NAME --confirm NAME`): its replicas, routes, domains,
 * images, repository, volumes and preview apps go for good, so its name must be typed first.
 */
import { useRouter } from "next/navigation";
import { useState } from "react";
import { trpc } from "@/lib/trpc-client.ts";
import { errorText } from "@/components/people/ui.tsx";
import { dangerCls, NoticeLine, TextField, type Notice } from "./action.tsx";

export function DangerZone({ app }: { app: string }) {
  const router = useRouter();
  const [typed, setTyped] = useState("");
  const [busy, setBusy] = useState(false);
  const [notice, setNotice] = useState<Notice>(null);

  async function destroy(e: React.FormEvent) {
    e.preventDefault();
    if (typed !== app) return setNotice({ kind: "error", text: `Type the app's name, ${app}, to confirm. Nothing was changed.` });
    setBusy(true);
    setNotice(null);
    try {
      await trpc.apps.destroy.mutate({ name: app, confirm: typed });
      // The app's pages are gone: back to the list, read anew.
      router.push("/");
      router.refresh();
    } catch (err) {
      setNotice({ kind: "error", text: errorText(err) });
      setBusy(false);
    }
  }

  return (
    <div data-testid="danger-zone">
      <form onSubmit={destroy} noValidate data-testid="destroy-form" className="flex flex-wrap items-end gap-3 px-5 py-4">
        <p className="w-full text-sm text-slate-600">
          Destroying <span className="font-semibold">{app}</span> stops it and deletes its releases, builds, config, domains, volumes with their data, backups and preview apps. It cannot be undone; the name becomes free.
        </p>
        <TextField id="destroy-confirm" label={<>Type <span className="font-mono font-semibold">{app}</span> to confirm</>} value={typed} onChange={setTyped} className="w-64" />
        <button type="submit" disabled={busy || typed !== app} className={dangerCls}>
          {busy ? "Destroying…" : "Destroy app"}
        </button>
      </form>
      <NoticeLine notice={notice} testId="destroy" />
    </div>
  );
}
