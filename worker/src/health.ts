/**
 * Health checks of a new replica: it is healthy once it answers HTTP on its port. Its host's
 * agent makes the check (AgentClient.healthCheck), so the worker, which may run on another
 * host, never dials a bridge address; this module turns the outcome into the pusher's words.
 */
import type { AgentClient } from "@paas/shared";

/** Null when the replica answered within `timeoutMs`, else the reason it did not. */
export async function replicaProblem(agent: AgentClient, replica: { runtimeId: string; address: string }, port: number, timeoutMs: number): Promise<string | null> {
  const r = await agent.healthCheck(replica.runtimeId, { port, timeoutMs });
  if (r.healthy) return null;
  if (r.reason === "exited") return `the process exited before answering on $PORT${r.exitCode === undefined ? "" : ` (exit code ${r.exitCode})`}`;
  return `no answer on $PORT (${replica.address}) within ${Math.round(timeoutMs / 1000)}s`;
}
