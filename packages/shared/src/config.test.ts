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
