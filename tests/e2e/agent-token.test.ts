/**
 * A platform whose agent listens on every address (PAAS_AGENT_HOST=0.0.0.0) with a token:
 * the worker registers the host and deploys through it with the token (health check
 * included), while a caller without the token gets 401 and changes nothing.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import { AgentClient, AgentError } from "@paas/shared";
import { ROOT, fixtureRepo, pushApp, sh, startPlatform, viaRouter, type Platform } from "../helpers/platform.ts";

const TOKEN = "e2e-agent-token-0123456789abcdef";
let p: Platform;
let repo: string;

describe("an agent off loopback, with a token", { timeout: 10 * 60_000 }, () => {
  before(async () => {
    p = await startPlatform("token", 3700, { PAAS_AGENT_HOST: "0.0.0.0", PAAS_AGENT_TOKEN: TOKEN });
    repo = await fixtureRepo("node-hello");
  });
  after(async () => {
    await p?.stop();
  });

  test("a push deploys through the agent with the token", async () => {
    const env = { ...p.env, PAAS_URL: p.webUrl, PAAS_TOKEN: p.adminToken };
    const created = await sh(path.join(ROOT, "apps/cli/bin/paas"), ["apps:create", "hello"], { cwd: ROOT, env });
    assert.equal(created.code, 0, created.stderr + created.stdout);
    const r = await pushApp(p, "hello", repo);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    const answer = await viaRouter(p, "hello");
    assert.equal(answer.status, 200, answer.body.slice(0, 300));
    assert.equal(JSON.parse(answer.body).message, "hello from v1");
  });

  test("the agent refuses callers without the token, and they change nothing", async () => {
    const url = `http://127.0.0.1:${p.env.PAAS_AGENT_PORT}`;
    const agent = new AgentClient(url, TOKEN);
    const before = await agent.containers();
    assert.equal(before.filter((c) => c.labels["paas.app"] === "hello" && c.state === "running").length, 1);
    for (const stranger of [new AgentClient(url), new AgentClient(url, "not-the-token-of-this-agent")]) {
      await assert.rejects(stranger.containers(), (e: AgentError) => e.status === 401 && /PAAS_AGENT_TOKEN/.test(e.message));
      await assert.rejects(stranger.remove(before[0].id, true), (e: AgentError) => e.status === 401);
    }
    assert.deepEqual(await agent.containers(), before);
  });
});
