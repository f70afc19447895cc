/**
 * Route changes under steady load (bounded: 16 clients on keep-alive connections, loopback):
 * deploys that replace the replicas, a scale up and down, an app added and removed, and more
 * apps than the pool has spare backends (HAProxy reloads) while the requests run. None may fail.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import { waitFor } from "../helpers/wait.ts";
import { poolFor } from "../../apps/router/src/data-plane.ts";
import { answers, backend, get, startRouter, type Backend, type TestRouter } from "./helpers.ts";

let router: TestRouter;
const backends: Backend[] = [];
before(async () => {
  router = await startRouter();
});
after(async () => {
  await router?.stop();
  for (const b of backends) await b.kill();
});

/** A replica that counts the requests it has in flight and served. */
async function replica(name: string) {
  const stats = { inFlight: 0, served: 0 };
  const b = await backend((_req, res) => {
    stats.inFlight++;
    // A little work per request, so some are in flight when a route changes.
    setTimeout(() => {
      res.end(name);
      stats.inFlight--;
      stats.served++;
    }, 2);
  });
  backends.push(b);
  return { ...b, stats };
}

test("deploys, scaling and reloads under load drop no request", async () => {
  let current = [await replica("v0")];
  await router.publish("live", current.map((r) => r.addr));
  await answers(router.port, "live.localhost", (r) => r.body === "v0", "live to be routed");

  const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
  const failures: string[] = [];
  let ok = 0;
  let running = true;
  const load = Promise.all(
    Array.from({ length: 16 }, async () => {
      while (running) {
        try {
          const r = await get(router.port, "live.localhost", { agent });
          if (r.status === 200 && /^v\d+$/.test(r.body)) ok++;
          else failures.push(`${r.status} ${r.body.slice(0, 80)}`);
        } catch (err) {
          failures.push((err as Error).message);
        }
      }
    }),
  );

  // Like the deploy pipeline: start the new, switch, let the old finish what it has, stop it.
  const replace = async (next: Awaited<ReturnType<typeof replica>>[]) => {
    const old = current.filter((r) => !next.includes(r));
    await router.publish("live", next.map((r) => r.addr));
    await waitFor(() => next.every((r) => r.stats.served > 0), "the new replicas to get traffic", 10_000, 10);
    // Drained: nothing in flight and no new request for 100 ms (requests sent before the switch
    // may still be on their way: these backends share this test's event loop).
    let served = old.map((r) => r.stats.served);
    let quietSince = Date.now();
    await waitFor(
      () => {
        const now = old.map((r) => r.stats.served);
        if (now.join() !== served.join() || old.some((r) => r.stats.inFlight > 0)) [served, quietSince] = [now, Date.now()];
        return Date.now() - quietSince >= 100;
      },
      "the old replicas to drain (no request for 100 ms)",
      3000,
      10,
    );
    for (const r of old) await r.kill();
    current = next;
  };
  let v = 0;
  try {
    for (let i = 0; i < 4; i++) await replace([await replica(`v${++v}`)]); // 4 deploys
    await replace([...current, await replica(`v${++v}`), await replica(`v${++v}`)]); // scale to 3
    await replace([current[2]]); // scale to 1
    await router.publish("other", [current[0].addr]); // a new app: a spare backend
    await answers(router.port, "other.localhost", (r) => r.status === 200, "the new app to be routed");
    await router.redis.hdel("paas:routes", "other.localhost"); // an app removed
    await router.redis.publish("paas:routes:changed", "other.localhost");
    await answers(router.port, "other.localhost", (r) => r.status === 404, "the removed app to be gone");
    // More apps than the pool has spare backends (poolFor): HAProxy reloads with a larger pool.
    for (let i = 0; i < poolFor(0); i++) await router.publish(`more${i}`, [current[0].addr]);
    await answers(router.port, `more${poolFor(0) - 1}.localhost`, (r) => r.status === 200, "the last app to be routed");
    assert.match(router.output(), /reload/, "the pool grew by a reload");
    await replace([await replica(`v${++v}`)]); // a deploy after the reload
  } finally {
    running = false;
    await load;
    agent.destroy();
  }
  console.log(`${ok} requests through ${v} route changes, ${poolFor(0) + 1} apps added and a reload, ${failures.length} failed`);
  assert.deepEqual(failures.slice(0, 5), []);
  assert.ok(ok > 100, `only ${ok} requests ran`);
});
