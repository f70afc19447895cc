import Link from "next/link";
import { Card, Empty, Shell } from "@/components/shell.tsx";
import { StatusBadge } from "@/components/status-badge.tsx";
import { TeamLinks } from "@/components/people/team-links.tsx";
import { timeAgo } from "@/lib/format.ts";
import { requireCaller } from "@/server/caller.ts";

export default async function HomePage() {
  const api = await requireCaller();
  const [me, apps] = await Promise.all([api.auth.whoami(), api.apps.list()]);
  return (
    <Shell email={me.email}>
      <div className="mb-6 flex flex-wrap items-end justify-between gap-4">
        <div>
          <h1 className="text-2xl font-semibold tracking-tight">Apps</h1>
          <p className="mt-1 text-sm text-slate-500">
            {me.teams.length === 0
              ? "You are not in a team yet."
              : <TeamLinks teams={me.teams} />}
          </p>
        </div>
        <code className="rounded-lg bg-white px-3 py-1.5 font-mono text-xs text-slate-600 shadow-sm ring-1 ring-slate-200">
          npx paas apps:create NAME
        </code>
      </div>
      <Card title={`${apps.length} app${apps.length === 1 ? "" : "s"}`}>
        {apps.length === 0 ? (
          <Empty>
            No apps yet. Create one with <code className="font-mono">npx paas apps:create NAME</code>, then{" "}
            <code className="font-mono">git push paas main</code>.
          </Empty>
        ) : (
          <table className="w-full text-left text-sm">
            <thead className="bg-slate-50 text-xs font-medium uppercase tracking-wide text-slate-500">
              <tr>
                <th className="px-5 py-2.5">Name</th>
                <th className="px-5 py-2.5">Team</th>
                <th className="px-5 py-2.5">Release</th>
                <th className="px-5 py-2.5">Last build</th>
                <th className="px-5 py-2.5">URL</th>
              </tr>
            </thead>
            <tbody className="divide-y divide-slate-100">
              {apps.map((a) => (
                <tr key={a.name} data-testid="app-row" className="hover:bg-slate-50/70">
                  <td className="px-5 py-3">
                    <Link href={`/apps/${a.name}`} className="font-medium text-indigo-600 hover:text-indigo-500">
                      {a.name}
                    </Link>
                  </td>
                  <td className="px-5 py-3 text-slate-600">{a.team}</td>
                  <td className="px-5 py-3">
                    {a.latestRelease ? (
                      <span className="inline-flex items-center gap-2">
                        <span className="font-mono text-xs text-slate-500">v{a.latestRelease.version}</span>
                        <StatusBadge status={a.latestRelease.status} />
                      </span>
                    ) : (
                      <span className="text-slate-400">not deployed</span>
                    )}
                  </td>
                  <td className="px-5 py-3">
                    {a.latestBuild ? <StatusBadge status={a.latestBuild.status} /> : <span className="text-slate-400">—</span>}
                  </td>
                  <td className="px-5 py-3">
                    <a href={a.url} className="font-mono text-xs text-slate-600 hover:text-indigo-600" target="_blank" rel="noreferrer">
                      {a.url.replace(/^https?:\/\//, "").replace(/\/$/, "")}
                    </a>
                    <div className="text-xs text-slate-400">created {timeAgo(a.createdAt)}</div>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Card>
    </Shell>
  );
}
