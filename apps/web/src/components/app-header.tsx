/**
 * The top of an app's pages: the breadcrumb, its name and latest release, team and deploy
 * branch, its URL, and the tabs between its Overview and its Settings (Heroku's layout).
 */
import Link from "next/link";
import { AppUrlLink } from "./app-url.tsx";
import { StatusBadge } from "./status-badge.tsx";
import { timeAgo } from "@/lib/format.ts";

export interface AppHeaderInfo {
  name: string;
  team: string;
  url: string;
  deployBranch: string;
  createdAt: Date;
  latestRelease: { version: number; status: string } | null;
}

const TABS = [
  { id: "overview", label: "Overview", path: "" },
  { id: "settings", label: "Settings", path: "/settings" },
] as const;

export function AppHeader({ app, tab }: { app: AppHeaderInfo; tab: (typeof TABS)[number]["id"] }) {
  return (
    <>
      <nav className="mb-3 text-sm text-slate-500">
        <Link href="/" className="hover:text-slate-700">
          Apps
        </Link>{" "}
        / <span className="text-slate-700">{app.name}</span>
      </nav>
      <div className="mb-6 flex flex-wrap items-start justify-between gap-4">
        <div>
          <div className="flex items-center gap-3">
            <h1 className="text-2xl font-semibold tracking-tight">{app.name}</h1>
            {app.latestRelease ? (
              <StatusBadge status={app.latestRelease.status} label={`v${app.latestRelease.version} ${app.latestRelease.status}`} />
            ) : (
              <StatusBadge status="pending" label="not deployed" />
            )}
          </div>
          <p className="mt-1 text-sm text-slate-500">
            Team <span className="font-medium text-slate-700">{app.team}</span> · deploys from{" "}
            <code className="font-mono text-xs">{app.deployBranch}</code> · created {timeAgo(app.createdAt)}
          </p>
        </div>
        <AppUrlLink url={app.url} />
      </div>
      <nav aria-label="app pages" data-testid="app-tabs" className="mb-8 flex gap-6 border-b border-slate-200 text-sm font-medium">
        {TABS.map((t) => (
          <Link
            key={t.id}
            href={`/apps/${app.name}${t.path}`}
            aria-current={t.id === tab ? "page" : undefined}
            className={`-mb-px border-b-2 px-1 pb-2.5 ${t.id === tab ? "border-indigo-600 text-indigo-700" : "border-transparent text-slate-500 hover:border-slate-300 hover:text-slate-700"}`}
          >
            {t.label}
          </Link>
        ))}
      </nav>
    </>
  );
}
