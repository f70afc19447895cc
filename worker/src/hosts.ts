/**
 * Hosts that run containers. Each host has an agent; the worker only talks to
 * hosts through their agent's API (AgentClient), never to the runtime directly.
 * Agents share one token (PAAS_AGENT_TOKEN); the database keeps their URLs, never the token.
 */
import os from "node:os";
import { db, type Host } from "@paas/db";
import { AgentClient, config } from "@paas/shared";

/** Registers (or refreshes) this machine's agent as a host. */
export async function registerLocalHost(): Promise<Host> {
  const agentUrl = config().agentUrl;
  const health = await agentFor({ agentUrl }).health();
  const data = {
    agentUrl,
    memoryMb: Math.floor(health.memoryBytes / 2 ** 20),
    cpus: health.cpus,
    lastHeartbeat: new Date(),
  };
  return db.host.upsert({ where: { name: health.hostname || os.hostname() }, create: { name: health.hostname || os.hostname(), ...data }, update: data });
}

/** Picks the host for a new replica. One host for now: the most recently seen. */
export async function pickHost(): Promise<Host> {
  const host = await db.host.findFirst({ orderBy: { lastHeartbeat: "desc" } });
  return host ?? registerLocalHost();
}

export const agentFor = (host: Pick<Host, "agentUrl">) => new AgentClient(host.agentUrl, config().agentToken);
