/**
 * infra/supervise on its own, with a runner of the test's (PAAS_RUN_SERVICE) in place of
 * infra/run-service: no platform, no ports. A killed service comes back in a session of its
 * own with its pid file updated, a crash loop backs off (at once, then 1, 2, 4 s), every exit is logged with
 * its code or signal and counted in services.json, a service whose file is removed stays
 * stopped, TERM ends the supervisor and nothing else, and a new supervisor watches what runs.
 */
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { ROOT } from "../helpers/platform.ts";
import { waitFor } from "../helpers/wait.ts";

const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "paas-supervise-"));
const runDir = path.join(dataDir, "run");
const logDir = path.join(dataDir, "logs");
const runner = path.join(dataDir, "runner");
fs.mkdirSync(path.join(runDir, "supervise"), { recursive: true });
fs.writeFileSync(runner, '#!/bin/sh\ncase "$1" in\n  crash) echo "crash is starting"; exit 3 ;;\n  *) echo "$1 is starting"; exec sleep 600 ;;\nesac\n', { mode: 0o755 });

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};
const pidOf = (name: string) => Number(fs.readFileSync(path.join(runDir, `${name}.pid`), "utf8"));
const logOf = (name: string) => fs.readFileSync(path.join(logDir, `${name}.log`), "utf8");
const status = () => JSON.parse(fs.readFileSync(path.join(runDir, "services.json"), "utf8"));
const sessionOf = (pid: number) => Number(fs.readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ")[3]);
/** Every process in `sid`'s session. */
const session = (sid: number) =>
  fs.readdirSync("/proc").filter((d) => /^\d+$/.test(d)).map(Number).filter((pid) => {
    try {
      return sessionOf(pid) === sid;
    } catch {
      return false;
    }
  });

/** Starts a supervisor; resolves once it is ready (its status written: its handlers are set). */
async function startSupervisor(): Promise<number> {
  const child = spawn(path.join(ROOT, "infra/supervise"), [], {
    detached: true,
    stdio: ["ignore", fs.openSync(path.join(dataDir, "supervise.out"), "a"), fs.openSync(path.join(dataDir, "supervise.out"), "a")],
    env: { ...process.env, PAAS_DATA_DIR: dataDir, PAAS_RUN_SERVICE: runner },
  });
  child.unref();
  const pid = child.pid!;
  pids.push(pid);
  await waitFor(() => fs.existsSync(path.join(runDir, "services.json")) && status().supervisor.pid === pid, "the supervisor is ready");
  return pid;
}
/** Asks for `name` as infra/up does: its file; the supervisor sees it within half a second. */
function ask(name: string) {
  fs.writeFileSync(path.join(runDir, "supervise", name), "");
}
/** Resolves with `name`'s pid once it is other than `old` and leads its own session (setsid has run). */
async function restarted(name: string, old = 0): Promise<number> {
  let pid = 0;
  await waitFor(() => {
    pid = pidOf(name);
    return pid !== old && alive(pid) && sessionOf(pid) === pid;
  }, `${name} runs in a session of its own`, 10_000).catch((err: Error) => {
    const said = (f: string) => (fs.existsSync(f) ? fs.readFileSync(f, "utf8") : "(none)");
    throw new Error(`${err.message}; pid ${pid} (alive: ${alive(pid)}); status: ${said(path.join(runDir, "services.json"))}; its log: ${said(path.join(logDir, `${name}.log`))}; the supervisor's: ${said(path.join(dataDir, "supervise.out"))}`);
  });
  pids.push(pid);
  return pid;
}

const pids: number[] = [];
describe("infra/supervise", { timeout: 120_000 }, () => {
  after(() => {
    for (const pid of pids) for (const p of session(pid)) process.kill(p, "SIGKILL");
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  let supervisor = 0;
  test("a killed service is started again in a session of its own, logged and counted", async () => {
    supervisor = await startSupervisor();
    ask("steady");
    // It leads its own session: infra/down stops it by that.
    const first = await restarted("steady");
    process.kill(first, "SIGKILL");
    const second = await restarted("steady", first);
    // It had run for less than 10 s, but once is no crash loop: at once.
    assert.match(logOf("steady"), new RegExp(`supervise: steady \\(pid ${first}\\) was killed by SIGKILL after [\\d.]+ s; restart 1, at once`));
    // The status is written just after the pid file.
    await waitFor(() => status().services.steady.pid === second, "the status names the new pid");
    const s = status();
    assert.equal(s.supervisor.pid, supervisor);
    assert.deepEqual({ ...s.services.steady, lastExit: { ...s.services.steady.lastExit, at: "", ranSeconds: 0 } }, {
      state: "running",
      pid: second,
      restarts: 1,
      lastExit: { at: "", pid: first, code: null, signal: "SIGKILL", ranSeconds: 0 },
    });
  });

  test("a crash loop backs off (at once, then 1, 2, 4 s); its exit code is logged; a removed service stays stopped", async () => {
    ask("crash");
    await waitFor(() => /restart 4 in 4 s/.test(logOf("crash")), "four quick exits", 20_000);
    const lines = logOf("crash").split("\n").filter((l) => l.includes("supervise:"));
    assert.deepEqual(
      lines.map((l) => / exited with code (\d+) .*restart (\d+)(, at once| in \d+ s)$/.exec(l)?.slice(1)),
      [["3", "1", ", at once"], ["3", "2", " in 1 s"], ["3", "3", " in 2 s"], ["3", "4", " in 4 s"]],
    );
    // Seconds apart as said: each line's time (whole seconds) after the one before by its delay.
    const at = lines.map((l) => Date.parse(l.split(" ")[0]) / 1000);
    assert.ok(at[2] - at[1] >= 1 && at[3] - at[2] >= 2, `the exits' times: ${lines.join("\n")}`);
    assert.equal(status().services.crash.state, "waiting");

    fs.rmSync(path.join(runDir, "supervise", "crash"));
    const steady = pidOf("steady");
    fs.rmSync(path.join(runDir, "supervise", "steady"));
    process.kill(steady, "SIGKILL");
    await waitFor(() => /not restarted \(stopped\)/.test(logOf("steady")), "steady's end is logged");
    assert.equal(pidOf("steady"), steady, "steady was not started again");
    assert.equal(status().services.steady.state, "stopped");
    // The crash's pending restart finds its file gone too (its 4 s wait ends).
    await waitFor(() => status().services.crash.state === "stopped", "crash is stopped", 10_000);
    assert.equal(logOf("crash").match(/crash is starting/g)!.length, 4, "its fifth start never came");
  });

  test("TERM ends the supervisor, not the services; a new one watches what runs", async () => {
    ask("steady"); // runs again
    const steady = await restarted("steady");
    process.kill(supervisor, "SIGTERM");
    await waitFor(() => session(supervisor).length === 0, "nothing of the supervisor's session is left", 10_000);
    assert.ok(alive(steady), "the service runs on");

    supervisor = await startSupervisor();
    await waitFor(() => /watching steady/.test(logOf("steady")), "the new supervisor watches steady", 10_000);
    process.kill(steady, "SIGKILL");
    await restarted("steady", steady);
    assert.match(logOf("steady"), /steady \(pid \d+\) ended \(exit status unknown: it was started by an earlier supervisor\)/);
    process.kill(supervisor, "SIGTERM");
    await waitFor(() => session(supervisor).length === 0, "the supervisor is gone", 10_000);
  });
});
