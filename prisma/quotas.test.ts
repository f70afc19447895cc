/** The quota rules, pure and on a migrated database (defaults from the schema, apps, builds, deploys). */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";
import { createDb, type PrismaClient } from "./index.ts";
import { migrateDeploy } from "./migrate.ts";
import {
  appQuotaViolation,
  assertAppQuota,
  assertDeployQuota,
  concurrentBuildLimit,
  deployQuotaViolation,
  QuotaError,
  quotaOf,
} from "./quotas.ts";

const tmp = mkdtempSync(path.join(tmpdir(), "paas-quotas-"));
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

test("appQuotaViolation allows below the limit and refuses at it, saying what to do with what exists", () => {
  assert.equal(appQuotaViolation("main", 0, 1), null);
  assert.equal(appQuotaViolation("main", 9, 10), null);
  assert.match(appQuotaViolation("main", 1, 1) ?? "", /team "main" has reached its quota of 1 app \(it has 1 app, preview apps included\)/);
  assert.match(appQuotaViolation("main", 12, 10) ?? "", /quota of 10 apps \(it has 12 apps/);
  const why = appQuotaViolation("main", 0, 0) ?? "";
  assert.match(why, /destroy an app .*git push paas :<branch>.* or ask the platform's operator to raise the team's quota \(no command sets quotas yet\)/);
  assert.doesNotMatch(why, /quotas:set/);
});

test("a team without a Quota row gets the schema's defaults (one row made, also when asked at once)", async () => {
  const team = await db.team.create({ data: { name: "q-defaults" } });
  const rows = await Promise.all(Array.from({ length: 5 }, () => quotaOf(db, team.id)));
  assert.deepEqual(
    rows.map(({ apps, replicas, memoryMb, cpuMillis, storageMb, concurrentBuilds }) => ({ apps, replicas, memoryMb, cpuMillis, storageMb, concurrentBuilds })),
    Array(5).fill({ apps: 10, replicas: 20, memoryMb: 4096, cpuMillis: 4000, storageMb: 10240, concurrentBuilds: 2 }),
  );
  assert.equal(await db.quota.count({ where: { teamId: team.id } }), 1);
  assert.equal(await concurrentBuildLimit(db, team.id), 2);
  await db.quota.update({ where: { teamId: team.id }, data: { concurrentBuilds: 5 } });
  assert.equal(await concurrentBuildLimit(db, team.id), 5);
});

test("assertAppQuota counts the team's apps, previews included, and no other team's", async () => {
  const team = await db.team.create({ data: { name: "q-team" } });
  await db.$transaction((tx) => assertAppQuota(tx, team)); // no Quota row: the default applies
  await db.quota.update({ where: { teamId: team.id }, data: { apps: 2 } });
  const parent = await db.app.create({ data: { name: "q-one", teamId: team.id } });
  await db.$transaction((tx) => assertAppQuota(tx, team));
  await db.app.create({ data: { name: "q-one--feature", teamId: team.id, previewOfId: parent.id, previewBranch: "feature" } });
  await assert.rejects(db.$transaction((tx) => assertAppQuota(tx, team)), QuotaError);
  const other = await db.team.create({ data: { name: "q-other" } });
  await db.$transaction((tx) => assertAppQuota(tx, other));
});

test("deployQuotaViolation names the limit and the current use", () => {
  const quota = { replicas: 4, memoryMb: 1024 };
  assert.equal(deployQuotaViolation("t", "web", { replicas: 2, memoryMb: 512 }, { replicas: 2, memoryMb: 512 }, quota), null);
  assert.equal(
    deployQuotaViolation("t", "web", { replicas: 3, memoryMb: 768 }, { replicas: 2, memoryMb: 512 }, quota),
    `team "t" would exceed its quota of 4 replicas (its other apps run 3, web would run 2) and 1024 MB of memory (its other apps take 768 MB, web would take 512 MB): ` +
      "destroy or scale down an app it no longer needs or ask the platform's operator to raise the team's quota (no command sets quotas yet)",
  );
  assert.match(deployQuotaViolation("t", "web", { replicas: 0, memoryMb: 0 }, { replicas: 1, memoryMb: 2048 }, quota) ?? "", /^team "t" would exceed its quota of 1024 MB of memory \(its other apps take 0 MB, web would take 2048 MB\)/);
});

test("assertDeployQuota counts the team's other apps as scaled, not the deployed app's own", async () => {
  const team = await db.team.create({ data: { name: "q-deploy" } });
  await db.quota.create({ data: { teamId: team.id, replicas: 3, memoryMb: 1024 } });
  const a = await db.app.create({ data: { name: "q-a", teamId: team.id }, include: { team: true } });
  const b = await db.app.create({ data: { name: "q-b", teamId: team.id }, include: { team: true } });
  await db.formation.create({ data: { appId: a.id, processType: "web", quantity: 2, memoryMb: 256 } });
  // a redeploy of a as it is scaled fits (its own formation is not counted twice)
  await assertDeployQuota(db, a, [{ quantity: 2, memoryMb: 256 }]);
  await assertDeployQuota(db, b, [{ quantity: 1, memoryMb: 512 }]);
  await assert.rejects(assertDeployQuota(db, b, [{ quantity: 2, memoryMb: 256 }]), /quota of 3 replicas \(its other apps run 2, q-b would run 2\)/);
  await assert.rejects(assertDeployQuota(db, b, [{ quantity: 1, memoryMb: 1024 }]), /1024 MB of memory \(its other apps take 512 MB, q-b would take 1024 MB\)/);
});
