"use client";
/**
 * An app's settings (`paas apps:update`): preview apps, what a push does while a build runs,
 * the build time limit (saved at once, used from the next push), and the outbound network,
 * which deploys a release of the current image with it (zero downtime, kept only if it serves).
 */
import { useState } from "react";
import { removedPreviewText } from "@paas/shared/previews";
import { trpc } from "@/lib/trpc-client.ts";
import { fieldCls, labelCls, NoticeLine, ReadOnly, SubmitRow, useAction } from "./action.tsx";

export interface AppSettingsValues {
  previews: boolean;
  buildMode: string;
  buildTimeoutSeconds: number | null;
  egress: string;
  egressAllow: string;
}

const egressText = (s: AppSettingsValues) => (s.egress === "limited" ? `limited to ${s.egressAllow}` : s.egress);
const row = "grid gap-2 border-t border-slate-100 px-5 py-4 md:grid-cols-[14rem_1fr]";
const help = "mt-1 text-xs text-slate-500";

export function AppSettings({ app, deployBranch, domain, settings, canEdit }: { app: string; deployBranch: string; domain: string; settings: AppSettingsValues; canEdit: boolean }) {
  const build = useAction();
  const egress = useAction();
  const [branch, setBranch] = useState(deployBranch);
  const [previews, setPreviews] = useState(settings.previews);
  const [buildMode, setBuildMode] = useState(settings.buildMode);
  const [timeout, setTimeoutText] = useState(settings.buildTimeoutSeconds === null ? "" : String(settings.buildTimeoutSeconds));
  const [net, setNet] = useState(settings.egress);
  const [allow, setAllow] = useState(settings.egressAllow);

  async function saveBuild(e: React.FormEvent) {
    e.preventDefault();
    const t = timeout.trim();
    const seconds = t === "" ? null : Number(t);
    if (seconds !== null && (!Number.isInteger(seconds) || seconds < 1)) return build.refuse("The build time limit is whole seconds (e.g. 900), or empty for the platform's default.");
    await build.run(async () => {
      const r = await trpc.apps.update.mutate({ name: app, deployBranch: branch, previews, buildMode: buildMode as "queue" | "supersede", buildTimeoutSeconds: seconds });
      const saved = `Saved: deploys from ${r.deployBranch}, previews ${r.previews ? "on" : "off"}, build mode ${r.buildMode}, build time limit ${r.buildTimeoutSeconds ? `${r.buildTimeoutSeconds}s` : "the platform's default"}. They apply from the next push.`;
      return r.removedPreview ? `${saved} ${removedPreviewText(r.name, r.deployBranch, r.removedPreview)}` : saved;
    });
  }

  async function saveEgress(e: React.FormEvent) {
    e.preventDefault();
    if (net === "limited" && !allow.trim()) return egress.refuse("List where the app may connect, e.g. 10.0.0.5:5432,db.example.com:5432 — or choose on or off.");
    await egress.run(async () => {
      const r = await trpc.apps.egress.mutate(net === "limited" ? { name: app, allow } : { name: app, egress: net as "on" | "off" });
      return r.message;
    });
  }

  if (!canEdit) return <SettingsView deployBranch={deployBranch} settings={settings} />;
  return (
    <div data-testid="app-settings">
      <form onSubmit={saveBuild} noValidate data-testid="build-settings-form">
        <div className={row}>
          <label htmlFor="settings-deploy-branch" className={labelCls}>
            Deploy branch
          </label>
          <div>
            <input id="settings-deploy-branch" value={branch} onChange={(e) => setBranch(e.target.value)} autoComplete="off" spellCheck={false} className={`w-64 font-mono ${fieldCls}`} />
            <p className={help}>
              A push of this branch deploys the app; the running release stays until then. Another branch is refused (or, with previews on, deploys a preview app).
            </p>
          </div>
        </div>
        <div className={row}>
          <label htmlFor="settings-previews" className={labelCls}>
            Preview apps
          </label>
          <div>
            <label className="inline-flex items-center gap-2 text-sm">
              <input id="settings-previews" type="checkbox" checked={previews} onChange={(e) => setPreviews(e.target.checked)} />
              {previews ? "on" : "off"}
            </label>
            <p className={help}>
              On: a push of another branch deploys it as its own app at <span className="font-mono">BRANCH.{app}.{domain}</span>. Applies from the next push.
            </p>
          </div>
        </div>
        <div className={row}>
          <label htmlFor="settings-build-mode" className={labelCls}>
            A push during a build
          </label>
          <div>
            <select id="settings-build-mode" value={buildMode} onChange={(e) => setBuildMode(e.target.value)} className={fieldCls}>
              <option value="queue">queue: waits for the running build</option>
              <option value="supersede">supersede: cancels the running build</option>
            </select>
            <p className={help}>Applies to the next push.</p>
          </div>
        </div>
        <div className={row}>
          <label htmlFor="settings-build-timeout" className={labelCls}>
            Build time limit (seconds)
          </label>
          <div>
            <input id="settings-build-timeout" inputMode="numeric" value={timeout} onChange={(e) => setTimeoutText(e.target.value)} placeholder="platform default" className={`w-40 font-mono ${fieldCls}`} />
            <p className={help}>A build running longer is stopped and the push rejected. Empty: the platform&apos;s default. Applies from the next build.</p>
          </div>
        </div>
        <NoticeLine notice={build.notice} testId="build-settings" />
        <SubmitRow busy={build.busy} label="Save" busyLabel="Saving…" />
      </form>

      <form onSubmit={saveEgress} noValidate data-testid="egress-form" className="border-t border-slate-200">
        <div className={row}>
          <div className={labelCls}>Outbound network</div>
          <fieldset>
            <legend className="sr-only">Outbound network</legend>
            <div className="flex flex-wrap gap-4 text-sm">
              {(
                [
                  ["on", "on: anywhere"],
                  ["off", "off: nothing beyond the host"],
                  ["limited", "limited to a list"],
                ] as const
              ).map(([value, label]) => (
                <label key={value} className="inline-flex items-center gap-1.5">
                  <input type="radio" name="egress" value={value} checked={net === value} onChange={() => setNet(value)} aria-label={`outbound network ${value}`} />
                  {label}
                </label>
              ))}
            </div>
            {net === "limited" && (
              <div className="mt-3">
                <label htmlFor="settings-egress-allow" className={labelCls}>
                  Allowed destinations, DEST:PORT[/udp] separated by commas
                </label>
                <textarea id="settings-egress-allow" rows={2} value={allow} onChange={(e) => setAllow(e.target.value)} placeholder="10.0.0.5:5432,db.example.com:5432,10.0.0.2:514/udp" spellCheck={false} className={`mt-1 block w-full font-mono text-xs ${fieldCls}`} />
              </div>
            )}
            <p className={help}>
              Now: <span data-testid="egress-now">{egressText(settings)}</span>. A change deploys a new release of the running code with it (no downtime) and is kept only if that release serves; host names are resolved at deploy.
            </p>
          </fieldset>
        </div>
        <NoticeLine notice={egress.notice} testId="egress" />
        <SubmitRow busy={egress.busy} label="Apply" busyLabel="Deploying…" />
      </form>
    </div>
  );
}

/** What viewers see: the values, no controls (the server would refuse a change). */
function SettingsView({ deployBranch, settings }: { deployBranch: string; settings: AppSettingsValues }) {
  const items: [string, string, string][] = [
    ["Deploy branch", deployBranch, "deploy-branch"],
    ["Preview apps", settings.previews ? "on" : "off", "previews-now"],
    ["A push during a build", settings.buildMode === "supersede" ? "supersede: cancels the running build" : "queue: waits for the running build", "build-mode-now"],
    ["Build time limit", settings.buildTimeoutSeconds ? `${settings.buildTimeoutSeconds}s` : "the platform's default", "build-timeout-now"],
    ["Outbound network", egressText(settings), "egress-now"],
  ];
  return (
    <div data-testid="app-settings">
      <dl>
        {items.map(([label, value, testId]) => (
          <div key={label} className={row}>
            <dt className={labelCls}>{label}</dt>
            <dd className="font-mono text-sm" data-testid={testId}>
              {value}
            </dd>
          </div>
        ))}
      </dl>
      <ReadOnly>Members and admins of the team change these settings.</ReadOnly>
    </div>
  );
}
