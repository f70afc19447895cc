import { test } from "node:test";
import assert from "node:assert/strict";
import { loadConfig } from "./config.ts";

test("defaults follow the design's interface", () => {
  const c = loadConfig({ PAAS_DATA_DIR: "/tmp/x" });
  assert.equal(c.webPort, 3000);
  assert.equal(c.httpPort, 8080);
  assert.equal(c.domain, "localhost");
  assert.equal(c.databaseUrl, "file:/tmp/x/paas.db");
  assert.equal(c.appUrl("hello"), "http://hello.localhost:8080/");
  assert.equal(loadConfig({ PAAS_HTTP_PORT: "80", PAAS_DOMAIN: "apps.example.com" }).appUrl("a1"), "http://a1.apps.example.com/");
});

test("a port that is not a number is refused with the variable's name", () => {
  assert.throws(() => loadConfig({ PAAS_WEB_PORT: "abc" }), /PAAS_WEB_PORT must be a port number/);
  assert.throws(() => loadConfig({ PAAS_HTTP_PORT: "70000" }), /PAAS_HTTP_PORT/);
});

test("the agent listens on loopback without a token unless told otherwise; off loopback a token is required", () => {
  const c = loadConfig({});
  assert.equal(c.agentHost, "127.0.0.1");
  assert.equal(c.agentToken, undefined);
  assert.equal(c.agentUrl, "http://127.0.0.1:3101");
  assert.throws(() => loadConfig({ PAAS_AGENT_HOST: "0.0.0.0" }), /PAAS_AGENT_HOST=0\.0\.0\.0 lets other machines reach the host agent, so it needs a token: set PAAS_AGENT_TOKEN/);
  assert.throws(() => loadConfig({ PAAS_AGENT_HOST: "10.1.2.3", PAAS_AGENT_TOKEN: "short" }), /PAAS_AGENT_TOKEN must be at least 16 printable characters/);
  const token = "0123456789abcdef0123";
  assert.equal(loadConfig({ PAAS_AGENT_HOST: "0.0.0.0", PAAS_AGENT_TOKEN: token }).agentUrl, "http://127.0.0.1:3101", "every address: dialled on loopback");
  const remote = loadConfig({ PAAS_AGENT_HOST: "10.1.2.3", PAAS_AGENT_TOKEN: token, PAAS_AGENT_PORT: "4000" });
  assert.deepEqual([remote.agentHost, remote.agentToken, remote.agentUrl], ["10.1.2.3", token, "http://10.1.2.3:4000"]);
  assert.equal(loadConfig({ PAAS_AGENT_HOST: "::1" }).agentUrl, "http://[::1]:3101");
  assert.equal(loadConfig({ PAAS_AGENT_HOST: "127.0.0.2" }).agentToken, undefined, "all of 127/8 is loopback");
});
