import type { Metadata } from "next";
import Link from "next/link";
import { AppMetrics } from "@/components/app-metrics.tsx";
import { AppLogs } from "@/components/app-logs.tsx";
import { AppHeader } from "@/components/app-header.tsx";
import { AutoRefresh } from "@/components/auto-refresh.tsx";
import { BuildLog } from "@/components/build-log.tsx";
import { ConfigVars } from "@/components/config-vars.tsx";
import { CrashWarning } from "@/components/crash-warning.tsx";
import { LiveBuildLog } from "@/components/live-build-log.tsx";
import { Processes } from "@/components/processes.tsx";
import { Sidecars } from "@/components/sidecars.tsx";
import { Drains } from "@/components/drains.tsx";
import { Backups } from "@/components/backups.tsx";
import { Card, Empty, Shell } from "@/components/shell.tsx";
import { StatusBadge } from "@/components/status-badge.tsx";
import { buildRunning, duration, shortCommit, timeAgo } from "@/lib/format.ts";
import { orNotFound, requireCaller } from "@/server/caller.ts";

type Props = { params: Promise<{ name: string }> };

export async function generateMetadata({ params }: Props): Promise<Metadata> {
  return { title: (await params).name };
}

export default async function AppPage({ params }: Props) {
  const { name } = await params;
  const api = await requireCaller();
  const [me, app] = await Promise.all([api.auth.whoami(), orNotFound(api.apps.info({ name }))]);
  const [releases, builds, configVars, ps] = await Promise.all([
    api.releases.list({ app: name }),
    api.builds.list({ app: name }),
    api.config.get({ app: name }), // masked: values only through "Reveal"
    api.ps.list({ app: name }),
  ]);
  const latest = builds[0] ? await api.builds.get({ app: name, id: builds[0].id }) : null;

  const inProgress =
    builds.some((b) => buildRunning(b.status)) ||
    releases.some((r) => r.status === "pending" || r.status === "deploying") ||
    app.crashes.some((c) => c.state === "restarting") ||
    ps.replicas.some((r) => r.state === "starting" || r.state === "stopping");

  return (
    <Shell email={me.email}>
      <AutoRefresh active={inProgress} />
      <AppHeader app={app} tab="overview" />

      <CrashWarning crashes={app.crashes} />

      <div className="grid gap-6 lg:grid-cols-2">
        <Card title="Releases">
          {releases.length === 0 ? (
            <Empty>No releases yet: push to deploy.</Empty>
          ) : (
            <table className="w-full text-left text-sm">
              <thead className="bg-slate-50 text-xs font-medium uppercase tracking-wide text-slate-500">
                <tr>
                  <th className="px-4 py-2">Version</th>
                  <th className="px-4 py-2">Status</th>
                  <th className="px-4 py-2">Change</th>
                  <th className="px-4 py-2">Created</th>
                </tr>
              </thead>
              <tbody className="divide-y divide-slate-100">
                {releases.map((r) => (
                  <tr key={r.version} data-testid="release-row">
                    <td className="px-4 py-2.5 font-mono text-xs font-medium">v{r.version}</td>
                    <td className="px-4 py-2.5">
                      <StatusBadge status={r.status} />
                    </td>
                    <td className="max-w-56 truncate px-4 py-2.5 text-slate-700" title={r.description}>
                      {r.description}
                      {/* The code it runs, unless the description already names it ("Deploy 3f2a9c1"). */}
                      {r.commit && !r.description.includes(shortCommit(r.commit)) && (
                        <span className="ml-2 font-mono text-xs text-slate-400">{shortCommit(r.commit)}</span>
                      )}
                      {r.error && (
                        <div className="truncate text-xs text-red-700" title={r.error} data-testid="release-error">
                          {r.error}
                        </div>
                      )}
                    </td>
                    <td className="whitespace-nowrap px-4 py-2.5 text-slate-500">{timeAgo(r.createdAt)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </Card>

        <Card title="Builds">
          {builds.length === 0 ? (
            <Empty>
              No builds yet: <code className="font-mono">git push paas main</code>
            </Empty>
          ) : (
            <ul className="divide-y divide-slate-100 text-sm">
              {builds.slice(0, 10).map((b) => (
                <li key={b.id} data-testid="build-row">
                  <Link href={`/apps/${app.name}/builds/${b.id}`} className="flex items-center gap-3 px-5 py-2.5 hover:bg-slate-50">
                    <StatusBadge status={b.status} />
                    <span className="font-mono text-xs text-slate-600">{shortCommit(b.commit)}</span>
                    <span className="min-w-0 flex-1 truncate text-slate-700">{b.message ?? ""}</span>
                    <span className="shrink-0 text-xs text-slate-400">
                      {timeAgo(b.createdAt)}
                      {b.finishedAt ? ` · ${duration(b.startedAt ?? b.createdAt, b.finishedAt)}` : ""}
                    </span>
                  </Link>
                </li>
              ))}
            </ul>
          )}
        </Card>
      </div>

      <div className="mt-6">
        <Card title="Config vars">
          <ConfigVars app={app.name} vars={configVars} />
        </Card>
      </div>

      <div className="mt-6">
        <Card title="Processes">
          <Processes app={app.name} formation={ps.formation} replicas={ps.replicas} />
        </Card>
      </div>

      <div className="mt-6">
        <Card title="Sidecars">
          <Sidecars app={app.name} />
        </Card>
      </div>
      <div className="mt-6"><Card title="Backups"><Backups app={app.name} /></Card></div>

      <div className="mt-6">
        <Card title="Log drains">
          <Drains app={app.name} />
        </Card>
      </div>

      <div className="mt-6">
        <Card title="Logs">
          <AppLogs app={app.name} types={ps.formation.map((f) => f.type)} />
        </Card>
      </div>

      {latest && (
        <div className="mt-6">
          <Card
            title={`Latest build log · ${shortCommit(latest.commit)}`}
            action={
              <Link href={`/apps/${app.name}/builds/${latest.id}`} className="text-sm font-medium text-indigo-600 hover:text-indigo-500">
                Full log →
              </Link>
            }
          >
            <div className="p-4">
              {/* The stored log is written when the build ends: until then, follow it live. */}
              {buildRunning(latest.status) ? (
                <LiveBuildLog key={latest.id} buildId={latest.id} maxHeight="24rem" />
              ) : (
                <BuildLog log={latest.log} maxHeight="24rem" />
              )}
            </div>
          </Card>
        </div>
      )}
      <AppMetrics app={app.name} />
    </Shell>
  );
}
