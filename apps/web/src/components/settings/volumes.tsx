"use client";
/**
 * An app's volumes (`paas volumes`, `volumes:add NAME PATH`, `volumes:remove NAME [--force]`):
 * kept across deploys and restarts. Adding or removing one replaces the replicas without
 * downtime; removing one the replicas mount is refused unless forced (its data goes).
 */
import { useState } from "react";
import { trpc } from "@/lib/trpc-client.ts";
import { formatBytes, formatMemory, parseVolumeSize } from "@paas/shared/sizes";
import { ConfirmRemove, NoticeLine, primaryCls, ReadOnly, TextField, useAction } from "./action.tsx";

export interface VolumeRow {
  name: string;
  path: string;
  sizeMb: number;
  usedBytes: number | null;
  sidecars: string[];
}

export function Volumes({ app, volumes, canEdit }: { app: string; volumes: VolumeRow[]; canEdit: boolean }) {
  const { busy, notice, run, refuse } = useAction();
  const [name, setName] = useState("");
  const [path, setPath] = useState("");
  const [size, setSize] = useState("1G");
  const [confirming, setConfirming] = useState<string | null>(null);
  const [force, setForce] = useState(false);

  async function add(e: React.FormEvent) {
    e.preventDefault();
    if (!name.trim() || !path.trim()) return refuse("Enter the volume's name and where the replicas see it, e.g. data and /data.");
    const ok = await run(async () => {
      const v = await trpc.volumes.add.mutate({ app, name: name.trim(), path: path.trim(), sizeMb: parseVolumeSize(size) });
      return `Added volume ${v.name} (${formatMemory(v.sizeMb)}) at ${v.path}${v.replicas ? `: ${v.replicas} replica${v.replicas === 1 ? "" : "s"} mount it` : ": replicas mount it from the next deploy"}.`;
    });
    if (ok) {
      setName("");
      setPath("");
    }
  }

  async function remove(volume: string) {
    const ok = await run(async () => {
      const r = await trpc.volumes.remove.mutate({ app, name: volume, force });
      const left = r.left.length ? ` Not removed on ${r.left.join("; ")}.` : "";
      return `Removed volume ${r.name} and its data${r.replaced ? ` (${r.replaced} replica${r.replaced === 1 ? "" : "s"} replaced without it)` : ""}.${left}`;
    });
    if (ok) {
      setConfirming(null);
      setForce(false);
    }
  }

  return (
    <div data-testid="volumes">
      {volumes.length === 0 ? (
        <p className="px-5 py-4 text-sm text-slate-500">No volumes: the replicas&apos; files are lost at each deploy.{canEdit && " Add a volume below for data that stays."}</p>
      ) : (
        <table className="w-full text-left text-sm">
          <thead className="bg-slate-50 text-xs font-medium uppercase tracking-wide text-slate-500">
            <tr>
              <th className="px-5 py-2">Name</th>
              <th className="px-4 py-2">Path</th>
              <th className="px-4 py-2">Used / size cap</th>
              <th className="px-4 py-2">Used by sidecars</th>
              {canEdit && <th className="px-4 py-2" />}
            </tr>
          </thead>
          <tbody className="divide-y divide-slate-100">
            {volumes.map((v) => (
              <tr key={v.name} data-testid="volume-row" data-name={v.name}>
                <td className="px-5 py-2.5 font-mono text-xs font-medium">{v.name}</td>
                <td className="px-4 py-2.5 font-mono text-xs text-slate-600">{v.path}</td>
                <td className="px-4 py-2.5 font-mono text-xs text-slate-600" data-testid="volume-use" title="what its filesystem holds, as df counts it (on every host that has it)">
                  {v.usedBytes === null ? "—" : formatBytes(v.usedBytes)} / {formatMemory(v.sizeMb)}
                </td>
                <td className="px-4 py-2.5 text-xs text-slate-600">{v.sidecars.join(", ") || "—"}</td>
                {canEdit && (
                  <td className="px-4 py-2.5 text-right whitespace-nowrap">
                    <ConfirmRemove
                      busy={busy}
                      open={confirming === v.name}
                      onOpen={() => setConfirming(v.name)}
                      onCancel={() => setConfirming(null)}
                      onConfirm={() => void remove(v.name)}
                      label={busy ? "Removing…" : "Delete it and its data"}
                      extra={
                        <label className="inline-flex items-center gap-1 text-xs text-slate-600" title="replace the replicas that mount it, then delete it">
                          <input type="checkbox" checked={force} onChange={(e) => setForce(e.target.checked)} aria-label={`force removal of ${v.name}`} /> force
                        </label>
                      }
                    />
                  </td>
                )}
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <NoticeLine notice={notice} testId="volume" />
      {canEdit ? (
        <form onSubmit={add} noValidate data-testid="volume-form" className="flex flex-wrap items-end gap-3 border-t border-slate-100 px-5 py-4">
          <TextField id="volume-name" label="Name" value={name} onChange={setName} placeholder="data" className="w-40" />
          <TextField id="volume-path" label="Path in the replicas" value={path} onChange={setPath} placeholder="/data" className="min-w-48 flex-1" />
          <TextField id="volume-size" label="Size cap" value={size} onChange={setSize} className="w-24" />
          <button type="submit" disabled={busy} className={primaryCls}>
            {busy ? "Replacing replicas…" : "Add volume"}
          </button>
          <p className="w-full text-xs text-slate-500">The running replicas are replaced without downtime so they mount it; its size counts toward the team&apos;s storage quota.</p>
        </form>
      ) : (
        <ReadOnly>Members and admins of the team add and remove volumes.</ReadOnly>
      )}
    </div>
  );
}
