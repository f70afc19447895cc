import assert from "node:assert/strict";
import { test } from "node:test";
import { freshDataDir } from "./testing/platform.ts";

freshDataDir();
const { db } = await import("@paas/db");
const { appQuotaViolation, assertAppQuota, QuotaError, DEFAULT_APP_QUOTA } = await import("./quotas.ts");

test("appQuotaViolation allows below the limit and refuses at it", () => {
  assert.equal(appQuotaViolation("main", 0, 1), null);
  assert.equal(appQuotaViolation("main", 9, 10), null);
  assert.match(appQuotaViolation("main", 1, 1) ?? "", /team "main" has reached its quota of 1 app \(it has 1 app, preview apps included\)/);
  assert.match(appQuotaViolation("main", 12, 10) ?? "", /quota of 10 apps \(it has 12 apps/);
  assert.match(appQuotaViolation("main", 0, 0) ?? "", /destroy an app .*git push paas :<branch>.* or ask a team admin .*quotas:set apps=N --team main/);
});

test("assertAppQuota counts the team's apps against its Quota row, or the default", async () => {
  const team = await db.team.create({ data: { name: "q-team" } });
  await db.$transaction((tx) => assertAppQuota(tx, team)); // no Quota row: default applies
  await db.quota.create({ data: { teamId: team.id, apps: 2 } });
  await db.app.create({ data: { name: "q-one", teamId: team.id } });
  await db.$transaction((tx) => assertAppQuota(tx, team));
  // A preview app counts like any other.
  const parent = await db.app.findUniqueOrThrow({ where: { name: "q-one" } });
  await db.app.create({ data: { name: "q-one--feature", teamId: team.id, previewOfId: parent.id, previewBranch: "feature" } });
  await assert.rejects(db.$transaction((tx) => assertAppQuota(tx, team)), QuotaError);
  // Another team's apps do not count.
  const other = await db.team.create({ data: { name: "q-other" } });
  await db.$transaction((tx) => assertAppQuota(tx, other));
  assert.equal(DEFAULT_APP_QUOTA, 10);
});
