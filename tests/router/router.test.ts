/**
 * The router against real parts: Redis carrying the routing table, HAProxy run by the router's
 * own process, real HTTP backends.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import http from "node:http";
import path from "node:path";
import { ROUTER_FIGURES_KEY, ROUTES_SERIAL_KEY } from "@paas/shared";
import { publishRoutes, waitForRouter } from "../../worker/src/pipeline/route.ts";
import type { AppFigures } from "../../apps/router/src/figures.ts";
import { freePort } from "../helpers/redis.ts";
import { waitFor } from "../helpers/wait.ts";
import { answers, backend, get, serverStates, startRouter, type Backend, type TestRouter } from "./helpers.ts";

let router: TestRouter;
const backends: Backend[] = [];

/** A replica that answers with its name and the headers the router added. */
async function named(name: string): Promise<Backend> {
  const b = await backend((req, res) => {
    res.setHeader("content-type", "application/json");
    res.end(JSON.stringify({ name, headers: req.headers }));
  });
  backends.push(b);
  return b;
}
const nameOf = (body: string) => (JSON.parse(body) as { name: string }).name;

before(async () => {
  router = await startRouter({ PAAS_ROUTER_TIMEOUT: "1", PAAS_ROUTER_MAX_BODY_BYTES: String(1 << 20) });
});

after(async () => {
  await router?.stop();
  for (const b of backends) await b.kill();
});

test("routes by host name over the app's replicas, with X-Forwarded-* and an X-Request-Id the app, the client and the access log share", async () => {
  const a = await named("a");
  const b = await named("b");
  await router.publish("hello", [a.addr, b.addr]);
  await answers(router.port, "hello.localhost:8080", (r) => r.status === 200, "hello to be routed");
  const seen = new Set<string>();
  for (let i = 0; i < 10; i++) seen.add(nameOf((await get(router.port, "Hello.LocalHost")).body));
  assert.deepEqual([...seen].sort(), ["a", "b"]);

  const r = await get(router.port, "hello.localhost:8080", { path: "/some/path?q=1" });
  const headers = (JSON.parse(r.body) as { headers: http.IncomingHttpHeaders }).headers;
  assert.equal(headers["x-forwarded-for"], "127.0.0.1");
  assert.equal(headers["x-forwarded-proto"], "http");
  assert.equal(headers["x-forwarded-host"], "hello.localhost:8080");
  const id = headers["x-request-id"] as string;
  assert.match(id, /^[0-9a-f-]{36}$/);
  assert.equal(r.headers["x-request-id"], id, "the client gets the id the app saw");
  const log = path.join(router.dataDir, "logs/router-access.log");
  await waitFor(() => fs.existsSync(log) && fs.readFileSync(log, "utf8").includes(id), "the request's line in the access log", 5000);
  assert.match(fs.readFileSync(log, "utf8"), new RegExp(`${id} hello r\\d+ 200 \\d+ms .* GET /some/path\\?q=1`));

  // A client cannot choose the id the app and the log see.
  const forged = await get(router.port, "hello.localhost", { headers: { "x-request-id": "mine" } });
  assert.notEqual((JSON.parse(forged.body) as { headers: http.IncomingHttpHeaders }).headers["x-request-id"], "mine");
});

test("a deploy's switch: the new replica takes the traffic, the old one gets none, and its server is deleted (HAProxy holds only replicas)", async () => {
  const c = await named("c");
  await router.publish("switch", [c.addr]);
  await answers(router.port, "switch.localhost", (r) => r.status === 200 && nameOf(r.body) === "c", "switch to be routed to c");
  const d = await named("d");
  await router.publish("switch", [d.addr]);
  await answers(router.port, "switch.localhost", (r) => r.status === 200 && nameOf(r.body) === "d", "switch to move to d");
  for (let i = 0; i < 5; i++) assert.equal(nameOf((await get(router.port, "switch.localhost")).body), "d");
  // Once it carries nothing (the router's idle connections to it go within seconds).
  await waitFor(async () => !(await serverStates(router)).some((s) => s.addr === c.addr), "c's server to be deleted", 20_000, 200);
  assert.deepEqual((await serverStates(router)).filter((s) => s.addr === d.addr).map((s) => s.slot[0]).sort(), ["p", "r"], "d: its checked server and its twin");
});

