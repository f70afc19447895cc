"use client";
/**
 * Moving the app to another team (`paas apps:transfer TEAM`, platform operators): its builds,
 * releases, settings and preview apps go with it, and its replicas are restarted in that team's
 * cgroup; it keeps serving meanwhile.
 */
import { useState } from "react";
import { trpc } from "@/lib/trpc-client.ts";
import { fieldCls, labelCls, NoticeLine, primaryCls, useAction } from "./action.tsx";

export function Transfer({ app, team, teams }: { app: string; team: string; teams: string[] }) {
  const { busy, notice, run, refuse } = useAction();
  const [to, setTo] = useState("");

  async function submit(e: React.FormEvent) {
    e.preventDefault();
    if (!to.trim()) return refuse("Enter the team to move the app to.");
    await run(async () => {
      const r = await trpc.teams.moveApp.mutate({ app, team: to.trim() });
      const left = r.notRestarted.map((n) => ` ${n.app} was not restarted (${n.error}): its replicas count to ${r.from}'s limits until \`paas ps:restart -a ${n.app}\`.`).join("");
      return `Moved ${r.app} from ${r.from} to ${r.to}${r.restarted ? ` (its replicas restarted under ${r.to}'s limits)` : ""}: its members and quotas apply now.${left}`;
    });
  }

  return (
    <div data-testid="transfer">
      <form onSubmit={submit} noValidate data-testid="transfer-form" className="flex flex-wrap items-end gap-3 px-5 py-4">
        <div className="w-64">
          <label htmlFor="transfer-team" className={labelCls}>
            Move to team
          </label>
          <input id="transfer-team" list="transfer-teams" value={to} onChange={(e) => setTo(e.target.value)} placeholder="team name" autoComplete="off" spellCheck={false} className={`mt-1 block w-full font-mono ${fieldCls}`} />
          <datalist id="transfer-teams">
            {teams
              .filter((t) => t !== team)
              .map((t) => (
                <option key={t} value={t} />
              ))}
          </datalist>
        </div>
        <button type="submit" disabled={busy} className={primaryCls}>
          {busy ? "Moving…" : "Transfer"}
        </button>
        <p className="w-full text-xs text-slate-500">
          Now in team <span className="font-medium">{team}</span>. Its builds, releases, settings and preview apps move with it, refused if the team's quotas would not hold; its replicas are replaced one by one (no downtime) to run under that team's limits. Platform operators only.
        </p>
      </form>
      <NoticeLine notice={notice} testId="transfer" />
    </div>
  );
}
