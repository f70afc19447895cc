"use client";
/**
 * An app's custom domains (`paas domains`, `domains:add`, `domains:remove`, `certs:add`): each
 * with its certificate's issuer and expiry. The router serves a change at once; a certificate
 * (PEM, pasted) covers the listed domains its names match.
 */
import { useState } from "react";
import { trpc } from "@/lib/trpc-client.ts";
import { ConfirmRemove, fieldCls, labelCls, NoticeLine, primaryCls, ReadOnly, TextField, useAction } from "./action.tsx";

export interface DomainRow {
  hostname: string;
  url: string;
  cert: { issuer: string | null; expiresAt: Date | null } | null;
}

const day = (d: Date | null) => (d ? new Date(d).toISOString().slice(0, 10) : "—");

export function Domains({ app, domains, canEdit, appHost }: { app: string; domains: DomainRow[]; canEdit: boolean; appHost: string }) {
  const { busy, notice, run, refuse } = useAction();
  const [hostname, setHostname] = useState("");
  const [confirming, setConfirming] = useState<string | null>(null);
  const [cert, setCert] = useState("");
  const [key, setKey] = useState("");

  async function add(e: React.FormEvent) {
    e.preventDefault();
    if (!hostname.trim()) return refuse("Enter a host name, e.g. www.example.com.");
    const ok = await run(async () => {
      const d = await trpc.domains.add.mutate({ app, hostname });
      return `Added ${d.hostname}: the router serves it now. Point its DNS at ${appHost} (a CNAME), then add its certificate below for HTTPS.`;
    });
    if (ok) setHostname("");
  }

  async function remove(host: string) {
    setConfirming(null);
    await run(async () => {
      const d = await trpc.domains.remove.mutate({ app, hostname: host });
      return `Removed ${d.hostname}: the router no longer serves it.`;
    });
  }

  async function addCert(e: React.FormEvent) {
    e.preventDefault();
    if (!cert.trim() || !key.trim()) return refuse("Paste both the certificate (PEM, the chain after it) and its private key (PEM).");
    const ok = await run(async () => {
      const r = await trpc.domains.addCert.mutate({ app, cert, key });
      const left = r.uncovered.length ? `; not covered: ${r.uncovered.join(", ")}` : "";
      return `Certificate from ${r.issuer ?? "its issuer"} (expires ${day(r.expiresAt)}) now serves ${r.domains.join(", ")}${left}.`;
    });
    if (ok) {
      setCert("");
      setKey("");
    }
  }

  return (
    <div data-testid="domains">
      {domains.length === 0 ? (
        <p className="px-5 py-4 text-sm text-slate-500">
          No custom domains: the app answers at <span className="font-mono">{appHost}</span>.{canEdit && " Add one below."}
        </p>
      ) : (
        <table className="w-full text-left text-sm">
          <thead className="bg-slate-50 text-xs font-medium uppercase tracking-wide text-slate-500">
            <tr>
              <th className="px-5 py-2">Domain</th>
              <th className="px-4 py-2">Certificate</th>
              <th className="px-4 py-2">Expires</th>
              {canEdit && <th className="px-4 py-2" />}
            </tr>
          </thead>
          <tbody className="divide-y divide-slate-100">
            {domains.map((d) => (
              <tr key={d.hostname} data-testid="domain-row" data-hostname={d.hostname}>
                <td className="px-5 py-2.5 font-mono text-xs font-medium">
                  <a href={d.url} target="_blank" rel="noreferrer" className="hover:text-indigo-600">
                    {d.hostname}
                  </a>
                </td>
                <td className="px-4 py-2.5 text-slate-600" data-testid="domain-cert">
                  {d.cert ? (d.cert.issuer ?? "unknown issuer") : <span className="text-slate-400">none: the platform&apos;s default certificate</span>}
                </td>
                <td className="px-4 py-2.5 text-slate-600">{d.cert ? day(d.cert.expiresAt) : "—"}</td>
                {canEdit && (
                  <td className="px-4 py-2.5 text-right whitespace-nowrap">
                    <ConfirmRemove busy={busy} open={confirming === d.hostname} onOpen={() => setConfirming(d.hostname)} onCancel={() => setConfirming(null)} onConfirm={() => void remove(d.hostname)} label="Confirm removal" />
                  </td>
                )}
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <NoticeLine notice={notice} testId="domain" />
      {canEdit ? (
        <>
          <form onSubmit={add} noValidate data-testid="domain-form" className="flex flex-wrap items-end gap-3 border-t border-slate-100 px-5 py-4">
            <TextField id="domain-hostname" label="Domain" value={hostname} onChange={setHostname} placeholder="www.example.com" className="min-w-64 flex-1" />
            <button type="submit" disabled={busy} className={primaryCls}>
              {busy ? "Saving…" : "Add domain"}
            </button>
          </form>
          {domains.length > 0 && (
            <details className="border-t border-slate-100 px-5 py-3 text-sm">
              <summary className="cursor-pointer font-medium text-slate-700">Add a certificate (HTTPS)</summary>
              <form onSubmit={addCert} noValidate data-testid="cert-form" className="mt-3 grid gap-3 md:grid-cols-2">
                <div>
                  <label htmlFor="cert-pem" className={labelCls}>
                    Certificate (PEM, its chain after it)
                  </label>
                  <textarea id="cert-pem" rows={5} value={cert} onChange={(e) => setCert(e.target.value)} placeholder="-----BEGIN CERTIFICATE-----" spellCheck={false} className={`mt-1 block w-full font-mono text-xs ${fieldCls}`} />
                </div>
                <div>
                  <label htmlFor="cert-key" className={labelCls}>
                    Private key (PEM)
                  </label>
                  <textarea id="cert-key" rows={5} value={key} onChange={(e) => setKey(e.target.value)} placeholder="-----BEGIN PRIVATE KEY-----" spellCheck={false} autoComplete="off" className={`mt-1 block w-full font-mono text-xs ${fieldCls}`} />
                </div>
                <div className="md:col-span-2">
                  <button type="submit" disabled={busy} className={primaryCls}>
                    {busy ? "Saving…" : "Add certificate"}
                  </button>
                  <span className="ml-3 text-xs text-slate-500">It serves the domains above that its names cover; a newer one replaces the old.</span>
                </div>
              </form>
            </details>
          )}
        </>
      ) : (
        <ReadOnly>Members and admins of the team add and remove domains.</ReadOnly>
      )}
    </div>
  );
}
