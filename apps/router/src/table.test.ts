import { test } from "node:test";
import assert from "node:assert/strict";
import { RoutingTable, normalizeHost } from "./table.ts";

test("normalizeHost strips port, case and trailing dot", () => {
  assert.equal(normalizeHost("Hello.LocalHost:8080"), "hello.localhost");
  assert.equal(normalizeHost("hello.localhost."), "hello.localhost");
  assert.equal(normalizeHost("[::1]:8080"), "[::1]");
  assert.equal(normalizeHost(undefined), "");
});

test("unknown host resolves to no-app", () => {
  const t = new RoutingTable("localhost");
  assert.deepEqual(t.resolve("nope.localhost:8080"), { kind: "no-app", host: "nope.localhost" });
});

test("an app without replicas resolves to no-replica", () => {
  const t = new RoutingTable("localhost");
  t.set("hello.localhost", { app: "hello", backends: [] });
  assert.deepEqual(t.resolve("hello.localhost"), { kind: "no-replica", app: "hello" });
});

test("replicas are chosen round-robin", () => {
  const t = new RoutingTable("localhost");
  t.set("hello.localhost", { app: "hello", backends: ["10.0.0.2:5000", "10.0.0.3:5000"] });
  const picks = [1, 2, 3, 4].map(() => {
    const r = t.resolve("HELLO.localhost:8080");
    assert.equal(r.kind, "backend");
    return r.kind === "backend" ? r.backend : "";
  });
  assert.deepEqual(picks, ["10.0.0.2:5000", "10.0.0.3:5000", "10.0.0.2:5000", "10.0.0.3:5000"]);
});

test("replaceAll drops routes that are gone", () => {
  const t = new RoutingTable("localhost");
  t.set("a.localhost", { app: "a", backends: ["1.1.1.1:1"] });
  t.replaceAll([["b.localhost", { app: "b", backends: ["2.2.2.2:2"] }]]);
  assert.equal(t.resolve("a.localhost").kind, "no-app");
  assert.equal(t.resolve("b.localhost").kind, "backend");
});
