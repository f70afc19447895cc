/**
 * The router against real parts: Redis carrying the routing table, real HTTP
 * backends, and the router's own server.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { Redis } from "ioredis";
import { RoutingTable } from "../../apps/router/src/table.ts";
import { createRouterServer } from "../../apps/router/src/server.ts";
import { followRoutes } from "../../apps/router/src/redis-source.ts";
import { publishRoutes } from "../../worker/src/pipeline/route.ts";
import { freePort, startRedis } from "../helpers/redis.ts";

let redis: Awaited<ReturnType<typeof startRedis>>;
let client: Redis;
let stopFollowing: () => Promise<void>;
let router: http.Server;
let routerPort: number;
const backends: http.Server[] = [];

async function backend(name: string): Promise<string> {
  const s = http.createServer((req, res) => res.end(`${name} ${req.headers["x-forwarded-for"] ?? ""}`));
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  backends.push(s);
  return `127.0.0.1:${(s.address() as AddressInfo).port}`;
}

function get(host: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: "127.0.0.1", port: routerPort, path: "/", headers: { host }, agent: false }, (res) => {
        let body = "";
        res.on("data", (c) => (body += c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
      })
      .on("error", reject);
  });
}

async function eventually(check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error("condition not met within 5s");
    await new Promise((r) => setTimeout(r, 20));
  }
}

before(async () => {
  redis = await startRedis();
  client = new Redis(redis.url);
  const table = new RoutingTable("localhost");
  stopFollowing = await followRoutes(table, redis.url);
  router = createRouterServer(table).server;
  routerPort = await freePort();
  await new Promise<void>((r) => router.listen(routerPort, "127.0.0.1", r));
});

after(async () => {
  router?.close();
  for (const b of backends) b.close();
  await stopFollowing?.();
  client?.disconnect();
  await redis?.stop();
});

test("routes by host name, balances over replicas, and follows changes published in Redis", async () => {
  const a = await backend("a");
  const b = await backend("b");
  await publishRoutes(client, "hello", [a, b]);
  await eventually(async () => (await get("hello.localhost:8080")).status === 200);
  const seen = new Set<string>();
  for (let i = 0; i < 4; i++) seen.add((await get("hello.localhost")).body.split(" ")[0]);
  assert.deepEqual([...seen].sort(), ["a", "b"]);
  assert.match((await get("hello.localhost")).body, /127\.0\.0\.1/, "X-Forwarded-For is set");

  // A deploy switches to a new replica: the old one stops getting traffic.
  const c = await backend("c");
  await publishRoutes(client, "hello", [c]);
  await eventually(async () => (await get("hello.localhost")).body.startsWith("c"));
  for (let i = 0; i < 3; i++) assert.ok((await get("hello.localhost")).body.startsWith("c"));
});

test("an unknown app gets 404, an app without replicas 503, a dead replica 502", async () => {
  const none = await get("nope.localhost");
  assert.equal(none.status, 404);
  assert.match(none.body, /No such app/);

  await publishRoutes(client, "empty", []);
  await eventually(async () => (await get("empty.localhost")).status === 503);
  assert.match((await get("empty.localhost")).body, /No healthy replica/);

  const dead = `127.0.0.1:${await freePort()}`;
  await publishRoutes(client, "dead", [dead]);
  await eventually(async () => (await get("dead.localhost")).status === 502);
  assert.match((await get("dead.localhost")).body, /ECONNREFUSED/);
});

test("the table is reloaded from Redis when the router starts", async () => {
  const d = await backend("d");
  await publishRoutes(client, "late", [d]);
  const table = new RoutingTable("localhost");
  const stop = await followRoutes(table, redis.url);
  try {
    const r = table.resolve("late.localhost");
    assert.equal(r.kind, "backend");
  } finally {
    await stop();
  }
});
