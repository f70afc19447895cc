/**
 * Restart policies applied by the supervisor (the agent runs one): on-failure with growing
 * delays and a retry cap, always, no, a user's stop, and a supervisor that takes over
 * from an earlier one (an agent restart) with the count kept.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import type { ContainerSpec } from "@paas/shared/agent-api";
import { Runtime } from "../src/containers.ts";
import { Supervisor } from "../src/restart.ts";
import { testRuntime, until } from "./helpers.ts";

let rt: Runtime;
let sup: Supervisor;
let cleanup: () => Promise<void>;

before(async () => {
  ({ rt, cleanup } = await testRuntime("r", 62));
  sup = new Supervisor(rt);
  sup.start();
});
after(async () => {
  sup.stop();
  await cleanup();
});

const spec = (cmd: string, more: Partial<ContainerSpec>): ContainerSpec => ({ image: "stack/busybox", cmd: ["sh", "-c", cmd], memoryBytes: 16 << 20, cgroupParent: "t/r", network: "none", ...more });

async function runStarts(id: string): Promise<number[]> {
  const out: number[] = [];
  for await (const l of rt.logLines(id)) out.push(Date.parse(JSON.parse(l).t));
  return out;
}

test("on-failure: restarts with growing delays, up to restartMaxRetries", { timeout: 60_000 }, async () => {
  const c = rt.create(spec("echo run; exit 1", { restart: "on-failure", restartMaxRetries: 5 }));
  await rt.start(c.id);
  await until("5 restarts", () => rt.get(c.id).restartCount === 5);
  await rt.afterExit(c.id); // queued behind the 5th restart's start (one step at a time per container)
  await rt.wait(c.id); // its run is over
  // the policy's answer to that exit: no plan, it stays down (asked, not slept on)
  assert.equal(await rt.afterExit(c.id), undefined, "no 6th restart planned");
  const info = rt.get(c.id);
  assert.equal(info.restartCount, 5);
  assert.equal(info.state, "exited");
  assert.equal(info.exitCode, 1);
  assert.equal(info.lastExit?.exitCode, 1, "the exit it restarted after is kept for callers (the reconcile loop)");
  const t = await runStarts(c.id);
  assert.equal(t.length, 6, "the first run and 5 restarts");
  const gaps = t.slice(1).map((x, i) => x - t[i]);
  console.log("gaps between runs (ms):", gaps.join(", "));
  const want = [100, 200, 400, 800, 1600];
  for (let i = 0; i < gaps.length; i++) {
    assert.ok(gaps[i] >= want[i], `gap ${i} is ${gaps[i]} ms, the backoff is ${want[i]} ms`);
    assert.ok(gaps[i] < want[i] + 400, `gap ${i} is ${gaps[i]} ms, far beyond the backoff of ${want[i]} ms`);
  }
  await rt.remove(c.id);
});

test("on-failure does not restart after exit 0; always does; no never does", { timeout: 30_000 }, async () => {
  const ok = rt.create(spec("echo run; exit 0", { restart: "on-failure" }));
  const always = rt.create(spec("echo run; exit 0", { restart: "always" }));
  const no = rt.create(spec("echo run; exit 1", { restart: "no" }));
  for (const c of [ok, always, no]) await rt.start(c.id);
  await until("always restarted twice", () => (rt.get(always.id).restartCount ?? 0) >= 2);
  assert.equal(rt.get(ok.id).restartCount, 0);
  assert.equal((await runStarts(ok.id)).length, 1);
  assert.equal(rt.get(no.id).restartCount, undefined);
  assert.equal((await runStarts(no.id)).length, 1);
  assert.equal(rt.get(no.id).state, "exited");
  for (const c of [ok, always, no]) await rt.remove(c.id, { force: true });
});

test("a user's stop is not undone; a user's start resets the count", { timeout: 30_000 }, async () => {
  const c = rt.create(spec("echo run; sleep 30", { restart: "always" }));
  await rt.start(c.id);
  // its first line out before the stop, so the count of runs below means something
  for await (const _ of rt.logLines(c.id, { follow: true, signal: AbortSignal.timeout(5000) })) break;
  await rt.stop(c.id, 0);
  assert.equal(await rt.afterExit(c.id), undefined, "a user's stop: no restart planned");
  assert.equal(rt.get(c.id).state, "exited");
  assert.equal(rt.get(c.id).restartCount, 0);
  assert.equal(rt.get(c.id).stoppedByUser, true, "callers see it stays down");
  assert.equal((await runStarts(c.id)).length, 1);
  await rt.start(c.id);
  assert.equal(rt.get(c.id).state, "running");
  assert.equal(rt.get(c.id).stoppedByUser, undefined);
  // killed from outside (not by the user): restarted
  process.kill(rt.get(c.id).pid!, "SIGKILL");
  await until("a restart after the kill", () => rt.get(c.id).restartCount === 1 && rt.get(c.id).state === "running");
  // running again, the exit it came back from is still told
  assert.equal(rt.get(c.id).lastExit?.exitCode, 137);
  await rt.remove(c.id, { force: true });
});

test("a new supervisor (agent restart) carries on with the kept count and backoff", { timeout: 30_000 }, async () => {
  const c = rt.create(spec("echo run; exit 2", { restart: "always" }));
  await rt.start(c.id);
  await until("two restarts", () => (rt.get(c.id).restartCount ?? 0) >= 2);
  sup.stop();
  // a restart under way when it stopped ends first; then the next one's plan is past due with nobody to make it
  await rt.afterExit(c.id);
  await rt.wait(c.id);
  const stopped = rt.get(c.id).restartCount!;
  const plan = await rt.afterExit(c.id);
  assert.ok(plan, "the policy plans a restart");
  await new Promise((r) => setTimeout(r, Math.max(0, plan.dueAt - Date.now()) + 300));
  assert.equal(rt.get(c.id).restartCount, stopped, "no supervisor, no restart");
  assert.equal(rt.get(c.id).state, "exited");
  // A fresh runtime object and supervisor over the same data, as a restarted agent has.
  const rt2 = new Runtime(rt.opts);
  await rt2.init();
  sup = new Supervisor(rt2);
  sup.start();
  await until("restarts by the new supervisor", () => rt2.get(c.id).restartCount! >= stopped + 2);
  await rt2.remove(c.id, { force: true });
});
