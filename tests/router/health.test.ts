/**
 * Health: a replica that refuses connections stops getting traffic at its first refused request,
 * one that hangs at its next check (a healthy replica is checked every 5 s, so that the checks
 * are not most of an app's request log), and each gets traffic again once it answers its checks;
 * requests sent meanwhile still succeed.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import { waitFor } from "../helpers/wait.ts";
import { answers, backend, get, stateOf, startRouter, type Backend, type TestRouter } from "./helpers.ts";

let router: TestRouter;
const backends: Backend[] = [];
before(async () => {
  router = await startRouter();
});
after(async () => {
  await router?.stop();
  for (const b of backends) await b.kill();
});

async function replica(name: string, port = 0, hang = { on: false }): Promise<Backend> {
  const b = await backend((_req, res) => {
    if (!hang.on) res.end(name);
  }, port);
  backends.push(b);
  return b;
}

/** Milliseconds until `addr`'s slot reads as `op` (0 down, 2 up), polled every 10 ms. */
async function msUntil(addr: string, op: number, what: string, timeoutMs = 10_000): Promise<number> {
  const t0 = performance.now();
  await waitFor(async () => (await stateOf(router, addr))?.op === op, what, timeoutMs, 10);
  return performance.now() - t0;
}

test("a replica that refuses connections is out within 1 s with no request failing, and back once it answers again", async () => {
  const a = await replica("a");
  let b = await replica("b");
  await router.publish("refuse", [a.addr, b.addr]);
  await answers(router.port, "refuse.localhost", (r) => r.body === "b", "refuse's b to get traffic");

  // Traffic meanwhile: every request must still be answered (a refused connection is retried on a).
  const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
  let failed = 0;
  let done = 0;
  let running = true;
  const load = Promise.all(
    Array.from({ length: 4 }, async () => {
      while (running) {
        const r = await get(router.port, "refuse.localhost", { agent }).catch(() => null);
        if (r?.status === 200) done++;
        else failed++;
      }
    }),
  );
  try {
    await b.kill();
    const out = await msUntil(b.addr, 0, "b to be taken out");
    console.log(`a refusing replica was out after ${out.toFixed(0)} ms`);
    assert.ok(out < 1000, `out after ${out} ms`);
    const bodies = new Set<string>();
    for (let i = 0; i < 10; i++) bodies.add((await get(router.port, "refuse.localhost")).body);
    assert.deepEqual([...bodies], ["a"]);

    b = await replica("b", b.port);
    const back = await msUntil(b.addr, 2, "b to be back");
    console.log(`it was back ${back.toFixed(0)} ms after it listened again`);
  } finally {
    running = false;
    await load;
    agent.destroy();
  }
  console.log(`${done} requests during the ejection and return, ${failed} failed`);
  assert.equal(failed, 0);
  await answers(router.port, "refuse.localhost", (r) => r.body === "b", "b to get traffic again");
});

test("a replica that takes connections but never answers is out after its next two checks (within ~7 s)", async () => {
  const hang = { on: false };
  const c = await replica("c");
  const d = await replica("d", 0, hang);
  await router.publish("hang", [c.addr, d.addr]);
  await answers(router.port, "hang.localhost", (r) => r.body === "d", "hang's d to get traffic");
  hang.on = true;
  const out = await msUntil(d.addr, 0, "the hung replica to be taken out");
  console.log(`a hung replica was out after ${out.toFixed(0)} ms`);
  // The next check (at most 5 s away) and one 150 ms after it, each failing after 1 s.
  assert.ok(out < 8000, `out after ${out} ms`);
  for (let i = 0; i < 5; i++) assert.equal((await get(router.port, "hang.localhost")).body, "c");
  hang.on = false;
  await msUntil(d.addr, 2, "d to be back once it answers");
});

test("a healthy replica is checked about every 5 s, not several times a second: each check is a line in its app's log", async () => {
  let checks = 0;
  const quiet = await backend((req, res) => {
    if (req.headers["user-agent"] === "paas-router-health-check") checks++;
    res.end("quiet");
  });
  backends.push(quiet);
  await router.publish("quiet", [quiet.addr]);
  await answers(router.port, "quiet.localhost", (r) => r.body === "quiet", "quiet to be routed");
  const from = checks;
  await new Promise((r) => setTimeout(r, 10_500));
  console.log(`${checks - from} checks in 10.5 s`);
  assert.ok(checks - from >= 1, "it is still checked");
  assert.ok(checks - from <= 3, `${checks - from} checks in 10.5 s`);
});

test("when the checks have taken every replica out, requests still reach them (panic mode) rather than all getting a 503", async () => {
  // Answers requests at once but its checks (HEAD /) too late: the checks take it out.
  const slow = await backend((req, res) => {
    if (req.method === "HEAD") setTimeout(() => res.end(), 1500);
    else res.end("slow-checks");
  });
  backends.push(slow);
  await router.publish("panic", [slow.addr]);
  await msUntil(slow.addr, 0, "the checks to take the only replica out");
  for (let i = 0; i < 10; i++) {
    const r = await get(router.port, "panic.localhost");
    assert.equal(r.status, 200, r.body);
    assert.equal(r.body, "slow-checks");
  }
});
