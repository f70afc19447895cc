import { test } from "node:test";
import assert from "node:assert/strict";
import { replicaLabel } from "./charts.ts";

test("CPU and memory series are named by replica, and a container of the app that is none by its own name", () => {
  assert.equal(replicaLabel({ app: "a", process: "web", replica: "1", container: "a-web-1" }), "web.1");
  assert.equal(replicaLabel({ app: "a", process: "web", replica: "2", sidecar: "logging", container: "a-web-2-logging" }), "web.2 (logging)");
  // Prometheus drops the empty process and replica labels of a one-off or a backup's job.
  assert.equal(replicaLabel({ app: "a", container: "a-run-lq3x" }), "a-run-lq3x");
  assert.equal(replicaLabel({ app: "a" }), "other");
});
