/** When the watch asks for a reconcile pass: a table of what runs against what the last pass left. */
import assert from "node:assert/strict";
import { test } from "node:test";
import type { ContainerInfo, ReconcileExpected } from "@paas/shared";
import { reconcileNeeded } from "./reconcile-watch.ts";

const AGENT = "http://127.0.0.1:9";
const replica = (id: string, more: Partial<ContainerInfo> = {}): ContainerInfo => ({
  id,
  name: `app-web-${id}`,
  image: "app/a:v1",
  imageId: "sha256:x",
  state: "running",
  ip: "10.0.0.2",
  restartCount: 0,
  labels: { "paas.app": "a", "paas.release": "v1", "paas.process": "web" },
  createdAt: "2026-01-01T00:00:00Z",
  ...more,
});
const expected: ReconcileExpected = {
  hosts: [{ agentUrl: AGENT, replicas: [{ id: "c1", address: "10.0.0.2:5000", restartCount: 0 }] }],
  routes: { "a.localhost": ["10.0.0.2:5000"] },
};
const routes = { "a.localhost": JSON.stringify({ app: "a", backends: ["10.0.0.2:5000"] }) };
const on = (...cs: ContainerInfo[]) => new Map([[AGENT, cs]]);

test("nothing changed: no pass", () => {
  assert.equal(reconcileNeeded(expected, on(replica("c1")), routes), null);
  // a build's container and unlabelled ones are not replicas
  const build = replica("b1", { labels: { "paas.app": "a", "paas.build": "x", "paas.process": "web" } });
  assert.equal(reconcileNeeded(expected, on(replica("c1"), build, replica("o1", { labels: {} })), routes), null);
});

test("a pass when a replica is gone, down, restarted or moved, a stray replica runs, or a route changed", () => {
  const cases: [string, Map<string, ContainerInfo[]>, Record<string, string>, RegExp][] = [
    ["gone", on(), routes, /gone/],
    ["exited", on(replica("c1", { state: "exited", ip: undefined })), routes, /exited/],
    ["restarted", on(replica("c1", { restartCount: 1 })), routes, /restarted/],
    ["moved", on(replica("c1", { ip: "10.0.0.3" })), routes, /moved to 10\.0\.0\.3/],
    ["stray", on(replica("c1"), replica("c2")), routes, /not a replica the last pass knew/],
    ["route gone", on(replica("c1")), {}, /route of a\.localhost/],
    ["route changed", on(replica("c1")), { "a.localhost": JSON.stringify({ app: "a", backends: [] }) }, /route of a\.localhost/],
  ];
  for (const [what, running, table, want] of cases) assert.match(reconcileNeeded(expected, running, table) ?? "no pass", want, what);
});

test("an agent that did not answer is not taken for lost replicas", () => {
  assert.equal(reconcileNeeded(expected, new Map(), routes), null);
});

test("a pass when the last one asked for another look by a time (a web replica not answering yet, a retirement's grace), not before", () => {
  const due = { ...expected, dueAt: 1_000_000 };
  assert.equal(reconcileNeeded(due, on(replica("c1")), routes, 999_999), null);
  assert.match(reconcileNeeded(due, on(replica("c1")), routes, 1_000_000) ?? "no pass", /another look/);
});

test("sidecars: a pass when one the last pass left is gone or an unknown one runs; a crashed one (its agent restarts it) needs none", () => {
  const withSidecar: ReconcileExpected = { ...expected, hosts: [{ ...expected.hosts[0]!, sidecars: ["s1"] }] };
  const sidecar = (id: string, more: Partial<ContainerInfo> = {}) => replica(id, { ip: undefined, labels: { "paas.app": "a", "paas.sidecar": "probe", "paas.sidecar.of": "c1" }, ...more });
  assert.equal(reconcileNeeded(withSidecar, on(replica("c1"), sidecar("s1")), routes), null);
  assert.equal(reconcileNeeded(withSidecar, on(replica("c1"), sidecar("s1", { state: "exited", restartCount: 1 })), routes), null);
  assert.match(reconcileNeeded(withSidecar, on(replica("c1")), routes) ?? "no pass", /sidecar s1 is gone/);
  assert.match(reconcileNeeded(withSidecar, on(replica("c1"), sidecar("s1"), sidecar("s2")), routes) ?? "no pass", /not a sidecar the last pass knew/);
  // What an older pass left (no sidecars listed) asks for nothing about them.
  assert.equal(reconcileNeeded(expected, on(replica("c1"), sidecar("s2")), routes), null);
});

test("sidecars the app has: a pass while a running replica lacks one, until one runs (or its agent is restarting it)", () => {
  const wants: ReconcileExpected = { ...expected, hosts: [{ agentUrl: AGENT, replicas: [{ ...expected.hosts[0]!.replicas[0]!, sidecars: ["probe"] }], sidecars: [] }] };
  const sidecar = (id: string, more: Partial<ContainerInfo> = {}) => replica(id, { ip: undefined, labels: { "paas.app": "a", "paas.sidecar": "probe", "paas.sidecar.of": "c1" }, ...more });
  assert.match(reconcileNeeded(wants, on(replica("c1")), routes) ?? "no pass", /has no probe sidecar/);
  assert.match(reconcileNeeded(wants, on(replica("c1"), sidecar("s1", { labels: { "paas.app": "a", "paas.sidecar": "probe", "paas.sidecar.of": "c9" } })), routes) ?? "no pass", /has no probe sidecar/, "another replica's");
  assert.match(reconcileNeeded(wants, on(replica("c1"), sidecar("s1", { state: "exited", stoppedByUser: true })), routes) ?? "no pass", /has no probe sidecar/, "stopped for good");
  const up = { ...wants, hosts: [{ ...wants.hosts[0]!, sidecars: ["s1"] }] };
  assert.equal(reconcileNeeded(up, on(replica("c1"), sidecar("s1")), routes), null);
  assert.equal(reconcileNeeded(up, on(replica("c1"), sidecar("s1", { state: "exited", restartCount: 2 })), routes), null);
});
