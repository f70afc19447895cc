import { test } from "node:test";
import assert from "node:assert/strict";
import { RoutingTable, normalizeHost } from "./table.ts";

test("normalizeHost strips port, case and trailing dot", () => {
  assert.equal(normalizeHost("Hello.LocalHost:8080"), "hello.localhost");
  assert.equal(normalizeHost("hello.localhost."), "hello.localhost");
  assert.equal(normalizeHost("[::1]:8080"), "[::1]");
  assert.equal(normalizeHost(undefined), "");
});

test("apps() groups hosts by app, with the union of their replicas", () => {
  const t = new RoutingTable();
  t.set("web.localhost", { app: "web", backends: ["10.0.0.2:5000", "10.0.0.3:5000"] });
  t.set("main.web.localhost", { app: "web", backends: ["10.0.0.3:5000"] });
  t.set("API.localhost", { app: "api", backends: [] });
  assert.deepEqual(t.apps(), [
    { app: "api", hosts: ["api.localhost"], backends: [] },
    { app: "web", hosts: ["main.web.localhost", "web.localhost"], backends: ["10.0.0.2:5000", "10.0.0.3:5000"] },
  ]);
});

test("a route that is not an app's is refused and changes nothing", () => {
  const t = new RoutingTable();
  t.set("a.localhost", { app: "a", backends: ["10.0.0.2:5000"] });
  assert.throws(() => t.set("a.localhost", { app: "a", backends: ["10.0.0.2"] }), /"10.0.0.2" is not host:port/);
  assert.throws(() => t.set("a.localhost", { app: "a b", backends: [] }), /is not an app name/);
  assert.throws(() => t.set("a.localhost", { app: "a", backends: ["10.0.0.2:70000"] }), /not host:port/);
  assert.throws(() => t.set("a b.localhost", { app: "a", backends: [] }), /is not a host name/);
  assert.deepEqual(t.apps(), [{ app: "a", hosts: ["a.localhost"], backends: ["10.0.0.2:5000"] }]);
});

test("replaceAll drops routes that are gone and reports the refused ones", () => {
  const t = new RoutingTable();
  t.set("a.localhost", { app: "a", backends: ["10.0.0.1:1"] });
  const refused = t.replaceAll([
    ["b.localhost", { app: "b", backends: ["10.0.0.2:2"] }],
    ["c.localhost", { app: "c", backends: ["nope"] }],
  ]);
  assert.equal(refused.length, 1);
  assert.deepEqual(
    t.apps().map((a) => a.app),
    ["b"],
  );
});

test("a host's certificate is its file's sha256; anything else is refused", () => {
  const t = new RoutingTable();
  const sha = "a".repeat(64);
  t.set("www.example.com", { app: "a", backends: ["10.0.0.2:5000"], cert: sha });
  t.set("a.localhost", { app: "a", backends: ["10.0.0.2:5000"] });
  assert.deepEqual([...t.certs()], [["www.example.com", sha]]);
  assert.throws(() => t.set("x.example.com", { app: "a", backends: [], cert: "../../etc/shadow" }), /is not a sha256/);
  t.set("www.example.com", null);
  assert.equal(t.certs().size, 0);
});
