/** The drains' published copy on a migrated database and a throwaway Redis: what the API publishes, and what the reconcile pass restores. */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";
import { Redis } from "ioredis";
import { appLogKey, DRAINS_CHANGED, DRAINS_KEY, drainStatsKey } from "@paas/shared/app-log";
import type { PublishedDrain } from "@paas/shared/drains";
import { startRedis } from "../tests/helpers/redis.ts";
import { createDb, type PrismaClient } from "./index.ts";
import { migrateDeploy } from "./migrate.ts";
import { publishDrains, restoreDrains } from "./drains.ts";

const tmp = mkdtempSync(path.join(tmpdir(), "paas-drains-"));
let db: PrismaClient;
let server: Awaited<ReturnType<typeof startRedis>>;
let redis: Redis;
let sub: Redis;
const messages: string[] = [];

before(async () => {
  const url = `file:${path.join(tmp, "paas.db")}`;
  await migrateDeploy(url);
  db = createDb(url);
  server = await startRedis();
  redis = new Redis(server.url);
  sub = new Redis(server.url);
  sub.on("message", (_c, app) => messages.push(app));
  await sub.subscribe(DRAINS_CHANGED);
});
after(async () => {
  redis.disconnect();
  sub.disconnect();
  await server.stop();
  await db.$disconnect();
  rmSync(tmp, { recursive: true, force: true });
});

const copy = async (app: string) => JSON.parse((await redis.hget(DRAINS_KEY, app)) ?? "null") as PublishedDrain[] | null;

test("published: each drain with the stream's end when it was added as its start; kept across republishes; gone drains' figures removed", async () => {
  const team = await db.team.create({ data: { name: "t1" } });
  const app = await db.app.create({ data: { name: "pub1", teamId: team.id } });
  await redis.xadd(appLogKey("pub1"), "*", "line", "before");
  const d1 = await db.drain.create({ data: { appId: app.id, url: "syslog+tcp://a.example.com:514" } });
  await publishDrains(db, redis, app);
  const first = await copy("pub1");
  const lastId = (await redis.xrevrange(appLogKey("pub1"), "+", "-", "COUNT", 1))[0]![0];
  assert.deepEqual(first, [{ id: d1.id, url: d1.url, start: { id: lastId, ord: 1 } }]);

  await redis.xadd(appLogKey("pub1"), "*", "line", "after");
  const d2 = await db.drain.create({ data: { appId: app.id, url: "syslog+tcp://b.example.com:514" } });
  await publishDrains(db, redis, app);
  const second = await copy("pub1");
  assert.deepEqual(second![0], first![0], "the first drain keeps its start");
  assert.equal(second![1]!.start.ord, 2);

  await redis.hset(drainStatsKey("pub1"), `${d1.id}:sent`, "5", `${d2.id}:sent`, "7");
  await db.drain.delete({ where: { id: d1.id } });
  await publishDrains(db, redis, app);
  assert.deepEqual((await copy("pub1"))!.map((d) => d.id), [d2.id]);
  assert.deepEqual(await redis.hgetall(drainStatsKey("pub1")), { [`${d2.id}:sent`]: "7" });
  await db.drain.delete({ where: { id: d2.id } });
  await publishDrains(db, redis, app);
  assert.equal(await redis.hexists(DRAINS_KEY, "pub1"), 0);
  await new Promise((r) => setTimeout(r, 100));
  assert.ok(messages.filter((m) => m === "pub1").length >= 4, "a message at each change");
});

test("restored: a copy Redis lost is published again; a copy without drains goes; a copy in place is left alone", async () => {
  const team = await db.team.create({ data: { name: "t2" } });
  const lost = await db.app.create({ data: { name: "lost1", teamId: team.id } });
  const kept = await db.app.create({ data: { name: "kept1", teamId: team.id } });
  await db.drain.create({ data: { appId: lost.id, url: "syslog+tcp://a.example.com:514" } });
  await db.drain.create({ data: { appId: kept.id, url: "syslog+tcp://b.example.com:514" } });
  await publishDrains(db, redis, kept);
  const keptCopy = await redis.hget(DRAINS_KEY, "kept1");
  await redis.hset(DRAINS_KEY, "gone1", JSON.stringify([{ id: "x", url: "syslog+tcp://c.example.com:514", start: { id: "0-0", ord: 0 } }]));

  assert.deepEqual((await restoreDrains(db, redis)).sort(), ["gone1", "lost1"]);
  assert.equal((await copy("lost1"))!.length, 1);
  assert.equal(await redis.hexists(DRAINS_KEY, "gone1"), 0);
  assert.equal(await redis.hget(DRAINS_KEY, "kept1"), keptCopy);
  assert.deepEqual(await restoreDrains(db, redis), [], "nothing to do the second time");
});