test("the router acknowledges a change once HAProxy serves it: right after waitForRouter, the first request goes to the new replica, switch after switch", async () => {
  const [e, f] = [await named("e"), await named("f")];
  for (let i = 0; i < 10; i++) {
    const to = i % 2 ? f : e;
    const serial = await publishRoutes(router.redis, "acked", [to.addr]);
    assert.ok(await waitForRouter(router.redis, serial, 10_000), `the router acknowledged change ${serial}`);
    const r = await get(router.port, "acked.localhost");
    assert.equal(r.status, 200, `switch ${i}: ${r.status} ${r.body}`);
    assert.equal(nameOf(r.body), i % 2 ? "f" : "e", `switch ${i} was served at once`);
  }
  // A change nobody applies (the serial the router has not seen) is not acknowledged.
  assert.equal(await waitForRouter(router.redis, Number(await router.redis.get(ROUTES_SERIAL_KEY)) + 1, 300), false);
});

test("pages that say what failed: no such app (404), no replica (503), a replica that refuses (503), one that never answers (504), a body too large (413)", async () => {
  const none = await get(router.port, "nope.localhost");
  assert.equal(none.status, 404);
  assert.match(none.body, /No such app/);

  await router.publish("empty", []);
  await answers(router.port, "empty.localhost", (r) => r.status === 503, "empty to answer 503");
  assert.match((await get(router.port, "empty.localhost")).body, /<code>empty<\/code> has no replica that takes requests/);

  await router.publish("dead", [`127.0.0.1:${await freePort()}`]);
  await answers(router.port, "dead.localhost", (r) => r.status === 503 && /No healthy replica/.test(r.body), "dead to answer 503");

  // Healthy (it answers its checks), but one path takes the request and never answers.
  const silent = await backend((req, res) => {
    if (req.url !== "/hang") res.end("ok");
  });
  backends.push(silent);
  await router.publish("silent", [silent.addr]);
  await answers(router.port, "silent.localhost", (r) => r.status === 200, "silent to be routed");
  const slow = await get(router.port, "silent.localhost", { path: "/hang" });
  assert.equal(slow.status, 504);
  assert.match(slow.body, /sent no response within 1 s/);

  const big = await new Promise<http.IncomingMessage>((resolve, reject) => {
    const req = http.request({ host: "127.0.0.1", port: router.port, method: "POST", path: "/", headers: { host: "hello.localhost", "content-length": String(2 << 20) } }, resolve);
    req.on("error", reject);
    req.write("x"); // the headers alone are refused
  });
  assert.equal(big.statusCode, 413);
  big.destroy();
});

test("per-app figures: requests by status class, bytes and a latency histogram, in Redis", async () => {
  const figures = async (app: string) => JSON.parse((await router.redis.hget(ROUTER_FIGURES_KEY, app)) ?? "null") as AppFigures | null;
  await waitFor(async () => ((await figures("hello"))?.requests["2xx"] ?? 0) >= 13 && ((await figures("silent"))?.requests["5xx"] ?? 0) >= 1, "hello's and silent's figures in Redis", 15_000, 200);
  const hello = (await figures("hello"))!;
  assert.ok(hello.bytesOut > 13 * 100, `bytes out ${hello.bytesOut}`);
  assert.equal(
    hello.latencyMs.counts.reduce((a, b) => a + b, 0),
    hello.latencyMs.count,
  );
  assert.equal(hello.latencyMs.count, Object.values(hello.requests).reduce((a, b) => a + b, 0));
  assert.equal((await figures("silent"))!.requests["5xx"], 1, "silent's one 504");
});

test("a router killed with SIGKILL and started again rebuilds its table from Redis", async () => {
  const e = await named("e");
  await router.publish("late", [e.addr]);
  await answers(router.port, "late.localhost", (r) => r.status === 200, "late to be routed");
  const gone = new Promise((r) => router.proc.once("exit", r));
  router.proc.kill("SIGKILL");
  await gone;
  await router.restart(); // its HAProxy, left running on the port, is replaced
  const r = await get(router.port, "late.localhost");
  assert.equal(r.status, 200);
  assert.equal(nameOf(r.body), "e");
  assert.equal(nameOf((await get(router.port, "hello.localhost")).body).length, 1);
});
