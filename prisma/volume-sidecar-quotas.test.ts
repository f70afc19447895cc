/** Storage (volumes) and sidecars in the quota rules: pure, and on a migrated database. */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";
import { createDb, type PrismaClient } from "./index.ts";
import { teamUse, useOf } from "./formation.ts";
import { migrateDeploy } from "./migrate.ts";
import { assertDeployQuota, assertStorageQuota, QuotaError, storageQuotaViolation } from "./quotas.ts";

const tmp = mkdtempSync(path.join(tmpdir(), "paas-vsq-"));
let db: PrismaClient;
before(async () => {
  const url = `file:${path.join(tmp, "paas.db")}`;
  await migrateDeploy(url);
  db = createDb(url);
});
after(async () => {
  await db.$disconnect();
  rmSync(tmp, { recursive: true, force: true });
});

test("storageQuotaViolation: fits up to the limit; over it, names the limit, the use and what to do", () => {
  assert.equal(storageQuotaViolation("t", 1024, 1024, 2048), null);
  assert.match(storageQuotaViolation("t", 1024, 1025, 2048)!, /team "t" would exceed its storage quota of 2048 MB \(its volumes take 1024 MB, this one would take 1025 MB\): give it a smaller --size, or remove a volume/);
});

test("useOf counts each replica's sidecars in its memory", () => {
  assert.deepEqual(useOf([{ quantity: 2, memoryMb: 256, cpuMillis: 250 }], 64), { replicas: 2, memoryMb: 640, cpuMillis: 500 });
});

test("volumes count toward storage, sidecars toward memory (per replica), across the team's apps", async () => {
  const team = await db.team.create({ data: { name: "vsq" } });
  await db.quota.create({ data: { teamId: team.id, storageMb: 1000, memoryMb: 1000 } });
  const a = await db.app.create({ data: { name: "vsq-a", teamId: team.id } });
  const b = await db.app.create({ data: { name: "vsq-b", teamId: team.id } });
  await db.release.create({ data: { appId: a.id, version: 1, imageRef: "x", processTypes: JSON.stringify({ web: "w" }), status: "active" } });
  await db.formation.create({ data: { appId: a.id, processType: "web", quantity: 2, memoryMb: 256 } });
  await db.sidecar.create({ data: { appId: a.id, kind: "probe", image: "stack/busybox", memoryMb: 100 } });
  // a: 2 x (256 + 100) = 712 MB.
  assert.equal((await teamUse(db, team.id)).memoryMb, 712);
  const bApp = { ...b, team: { name: "vsq" } };
  await assert.doesNotReject(assertDeployQuota(db, bApp, [{ quantity: 1, memoryMb: 288, cpuMillis: 100 }]));
  await assert.rejects(assertDeployQuota(db, bApp, [{ quantity: 1, memoryMb: 256, cpuMillis: 100 }], 64), (e: Error) => e instanceof QuotaError && /its other apps take 712 MB, vsq-b would take 320 MB/.test(e.message));

  await db.appVolume.create({ data: { appId: a.id, name: "data", path: "/data", sizeMb: 600 } });
  await assert.doesNotReject(db.$transaction((tx) => assertStorageQuota(tx, team, 400)));
  await assert.rejects(db.$transaction((tx) => assertStorageQuota(tx, team, 401)), /its volumes take 600 MB, this one would take 401 MB/);
});
