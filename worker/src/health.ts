/**
 * Health checks of a new replica: it is healthy once it answers HTTP on its port and passes the
 * checks its release declares (app.json / CHECKS, builders/checks.ts). Its host's agent makes
 * the checks (AgentClient.healthCheck), so the worker, which may run on another host, never
 * dials a bridge address; this module turns the outcome into the pusher's words.
 */
import { z } from "zod";
import { HttpCheckSchema, type AgentClient, type HttpCheck } from "@paas/shared/agent-api";

/**
 * How long a web replica has from its start, or its restart by its agent, to answer on $PORT
 * (Heroku's boot timeout, R10): a deploy's check waits this long, and the reconcile loop
 * replaces a replica still silent past it. PAAS_BOOT_TIMEOUT_MS, default 60 s.
 */
export function bootTimeoutMs(env: NodeJS.ProcessEnv = process.env): number {
  const ms = Number(env.PAAS_BOOT_TIMEOUT_MS);
  return Number.isInteger(ms) && ms > 0 ? ms : 60_000;
}

/** Why a replica is not healthy: it never answered ("start") or answered and failed a check ("check"). */
export interface ReplicaProblem {
  failed: "start" | "check";
  /** In the pusher's words, e.g. "GET /health answered 500, expected 200 (3 attempts)". */
  problem: string;
}

/** Null when the replica answered within `timeoutMs` and passed `checks`, else why not. */
export async function checkReplica(
  agent: AgentClient,
  replica: { runtimeId: string; address: string },
  port: number,
  timeoutMs: number,
  checks: HttpCheck[] = [],
): Promise<ReplicaProblem | null> {
  const r = await agent.healthCheck(replica.runtimeId, { port, timeoutMs, ...(checks.length ? { checks } : {}) });
  if (r.healthy) return null;
  if (r.reason === "exited") return { failed: "start", problem: `the process exited before answering on $PORT${r.exitCode === undefined ? "" : ` (exit code ${r.exitCode})`}` };
  if (r.reason === "check") return { failed: "check", problem: `${r.problem} (${r.attempts} attempt${r.attempts === 1 ? "" : "s"})` };
  return {
    failed: "start",
    problem: `no answer on $PORT (${replica.address}) within ${Math.round(timeoutMs / 1000)} s of its start: the web process must listen on $PORT (${port}) on all interfaces (0.0.0.0, not localhost) and answer HTTP within that time`,
  };
}

/** checkReplica's reason as one line (null: healthy). */
export async function replicaProblem(agent: AgentClient, replica: { runtimeId: string; address: string }, port: number, timeoutMs: number, checks: HttpCheck[] = []): Promise<string | null> {
  const p = await checkReplica(agent, replica, port, timeoutMs, checks);
  return p && (p.failed === "check" ? `its check failed: ${p.problem}` : p.problem);
}

const StoredChecks = z.array(HttpCheckSchema);

/** A release's checks as stored (Release.checks); none: the port answering is the check. */
export function releaseChecks(release: { checks: string | null }): HttpCheck[] {
  return release.checks ? StoredChecks.parse(JSON.parse(release.checks)) : [];
}
