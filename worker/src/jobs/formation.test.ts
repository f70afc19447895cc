/** The ps change planner: which replica numbers start, stay and go. */
import assert from "node:assert/strict";
import { test } from "node:test";
import type { Formation } from "@paas/db";
import { planFormation } from "./formation.ts";

const row = (processType: string, quantity: number, memoryMb = 256, cpuMillis = 250): Formation => ({ id: processType, appId: "a", processType, quantity, memoryMb, cpuMillis });
const replica = (processType: string, number: number) => ({ id: `${processType}.${number}`, processType, number, runtimeId: "r", address: "10.0.0.1:5000", host: { agentUrl: "http://agent" } });
const names = (xs: { processType: string; number: number }[]) => xs.map((x) => `${x.processType}.${x.number}`).sort();

test("scaling up starts the missing numbers and keeps what runs", () => {
  const plan = planFormation([row("web", 1), row("worker", 1)], [replica("web", 1), replica("worker", 1)], { quantity: { web: 3 } });
  assert.deepEqual(names(plan.start), ["web.2", "web.3"]);
  assert.deepEqual(names(plan.keep), ["web.1", "worker.1"]);
  assert.deepEqual(plan.stop, []);
  assert.deepEqual(plan.next.map((f) => [f.processType, f.quantity]), [["web", 3], ["worker", 1]]);
});

test("scaling down stops the highest numbers; 0 stops the type and keeps its row", () => {
  const plan = planFormation([row("web", 3), row("worker", 1)], [replica("web", 1), replica("web", 2), replica("web", 3), replica("worker", 1)], { quantity: { web: 1, worker: 0 } });
  assert.deepEqual(plan.start, []);
  assert.deepEqual(names(plan.keep), ["web.1"]);
  assert.deepEqual(names(plan.stop), ["web.2", "web.3", "worker.1"]);
  assert.deepEqual(plan.next.map((f) => [f.processType, f.quantity]), [["web", 1], ["worker", 0]]);
});

test("a restart or a new size replaces each number; other types stay", () => {
  const running = [replica("web", 1), replica("web", 2), replica("worker", 1)];
  const restart = planFormation([row("web", 2), row("worker", 1)], running, { restart: ["web"] });
  assert.deepEqual(names(restart.start), ["web.1", "web.2"]);
  assert.deepEqual(names(restart.stop), ["web.1", "web.2"]);
  assert.deepEqual(names(restart.keep), ["worker.1"]);
  const all = planFormation([row("web", 2), row("worker", 1)], running, { restart: [] });
  assert.deepEqual(names(all.start), ["web.1", "web.2", "worker.1"]);
  assert.deepEqual(all.keep, []);
  const resize = planFormation([row("web", 2), row("worker", 1)], running, { size: { worker: { memoryMb: 512 } } });
  assert.deepEqual(names(resize.start), ["worker.1"]);
  assert.deepEqual(names(resize.stop), ["worker.1"]);
  assert.deepEqual(resize.next.map((f) => [f.processType, f.memoryMb, f.cpuMillis]), [["web", 256, 250], ["worker", 512, 250]]);
  // the same size again replaces nothing
  assert.deepEqual(planFormation([row("web", 2), row("worker", 1)], running, { size: { web: { memoryMb: 256 } } }).start, []);
});

test("a lost replica is started again; one without a number or a duplicate goes", () => {
  const plan = planFormation([row("web", 2)], [replica("web", 2), replica("web", 0), replica("web", 2)], { quantity: { web: 2 } });
  assert.deepEqual(names(plan.start), ["web.1"]);
  assert.deepEqual(names(plan.keep), ["web.2"]);
  assert.deepEqual(names(plan.stop), ["web.0", "web.2"]);
});
