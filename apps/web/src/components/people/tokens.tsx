"use client";
/** API tokens of a team: create (the token is shown once) and revoke. */
import { useRouter } from "next/navigation";
import { useState } from "react";
import { trpc } from "@/lib/trpc-client.ts";
import { buttonCls, ErrorLine, errorText, inputCls, smallButtonCls } from "./ui.tsx";

type Token = { id: string; name: string; prefix: string; role: string | null; owner: string; state: string; expiresAt: Date | null };

export function Tokens({ team, tokens }: { team: string; tokens: Token[] }) {
  const router = useRouter();
  const [name, setName] = useState("");
  const [role, setRole] = useState<"member" | "viewer">("member");
  const [expires, setExpires] = useState("");
  const [shown, setShown] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  async function create(e: React.FormEvent) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    setShown(null);
    try {
      const t = await trpc.tokens.create.mutate({ team, name: name || "dashboard", role, expires: expires || undefined });
      setShown(t.token);
      setName("");
      router.refresh();
    } catch (err) {
      setError(errorText(err));
    } finally {
      setBusy(false);
    }
  }

  return (
    <div className="space-y-4 px-5 py-4">
      <form onSubmit={create} className="flex flex-wrap gap-2">
        <input id="token-name" placeholder="name" value={name} onChange={(e) => setName(e.target.value)} className={`max-w-[10rem] ${inputCls}`} />
        <select id="token-role" value={role} onChange={(e) => setRole(e.target.value as "member")} className="rounded-lg border-slate-300 text-sm">
          <option value="member">member</option>
          <option value="viewer">viewer</option>
        </select>
        <input id="token-expires" placeholder="expires (e.g. 30d)" value={expires} onChange={(e) => setExpires(e.target.value)} className={`max-w-[10rem] ${inputCls}`} />
        <button type="submit" disabled={busy} className={buttonCls}>
          Create token
        </button>
      </form>
      <ErrorLine error={error} testId="token-error" />
      {shown && (
        <div className="rounded-lg bg-amber-50 p-3 text-sm ring-1 ring-amber-200">
          <p className="text-amber-900">Copy it now: it is shown only once.</p>
          <code data-testid="new-token" className="mt-1 block break-all font-mono text-xs">
            {shown}
          </code>
        </div>
      )}
      <ul className="divide-y divide-slate-100 text-sm">
        {tokens.map((t) => (
          <li key={t.id} data-testid="token-row" className="flex items-center justify-between py-2">
            <span>
              <span className="font-medium">{t.name}</span> <code className="font-mono text-xs text-slate-500">{t.prefix}…</code>{" "}
              <span className="text-slate-400">
                {t.role ?? "user's role"} · {t.owner} · {t.state}
                {t.expiresAt ? ` · expires ${new Date(t.expiresAt).toISOString().slice(0, 10)}` : ""}
              </span>
            </span>
            {t.state !== "revoked" && (
              <button
                type="button"
                className={smallButtonCls}
                onClick={async () => {
                  await trpc.tokens.revoke.mutate({ id: t.id }).catch((err) => setError(errorText(err)));
                  router.refresh();
                }}
              >
                Revoke
              </button>
            )}
          </li>
        ))}
      </ul>
    </div>
  );
}
