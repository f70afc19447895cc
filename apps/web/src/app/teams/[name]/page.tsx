import type { Metadata } from "next";
import { Card, Shell } from "@/components/shell.tsx";
import { AuditLog } from "@/components/quotas/audit-log.tsx";
import { QuotaBars } from "@/components/quotas/quota-bars.tsx";
import { Invitations } from "@/components/people/invitations.tsx";
import { Members } from "@/components/people/members.tsx";
import { Tokens } from "@/components/people/tokens.tsx";
import { orNotFound, requireCaller } from "@/server/caller.ts";

export const metadata: Metadata = { title: "Team" };
export const dynamic = "force-dynamic";

export default async function TeamPage({ params }: { params: Promise<{ name: string }> }) {
  const { name } = await params;
  const api = await requireCaller();
  const [me, quota, members] = await Promise.all([api.auth.whoami(), orNotFound(api.quotas.get({ team: name })), orNotFound(api.teams.members({ team: name }))]);
  const role = me.teams.find((t) => t.name === name)?.role ?? (me.isOperator ? "admin" : "viewer");
  const canManage = role === "admin";
  // The audit log is for the team's admins and operators (authz.ts "audit").
  const [events, pending, tokens] = await Promise.all([
    canManage ? api.audit.list({ team: name, limit: 50 }) : null,
    canManage ? api.teams.invitations({ team: name }) : [],
    api.tokens.list(),
  ]);
  return (
    <Shell email={me.email}>
      <h1 className="mb-1 text-2xl font-semibold tracking-tight">Team {name}</h1>
      <p className="mb-6 text-sm text-slate-500">Your role: {role}</p>
      <div className="space-y-6">
        <Card title="Members and roles">
          <Members team={name} members={members} canManage={canManage} me={me.email} />
        </Card>
        {canManage && (
          <Card title="Invitations">
            <Invitations team={name} pending={pending} />
          </Card>
        )}
        <Card title="API tokens">
          <Tokens team={name} tokens={tokens.filter((t) => t.team === name)} />
        </Card>
        <Card title="Quotas">
          <QuotaBars quota={quota} canSet={me.isOperator} />
        </Card>
        {events && (
          <Card title="Audit log">
            <AuditLog events={events} />
          </Card>
        )}
      </div>
    </Shell>
  );
}
