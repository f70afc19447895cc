/**
 * The app's deploy lock on a real Redis and a migrated SQLite database: turns
 * in order, apps independent, a dead holder's turn passing, and the fence
 * keeping a holder that lost its lease from switching routes or committing.
 */
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";
import { Redis } from "ioredis";
import { startRedis } from "../../tests/helpers/redis.ts";

const dataDir = mkdtempSync(path.join(os.tmpdir(), "paas-deploy-lock-"));
process.env.PAAS_DATA_DIR = dataDir;
delete process.env.PAAS_DATABASE_URL;
const { migrateDeploy } = await import("../../prisma/migrate.ts");
await migrateDeploy(`file:${path.join(dataDir, "paas.db")}`);
const { db } = await import("@paas/db");
const { ROUTES_KEY } = await import("@paas/shared");
const { acquireDeployLock, claimFence, LeaseLostError, withDeployLock } = await import("./deploy-lock.ts");
const { publishRoutes } = await import("./pipeline/route.ts");

let server: Awaited<ReturnType<typeof startRedis>>;
let redis: Redis;
let appId: string;
let otherId: string;

before(async () => {
  server = await startRedis();
  redis = new Redis(server.url, { maxRetriesPerRequest: null });
  const team = await db.team.create({ data: { name: "lock-team" } });
  appId = (await db.app.create({ data: { name: "locked", teamId: team.id } })).id;
  otherId = (await db.app.create({ data: { name: "other", teamId: team.id } })).id;
});
after(async () => {
  redis?.disconnect();
  await server?.stop();
  await db.$disconnect();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test("deploys of one app take turns in the order they asked; another app does not wait", async () => {
  const order: string[] = [];
  const first = await acquireDeployLock(redis, appId, "build one");
  const waits: string[] = [];
  const second = withDeployLock(redis, appId, "a config change", { waiting: (h, n) => waits.push(`${h}/${n}`) }, async () => {
    order.push("second");
    await sleep(100);
  });
  await sleep(50); // the second asks before the third
  const third = withDeployLock(redis, appId, "a rollback to v1", undefined, async () => void order.push("third"));
  // Another app's deploy goes at once while this app's lock is held.
  await withDeployLock(redis, otherId, "build other", undefined, async () => void order.push("other"));
  await sleep(400);
  assert.deepEqual(order, ["other"], "nobody runs while the first holds the lock");
  order.push("first");
  await first.release();
  await Promise.all([second, third]);
  assert.deepEqual(order, ["other", "first", "second", "third"]);
  assert.deepEqual(waits, ["build one/1"], "the waiter was told who deploys ahead of it");
});

test("a holder that died passes its turn; once it lost its lease it can neither switch routes nor commit", async () => {
  const stale = await acquireDeployLock(redis, appId, "build stale");
  // Its worker stopped: the heartbeat key runs out (here: goes at once).
  await redis.del(stale.guard.alive);
  const fresh = await acquireDeployLock(redis, appId, "build fresh");
  assert.ok(fresh.ticket > stale.ticket, "tickets only grow");

  await publishRoutes(redis, "locked", ["10.0.0.2:5000"], fresh);
  await assert.rejects(publishRoutes(redis, "locked", ["10.0.0.1:5000"], stale), LeaseLostError);
  assert.deepEqual(JSON.parse((await redis.hget(ROUTES_KEY, "locked.localhost"))!).backends, ["10.0.0.2:5000"]);

  await db.$transaction((tx) => claimFence(tx, fresh));
  await assert.rejects(db.$transaction((tx) => claimFence(tx, stale)), LeaseLostError);
  assert.equal((await db.app.findUniqueOrThrow({ where: { id: appId } })).deployFence, fresh.ticket);
  await fresh.release();
  await stale.release();
  // After release, publishing with the old lease is refused too.
  await assert.rejects(publishRoutes(redis, "locked", ["10.0.0.3:5000"], fresh), LeaseLostError);
});

test("tickets stay above the last committed deploy when Redis lost its data", async () => {
  const fence = (await db.app.findUniqueOrThrow({ where: { id: appId } })).deployFence;
  assert.ok(fence > 0);
  await redis.flushall();
  const lease = await acquireDeployLock(redis, appId, "build after flush");
  assert.equal(lease.ticket, fence + 1);
  await db.$transaction((tx) => claimFence(tx, lease));
  await lease.release();
});

test("noWait (the reconcile loop): the lease when the lock is free, null while a deploy holds it, leaving no place in the queue", async () => {
  const free = await acquireDeployLock(redis, appId, "the reconcile loop", undefined, { noWait: true });
  assert.ok(free, "a free lock is taken");
  await free.release();
  const deploy = await acquireDeployLock(redis, appId, "build one");
  try {
    assert.equal(await acquireDeployLock(redis, appId, "the reconcile loop", undefined, { noWait: true }), null);
    assert.equal(await redis.zcard(`paas:deploylock:${appId}:queue`), 1, "only the deploy is queued");
  } finally {
    await deploy.release();
  }
  const after = await acquireDeployLock(redis, appId, "the reconcile loop", undefined, { noWait: true });
  assert.ok(after && after.ticket > deploy.ticket, "taken again once the deploy is done, with a newer ticket");
  await after.release();
});
