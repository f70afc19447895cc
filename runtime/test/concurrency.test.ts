/**
 * Two processes on one data dir: a start under way in one (the CLI in its own process) is
 * not taken for a dead container by the other (an agent's supervisor), which would free its
 * cgroups and network in the middle of it. The helper is made slow (a wrapper that sleeps
 * before exec'ing paas-run) to hold the start open; a second Runtime on the same data dir
 * stands for the other process (its per-container locks are its own).
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";
import { Runtime } from "../src/containers.ts";
import { helperPath } from "../src/util.ts";
import type { Layout } from "../src/paths.ts";
import { cgroups, testRuntime, until } from "./helpers.ts";

let rt: Runtime;
let cleanup: () => Promise<void>;
let layout: Layout;
const slowHelper = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "paas-slow-helper-")), "paas-run");

before(async () => {
  ({ rt, cleanup, layout } = await testRuntime("c", 64));
  // this process's helper server starts on first use, through the slow wrapper
  fs.writeFileSync(slowHelper, `#!/bin/sh\nsleep 1.5\nexec ${helperPath()} "$@"\n`, { mode: 0o755 });
  process.env.PAAS_RUNTIME_HELPER = slowHelper;
});
after(async () => {
  await cleanup();
  fs.rmSync(path.dirname(slowHelper), { recursive: true, force: true });
});

test("a start under way elsewhere reads as running, and another process's clean-up leaves it alone", async () => {
  const other = new Runtime(rt.opts);
  const c = rt.create({ image: "stack/busybox", cmd: ["sh", "-c", "echo up; sleep 600"], memoryBytes: 32 << 20, cgroupParent: "t/a", network: "none" });
  const starting = rt.start(c.id);
  // the start is under way (its record names this process) and its monitor not up: inside the helper's 1.5 s
  const record = path.join(layout.container(c.id), "config.json");
  await until("the start under way", () => JSON.parse(fs.readFileSync(record, "utf8")).startedBy === process.pid);
  assert.equal(fs.existsSync(path.join(layout.container(c.id), "monitor.pid")), false, "the monitor is not up yet");
  assert.equal(other.get(c.id).state, "running", "not taken for a container that died");
  // what the agent's supervisor does with an exited container: free its cgroups and network
  assert.equal(await other.afterExit(c.id), undefined);
  const info = await starting;
  assert.equal(info.state, "running");
  assert.ok(cgroups.exists(rt.inspect(c.id).cgroup), "its cgroup is there");
  await rt.remove(c.id, { force: true });
});
