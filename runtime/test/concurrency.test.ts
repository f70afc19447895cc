/**
 * A start under way (its record says started, its monitor not up yet) is not taken for a
 * dead container by the supervisor's scan in the same process (the one writer), which would
 * free its cgroups and network in the middle of it; any reader of the files, in any process,
 * sees it running. The helper is made slow (a wrapper that sleeps before exec'ing paas-run)
 * to hold the start open.
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

test("a start under way reads as running everywhere, and the supervisor's scan (lost monitors, clean-up) leaves it alone", async () => {
  const reader = new Runtime(rt.opts); // another process's view: the files only
  const c = rt.create({ image: "stack/busybox", cmd: ["sh", "-c", "echo up; sleep 600"], memoryBytes: 32 << 20, cgroupParent: "t/a", network: "none" });
  const starting = rt.start(c.id);
  // the start is under way (its record has startedAt) and its monitor not up: inside the helper's 1.5 s
  const record = path.join(layout.container(c.id), "config.json");
  await until("the start under way", () => JSON.parse(fs.readFileSync(record, "utf8")).startedAt !== undefined);
  assert.equal(fs.existsSync(path.join(layout.container(c.id), "monitor.pid")), false, "the monitor is not up yet");
  // what the agent's supervisor does every second: lost monitors recorded, exited containers freed
  rt.reapLost();
  assert.equal(fs.existsSync(path.join(layout.container(c.id), "status.json")), false, "no exit written for it");
  assert.equal(rt.get(c.id).state, "running");
  assert.equal(reader.get(c.id).state, "running", "not taken for a container that died");
  assert.equal(await rt.afterExit(c.id), undefined);
  const info = await starting;
  assert.equal(info.state, "running");
  assert.ok(cgroups.exists(rt.inspect(c.id).cgroup), "its cgroup is there");
  await rt.remove(c.id, { force: true });
});
