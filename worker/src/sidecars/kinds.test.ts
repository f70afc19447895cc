/** The kinds registry: a registered kind resolves its own spec; any other name is a custom sidecar needing --image. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { customKind, DEFAULT_SIDECAR_MEMORY_MB, KINDS, kindOf, resolveSidecar, SidecarKindError } from "./kinds.ts";

test("a custom sidecar: the image as given, net app and 64 MB by default", () => {
  assert.deepEqual(resolveSidecar({ kind: "probe", image: "stack/busybox", cmd: ["sleep", "1"] }, { name: "a" }), {
    image: "stack/busybox",
    cmd: ["sleep", "1"],
    env: {},
    volumes: [],
    net: "app",
    memoryMb: DEFAULT_SIDECAR_MEMORY_MB,
  });
  assert.equal(resolveSidecar({ kind: "p", image: "x", net: "none", memoryMb: 32 }, { name: "a" }).net, "none");
});

test("a name that is no kind and no --image is refused, naming what to give", () => {
  assert.throws(() => resolveSidecar({ kind: "nosuch" }, { name: "a" }), (e: Error) => e instanceof SidecarKindError && /--image IMAGE/.test(e.message));
});

test("a registered kind wins over the custom one", () => {
  KINDS.test = { description: "t", resolve: () => ({ image: "stack/debug", env: {}, volumes: [], net: "app", memoryMb: 16 }) };
  try {
    assert.notEqual(kindOf("test"), customKind);
    assert.equal(resolveSidecar({ kind: "test" }, { name: "a" }).image, "stack/debug");
  } finally {
    delete KINDS.test;
  }
});

test("logging: busybox reading the replica's own log volume, read-only, on no network", () => {
  const spec = resolveSidecar({ kind: "logging" }, { name: "shop" });
  assert.equal(spec.image, "stack/busybox");
  assert.equal(spec.net, "none");
  assert.deepEqual(spec.volumes, [], "no app volume: the log directory is the replica's own");
  const replica = { app: { name: "shop", team: { name: "t" } }, processType: "web", number: 2, runtimeId: "c1", release: 3 };
  assert.deepEqual(kindOf("logging").perReplica!(spec, replica), { volumes: [{ name: "shop_log_web.2", path: "/var/log/app", readOnly: true }] });
});

test("metrics: busybox in the replica's network namespace, labelled for the agent's Prometheus targets; bad paths and ports refused", () => {
  const spec = resolveSidecar({ kind: "metrics" }, { name: "shop" });
  assert.equal(spec.image, "stack/busybox");
  assert.equal(spec.net, "app");
  assert.deepEqual(spec.env, { METRICS_PATH: "/metrics" });
  assert.deepEqual(resolveSidecar({ kind: "metrics", env: { METRICS_PATH: "/prom/x", METRICS_PORT: "8080" } }, { name: "shop" }).env, { METRICS_PATH: "/prom/x", METRICS_PORT: "8080" });
  const replica = { app: { name: "shop", team: { name: "t" } }, processType: "web", number: 1, runtimeId: "c1", release: 1 };
  assert.deepEqual(kindOf("metrics").perReplica!(spec, replica), { labels: { "paas.metrics": "9102/cgi-bin/metrics" } });
  assert.throws(() => resolveSidecar({ kind: "metrics", env: { METRICS_PATH: "metrics; rm -rf /" } }, { name: "a" }), /give a path like \/metrics/);
  assert.throws(() => resolveSidecar({ kind: "metrics", env: { METRICS_PORT: "9102" } }, { name: "a" }), /not 9102/);
  assert.throws(() => resolveSidecar({ kind: "metrics", env: { METRICS_PORT: "http" } }, { name: "a" }), SidecarKindError);
});
