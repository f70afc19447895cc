// The jobs process's life, with a stand-in runner (a real child process): jobs share one child,
// it stops after lingering without work and the next job starts another, and a child that dies
// fails the jobs it had not answered instead of leaving them waiting.
import { test } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import { waitFor } from "../../tests/helpers/wait.ts";
import { JobProcess } from "./job-process.ts";

const runner = path.join(import.meta.dirname, "testing/echo-runner.ts");
const build = (jobs: JobProcess, buildId: string) => jobs.build({ buildId }) as Promise<unknown>;
const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};
test("jobs at once share one child, which stops once idle for the linger time; the next job starts another", async () => {
  const jobs = new JobProcess(300, runner);
  const results = await Promise.all([build(jobs, "a"), build(jobs, "b"), build(jobs, "c")]);
  assert.deepEqual(results, [{ status: "a" }, { status: "b" }, { status: "c" }]);
  const first = jobs.pid!;
  assert.ok(first && alive(first), "the child lingers after its jobs");
  await waitFor(() => !alive(first), "the idle child to exit", 10_000, 20);
  assert.equal(jobs.pid, undefined);
  assert.deepEqual(await build(jobs, "d"), { status: "d" });
  assert.notEqual(jobs.pid, first);
  await jobs.stop();
});

test("a job that arrives while the child lingers reuses it", async () => {
  const jobs = new JobProcess(2000, runner);
  await build(jobs, "a");
  const pid = jobs.pid;
  await build(jobs, "b");
  assert.equal(jobs.pid, pid);
  const child = pid!;
  await jobs.stop();
  assert.equal(alive(child), false, "stop() resolves once the child has exited");
});

test("a child that dies fails its unanswered jobs with a message, and the next job gets a new child", async () => {
  const jobs = new JobProcess(2000, runner);
  await assert.rejects(build(jobs, "crash"), /the worker's jobs process exited \(code 3\) during the job/);
  assert.deepEqual(await build(jobs, "after"), { status: "after" });
  await jobs.stop();
});

test("stop() with no child is a no-op", async () => {
  const jobs = new JobProcess(2000, runner);
  await jobs.stop();
  assert.equal(jobs.pid, undefined);
});
