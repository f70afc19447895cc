import { test } from "node:test";
import assert from "node:assert/strict";
import { AgentError } from "@paas/shared";
import { StepRunner, type Step } from "./runner.ts";
import { PushError, pusherMessage } from "./push-error.ts";
import { DetectError } from "../builders/detect.ts";
import { DeployError } from "./deploy.ts";
import { LeaseLostError } from "../deploy-lock.ts";

const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));

test("the runner records each step's time, a failed one too, and sums them up", async () => {
  const steps = new StepRunner();
  const slow: Step<number, number> = { name: "build", run: async (n) => (await wait(120), n + 1) };
  const broken: Step<void, never> = { name: "deploy", run: async () => (await wait(60), Promise.reject(new DeployError("did not start"))) };
  assert.equal(await steps.run(slow, 1), 2);
  await assert.rejects(steps.run(broken, undefined), DeployError);
  assert.deepEqual(steps.timings.map(([n]) => n), ["build", "deploy"]);
  assert.ok(steps.timings[0][1] >= 0.1 && steps.timings[1][1] >= 0.05, JSON.stringify(steps.timings));
  assert.match(steps.summary(), /^Done in 0\.\ds \(build 0\.1s, deploy 0\.1s\)$/);
});

test("the pusher reads a PushError (with its hint) and an agent's refusal; anything else is internal", () => {
  assert.deepEqual(pusherMessage(new DetectError("no app found")), { message: "no app found", internal: false });
  assert.deepEqual(pusherMessage(new PushError("too big", "make it smaller")), { message: "too big\nmake it smaller", internal: false });
  assert.deepEqual(pusherMessage(new LeaseLostError("lease lost")), { message: "lease lost", internal: false });
  assert.deepEqual(pusherMessage(new AgentError("image not found", 404)), { message: "image not found", internal: false });
  assert.deepEqual(pusherMessage(new TypeError("x is undefined")), { message: "internal error: x is undefined", internal: true });
});
