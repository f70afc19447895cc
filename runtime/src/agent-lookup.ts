/**
 * Which agent, if any, owns a data dir's runtime state: the one that answers on its CLI
 * socket. A connect is the liveness test (a killed agent's socket file refuses it), so no
 * pid is trusted; the agent's pid and HTTP address come from the file it writes beside
 * the socket (sock/agent.json, mode 0600 in a 0700 dir: root only, as the socket, which
 * already gives full control; so the token kept there opens nothing more).
 *
 * Use:
 *   publishAgent(layout, { pid: process.pid, url, token });   // the agent, once it listens
 *   const a = await findAgent(layout);                         // the CLI: undefined when none runs
 *   unpublishAgent(layout);                                    // the agent, as it stops
 */
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import type { Layout } from "./paths.ts";
import { readJson } from "./util.ts";

export interface AgentAddress {
  pid: number;
  /** Where its HTTP API listens, as the CLI on this host dials it. */
  url: string;
  token?: string;
}

export function publishAgent(layout: Layout, a: AgentAddress) {
  fs.mkdirSync(path.dirname(layout.agentInfo), { recursive: true, mode: 0o700 });
  const tmp = `${layout.agentInfo}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(a), { mode: 0o600 });
  fs.renameSync(tmp, layout.agentInfo);
}

export function unpublishAgent(layout: Layout) {
  fs.rmSync(layout.agentInfo, { force: true });
}

/** The agent answering on this data dir's CLI socket, with its address; undefined when none does. */
export async function findAgent(layout: Layout, timeoutMs = 2000): Promise<(Partial<AgentAddress> & { socket: string }) | undefined> {
  const socket = layout.cliSocket;
  const up = await new Promise<boolean>((resolve) => {
    const c = net.connect(socket);
    const done = (v: boolean) => (c.destroy(), resolve(v));
    c.setTimeout(timeoutMs, () => done(true)); // accepted but slow: it is there
    c.on("connect", () => done(true));
    c.on("error", () => done(false));
  });
  if (!up) return undefined;
  return { ...readJson<AgentAddress>(layout.agentInfo), socket };
}
