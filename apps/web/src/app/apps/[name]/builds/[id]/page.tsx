import type { Metadata } from "next";
import Link from "next/link";
import { AppUrlLink } from "@/components/app-url.tsx";
import { BuildLog } from "@/components/build-log.tsx";
import { LiveBuildLog } from "@/components/live-build-log.tsx";
import { Shell } from "@/components/shell.tsx";
import { StatusBadge } from "@/components/status-badge.tsx";
import { buildRunning, duration, shortCommit, timeAgo } from "@/lib/format.ts";
import { orNotFound, requireCaller } from "@/server/caller.ts";

type Props = { params: Promise<{ name: string; id: string }> };

export async function generateMetadata({ params }: Props): Promise<Metadata> {
  const { name } = await params;
  return { title: `Build · ${name}` };
}

export default async function BuildPage({ params }: Props) {
  const { name, id } = await params;
  const api = await requireCaller();
  const [me, build] = await Promise.all([api.auth.whoami(), orNotFound(api.builds.get({ app: name, id }))]);
  const facts: [string, React.ReactNode][] = [
    ["Commit", <code key="c" className="font-mono text-xs">{shortCommit(build.commit)}</code>],
    ["Builder", build.builder ?? "—"],
    ["Pushed by", build.user ?? "—"],
    ["Started", timeAgo(build.startedAt ?? build.createdAt)],
    ["Duration", duration(build.startedAt ?? build.createdAt, build.finishedAt)],
    ["Release", build.releases.length ? build.releases.map((v) => `v${v}`).join(", ") : "—"],
  ];
  return (
    <Shell email={me.email}>
      <nav className="mb-3 text-sm text-slate-500">
        <Link href="/" className="hover:text-slate-700">
          Apps
        </Link>{" "}
        /{" "}
        <Link href={`/apps/${name}`} className="hover:text-slate-700">
          {name}
        </Link>{" "}
        / <span className="text-slate-700">build {shortCommit(build.commit)}</span>
      </nav>
      <div className="mb-6 flex flex-wrap items-center gap-3">
        <h1 className="text-2xl font-semibold tracking-tight">Build {shortCommit(build.commit)}</h1>
        <StatusBadge status={build.status} />
        {build.message && <span className="truncate text-slate-500">{build.message}</span>}
        {build.status === "succeeded" && (
          <AppUrlLink url={build.appUrl} className="ml-auto" />
        )}
      </div>
      <dl className="mb-6 grid grid-cols-2 gap-px overflow-hidden rounded-xl bg-slate-200 shadow-sm ring-1 ring-slate-200 sm:grid-cols-3 lg:grid-cols-6">
        {facts.map(([k, v]) => (
          <div key={k} className="bg-white px-4 py-3">
            <dt className="text-xs font-medium uppercase tracking-wide text-slate-500">{k}</dt>
            <dd className="mt-1 truncate text-sm text-slate-900">{v}</dd>
          </div>
        ))}
      </dl>
      {buildRunning(build.status) ? (
        <LiveBuildLog buildId={build.id} maxHeight="70vh" />
      ) : (
        <BuildLog log={build.log} maxHeight="70vh" />
      )}
      {/* Below the log: the reason often points at "the lines above". */}
      {build.error && (
        <p data-testid="build-error" className="mt-4 rounded-lg bg-rose-50 px-4 py-3 text-sm text-rose-700 ring-1 ring-inset ring-rose-600/20">
          {build.error}
        </p>
      )}
    </Shell>
  );
}
