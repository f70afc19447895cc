/**
 * An app's Settings tab: its custom domains and certificates, volumes, settings, the move to
 * another team and its destruction, as the CLI does them. Viewers see the values only; each
 * form is shown to those authz.ts lets make the change (apps.info's `can`).
 */
import type { Metadata } from "next";
import { AppHeader } from "@/components/app-header.tsx";
import { Card, Shell } from "@/components/shell.tsx";
import { AppSettings } from "@/components/settings/app-settings.tsx";
import { DangerZone } from "@/components/settings/danger-zone.tsx";
import { Domains } from "@/components/settings/domains.tsx";
import { Transfer } from "@/components/settings/transfer.tsx";
import { Volumes } from "@/components/settings/volumes.tsx";
import { config } from "@paas/shared";
import { orNotFound, requireCaller } from "@/server/caller.ts";

type Props = { params: Promise<{ name: string }> };

export async function generateMetadata({ params }: Props): Promise<Metadata> {
  return { title: `${(await params).name} · Settings` };
}

export default async function AppSettingsPage({ params }: Props) {
  const { name } = await params;
  const api = await requireCaller();
  const [me, app] = await Promise.all([api.auth.whoami(), orNotFound(api.apps.info({ name }))]);
  const [domains, volumes, teams] = await Promise.all([
    api.domains.list({ app: name }),
    api.volumes.list({ app: name }),
    app.can.transfer ? api.teams.list() : [],
  ]);
  const appHost = new URL(app.url).host;

  return (
    <Shell email={me.email}>
      <AppHeader app={app} tab="settings" />
      {!app.can.configure && (
        <p data-testid="viewer-note" className="mb-6 rounded-lg bg-slate-100 px-4 py-3 text-sm text-slate-600">
          Your role in team {app.team} is {app.can.role ?? "none"}: you see the settings; members and admins change them.
        </p>
      )}
      <div className="space-y-6">
        <Card title="Domains">
          <Domains app={app.name} domains={domains} canEdit={app.can.configure} appHost={appHost} />
        </Card>
        <Card title="Volumes">
          <Volumes app={app.name} volumes={volumes} canEdit={app.can.deploy} />
        </Card>
        <Card title="App settings">
          <AppSettings app={app.name} deployBranch={app.deployBranch} domain={config().domain} settings={app.settings} canEdit={app.can.configure} />
        </Card>
        {app.can.transfer && (
          <Card title="Transfer">
            <Transfer app={app.name} team={app.team} teams={teams.map((t) => t.name)} />
          </Card>
        )}
        {app.can.delete && (
          <section className="overflow-hidden rounded-xl bg-white shadow-sm ring-1 ring-rose-300">
            <div className="border-b border-rose-100 bg-rose-50 px-5 py-3">
              <h2 className="text-sm font-semibold text-rose-800">Danger zone</h2>
            </div>
            <DangerZone app={app.name} />
          </section>
        )}
      </div>
    </Shell>
  );
}
