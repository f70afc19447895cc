/**
 * infra/up and infra/down (shell) reach the agent through this: its address comes from
 * config(), the one rule for where the agent listens and how it is dialled (PAAS_AGENT_HOST,
 * PAAS_AGENT_URL, PAAS_AGENT_TOKEN), not from a 127.0.0.1 of their own.
 *
 *   node dist/services/agent-ctl.mjs url          prints the URL the agent answers on
 *   node dist/services/agent-ctl.mjs remove-all   removes every container (mounts, cgroups,
 *                                                 addresses cleaned up by the agent)
 */
import { AgentClient, config } from "@paas/shared";

const cfg = config();
const command = process.argv[2];
if (command === "url") {
  console.log(cfg.agentUrl);
} else if (command === "remove-all") {
  const agent = new AgentClient(cfg.agentUrl, cfg.agentToken);
  const failed: string[] = [];
  await Promise.all(
    (await agent.containers()).map((c) => agent.remove(c.id, true).catch((err: Error) => failed.push(`${c.id}: ${err.message}`))),
  );
  if (failed.length) {
    console.error(`could not remove ${failed.length} container(s):\n  ${failed.join("\n  ")}`);
    process.exit(1);
  }
} else {
  console.error("usage: agent-ctl.mjs url | remove-all");
  process.exit(2);
}
