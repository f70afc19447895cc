/**
 * An audit event's outcome as the web server writes it (apps/web/src/server/audit/record.ts):
 * "ok", "denied: <why>" (authorization or a quota refused the change) or "failed: <why>"
 * (tried, not done). Split for the CLI's and the dashboard's audit log.
 */
export type OutcomeKind = "ok" | "denied" | "failed";

export function splitOutcome(outcome: string): { kind: OutcomeKind; why: string } {
  const i = outcome.indexOf(": ");
  const kind = i < 0 ? outcome : outcome.slice(0, i);
  return { kind: kind === "denied" || kind === "failed" ? kind : "ok", why: i < 0 ? "" : outcome.slice(i + 2) };
}
