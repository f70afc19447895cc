/** The quota rules, pure and on a migrated database (defaults from the schema, apps, builds, deploys). */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";
import { createDb, type PrismaClient } from "./index.ts";
import { formationFor } from "./formation.ts";
import { migrateDeploy } from "./migrate.ts";
import {
  appQuotaViolation,
  domainQuotaViolation,
  drainQuotaViolation,
  assertAppQuota,
  assertDrainQuota,
  assertDeployQuota,
  concurrentBuildLimit,
  deployQuotaViolation,
  QuotaError,
  quotaOf,
  assertBuildMinutes,
  buildMinutesToday,
  buildMinutesViolation,
  HOLD_TTL_MS,
  moveApps,
  moveQuotaViolation,
  quotaDayStart,
  releaseDeployQuota,
  reserveDeployQuota,
  setQuota,
  teamCgroupLimits,
  teamUsage,
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
  assert.match(why, /destroy an app .*git push paas :<branch>.* or ask the platform's operator to raise the team's quota \(paas quotas:set\)/);
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
  const quota = { replicas: 4, memoryMb: 1024, cpuMillis: 1000 };
  const use = (replicas: number, memoryMb: number, cpuMillis = 0) => ({ replicas, memoryMb, cpuMillis });
  assert.equal(deployQuotaViolation("t", "web", use(2, 512, 500), use(2, 512, 500), quota), null);
  assert.equal(
    deployQuotaViolation("t", "web", use(3, 768), use(2, 512), quota),
    `team "t" would exceed its quota of 4 replicas (its other apps run 3, web would run 2) and 1024 MB of memory (its other apps take 768 MB, web would take 512 MB): ` +
      "destroy or scale down an app it no longer needs or ask the platform's operator to raise the team's quota (paas quotas:set)",
  );
  assert.match(deployQuotaViolation("t", "web", use(0, 0), use(1, 2048), quota) ?? "", /^team "t" would exceed its quota of 1024 MB of memory \(its other apps take 0 MB, web would take 2048 MB\)/);
  assert.match(deployQuotaViolation("t", "web", use(1, 256, 750), use(1, 256, 500), quota) ?? "", /^team "t" would exceed its quota of 1 CPU \(its other apps take 0\.75 CPUs, web would take 0\.5 CPUs\)/);
});

test("assertDeployQuota counts the team's other apps as scaled, not the deployed app's own", async () => {
  const team = await db.team.create({ data: { name: "q-deploy" } });
  await db.quota.create({ data: { teamId: team.id, replicas: 3, memoryMb: 1024, cpuMillis: 1000 } });
  const a = await db.app.create({ data: { name: "q-a", teamId: team.id }, include: { team: true } });
  const b = await db.app.create({ data: { name: "q-b", teamId: team.id }, include: { team: true } });
  await db.release.create({ data: { appId: a.id, version: 1, imageRef: "app/q-a:v1", processTypes: JSON.stringify({ web: "x", worker: "y" }), status: "active" } });
  await db.formation.create({ data: { appId: a.id, processType: "web", quantity: 2, memoryMb: 256, cpuMillis: 250 } });
  // a row of a type a's live release does not have runs nothing and counts for nothing
  await db.formation.create({ data: { appId: a.id, processType: "clock", quantity: 5, memoryMb: 512 } });
  const size = (quantity: number, memoryMb: number, cpuMillis = 250) => ({ quantity, memoryMb, cpuMillis });
  // a redeploy of a as it is scaled fits (its own formation is not counted twice)
  await assertDeployQuota(db, a, [size(2, 256)]);
  await assertDeployQuota(db, b, [size(1, 512)]);
  await assert.rejects(assertDeployQuota(db, b, [size(2, 256)]), /quota of 3 replicas \(its other apps run 2, q-b would run 2\)/);
  await assert.rejects(assertDeployQuota(db, b, [size(1, 1024)]), /1024 MB of memory \(its other apps take 512 MB, q-b would take 1024 MB\)/);
  await assert.rejects(assertDeployQuota(db, b, [size(1, 256, 600)]), /quota of 1 CPU \(its other apps take 0\.5 CPUs, q-b would take 0\.6 CPUs\)/);
  // a's worker has no row yet: the first read makes it with the defaults, and then it counts
  const rows = await formationFor(db, a.id, ["web", "worker"]);
  assert.deepEqual(rows.map((r) => [r.processType, r.quantity, r.memoryMb, r.cpuMillis]), [["web", 2, 256, 250], ["worker", 1, 256, 250]]);
  await assert.rejects(assertDeployQuota(db, b, [size(1, 256)]), /quota of 3 replicas \(its other apps run 3, q-b would run 1\)/);
});

test("custom domains: one more fits below the limit; at it, the refusal names the limit, the use and what to do", () => {
  assert.equal(domainQuotaViolation("acme", 19, 20), null);
  assert.equal(
    domainQuotaViolation("acme", 20, 20),
    'team "acme" has reached its quota of 20 custom domains (its apps have 20): remove one it no longer needs with `paas domains:remove HOST -a APP` or ask the platform\'s operator to raise the team\'s quota (paas quotas:set)',
  );
});

/**
 * The process's one client, as the web process has. (Several better-sqlite3 connections in one
 * process cannot wait for each other: a busy wait blocks the very event loop that would commit.)
 */
const clients = () => [db];

test("20 app creates at once against a quota of 5: exactly 5 apps, 15 refused with the quota", async () => {
  const team = await db.team.create({ data: { name: "q-race-apps" } });
  await setQuota(db, team.id, { apps: 5 });
  const cs = clients();
  const results = await Promise.allSettled(
    Array.from({ length: 20 }, (_, i) =>
      cs[i % cs.length]!.$transaction(async (tx) => {
        await assertAppQuota(tx, team);
        return tx.app.create({ data: { name: `q-race-${i}`, teamId: team.id } });
      }),
    ),
  );
  const refused = results.filter((r) => r.status === "rejected");
  for (const r of refused) assert.match(String((r as PromiseRejectedResult).reason), /reached its quota of 5 apps \(it has 5 apps/);
  assert.equal(results.filter((r) => r.status === "fulfilled").length, 5);
  assert.equal(await db.app.count({ where: { teamId: team.id } }), 5);
});

test("20 deploys of 20 apps at once against 5 replicas: 5 holds, 15 refused; a released hold frees its room", async () => {
  const team = await db.team.create({ data: { name: "q-race-scale" } });
  await setQuota(db, team.id, { replicas: 5 });
  const apps = [];
  for (let i = 0; i < 20; i++) apps.push({ ...(await db.app.create({ data: { name: `q-scale-${i}`, teamId: team.id } })), team });
  const cs = clients();
  const one = [{ quantity: 1, memoryMb: 64, cpuMillis: 10 }];
  const results = await Promise.allSettled(apps.map((a, i) => reserveDeployQuota(cs[i % cs.length]!, a, one)));
  const ok = results.filter((r) => r.status === "fulfilled").length;
  for (const r of results) if (r.status === "rejected") assert.match(String(r.reason), /would exceed its quota of 5 replicas \(its other apps run 5, q-scale-\d+ would run 1\)/);
  assert.equal(ok, 5);
  assert.equal(await db.quotaHold.count({ where: { teamId: team.id } }), 5);
  // One deploy ends (failed: its formation never changed): its room is free again, for one more only.
  const held = await db.quotaHold.findFirstOrThrow({ where: { teamId: team.id } });
  await releaseDeployQuota(db, held.appId);
  const waiting = apps.filter((a) => a.id !== held.appId);
  const again = await Promise.allSettled(waiting.map((a) => reserveDeployQuota(db, a, one)));
  // The 4 still held re-reserve their own room; exactly one of the others gets the freed one.
  assert.equal(again.filter((r) => r.status === "fulfilled").length, 5);
});

test("a stale hold (its worker died) no longer counts", async () => {
  const team = await db.team.create({ data: { name: "q-stale" } });
  await setQuota(db, team.id, { replicas: 1 });
  const a = { ...(await db.app.create({ data: { name: "q-stale-a", teamId: team.id } })), team };
  const b = { ...(await db.app.create({ data: { name: "q-stale-b", teamId: team.id } })), team };
  await reserveDeployQuota(db, a, [{ quantity: 1, memoryMb: 64, cpuMillis: 10 }]);
  await assert.rejects(reserveDeployQuota(db, b, [{ quantity: 1, memoryMb: 64, cpuMillis: 10 }]), /quota of 1 replica/);
  await db.quotaHold.update({ where: { appId: a.id }, data: { createdAt: new Date(Date.now() - HOLD_TTL_MS - 1000) } });
  await reserveDeployQuota(db, b, [{ quantity: 1, memoryMb: 64, cpuMillis: 10 }]);
});

test("build minutes: the day's build time of the team's builds (from 00:00 UTC; a running one until now) against its quota", async () => {
  const team = await db.team.create({ data: { name: "q-minutes" } });
  const app = await db.app.create({ data: { name: "q-minutes-a", teamId: team.id } });
  const now = new Date();
  const day = quotaDayStart(now).getTime();
  const min = 60_000;
  // Yesterday's build does not count; one that crossed midnight counts from 00:00.
  await db.build.create({ data: { appId: app.id, commit: "a", status: "succeeded", startedAt: new Date(day - 30 * min), finishedAt: new Date(day - 20 * min) } });
  await db.build.create({ data: { appId: app.id, commit: "b", status: "succeeded", startedAt: new Date(day - 5 * min), finishedAt: new Date(day + 1 * min) } });
  await db.build.create({ data: { appId: app.id, commit: "c", status: "building", startedAt: new Date(now.getTime() - 2 * min) } });
  const used = await buildMinutesToday(db, team.id, now);
  assert.ok(Math.abs(used - (Math.min(1, (now.getTime() - day) / min) + Math.min(2, (now.getTime() - day) / min))) < 0.01, `used ${used}`);
  await setQuota(db, team.id, { buildMinutesPerDay: 120 });
  await assertBuildMinutes(db, team);
  await setQuota(db, team.id, { buildMinutesPerDay: 1 });
  await assert.rejects(assertBuildMinutes(db, team), /team "q-minutes" has used its quota of 1 build minutes today \(\d+ used since 00:00 UTC\): push again after midnight UTC/);
  assert.equal(buildMinutesViolation("t", 119.9, 120), null);
});

test("teamUsage counts each limit's use; lowering a quota below it is allowed", async () => {
  const team = await db.team.create({ data: { name: "q-usage" } });
  const a = await db.app.create({ data: { name: "q-usage-a", teamId: team.id } });
  await db.release.create({ data: { appId: a.id, version: 1, imageRef: "x", status: "active", processTypes: JSON.stringify({ web: "x", worker: "y" }) } });
  await formationFor(db, a.id, ["web", "worker"]);
  await db.formation.update({ where: { appId_processType: { appId: a.id, processType: "web" } }, data: { quantity: 3, memoryMb: 512, cpuMillis: 500 } });
  await db.domain.create({ data: { hostname: "q-usage.example.com", appId: a.id } });
  // Drains count per app: the use is the app with the most (2), not the sum (3).
  const b = await db.app.create({ data: { name: "q-usage-b", teamId: team.id } });
  for (const [appId, n] of [[a.id, 2], [b.id, 1]] as const) {
    for (let i = 0; i < n; i++) await db.drain.create({ data: { appId, url: `syslog+tcp://logs${i}.example.com:514` } });
  }
  const u = await teamUsage(db, team.id);
  assert.deepEqual({ ...u, buildMinutesPerDay: 0 }, { apps: 2, replicas: 4, memoryMb: 3 * 512 + 256, cpuMillis: 3 * 500 + 250, storageMb: 0, concurrentBuilds: 0, buildMinutesPerDay: 0, customDomains: 1, drainsPerApp: 2 });
  const q = await setQuota(db, team.id, { replicas: 2, memoryMb: 1024 });
  assert.equal(q.replicas, 2);
  assert.equal(q.apps, 10); // the others keep the defaults
});

test("teamCgroupLimits: the quota's memory, CPU and pids, with room for the team's concurrent builds", () => {
  assert.deepEqual(teamCgroupLimits({ memoryMb: 4096, cpuMillis: 4000, pids: 4096, concurrentBuilds: 2 }), {
    memoryBytes: (4096 + 2 * 1024) * 2 ** 20,
    cpuMillis: 4000,
    pids: 4096 + 2 * 1024,
  });
});

test("moveApps: an app and its previews move when the team's quotas hold with them; else nothing moves and the refusal names each limit", async () => {
  const from = await db.team.create({ data: { name: "q-move-from" } });
  const to = await db.team.create({ data: { name: "q-move-to" } });
  const app = await db.app.create({ data: { name: "q-mover", teamId: from.id } });
  await db.app.create({ data: { name: "q-mover--feature", teamId: from.id, previewOfId: app.id, previewBranch: "feature" } });
  await db.release.create({ data: { appId: app.id, version: 1, imageRef: "x", status: "active", processTypes: JSON.stringify({ web: "x" }) } });
  await formationFor(db, app.id, ["web"]);
  await db.formation.update({ where: { appId_processType: { appId: app.id, processType: "web" } }, data: { quantity: 3 } });
  const stay = await db.app.create({ data: { name: "q-stayer", teamId: to.id } });

  await setQuota(db, to.id, { apps: 2, replicas: 2 });
  const refused = await moveApps(db, app, to).then(() => null, (e: Error) => e);
  assert.ok(refused instanceof QuotaError, String(refused));
  assert.equal(
    refused.message,
    `team "q-move-to" cannot take q-mover: it would exceed its quota of 2 apps (it has 1 app, q-mover brings 2 apps) and 2 replicas (it has 0 replicas, q-mover brings 3 replicas); raise the team's quota first (paas quotas:set), or scale q-mover down`,
  );
  assert.equal(await db.app.count({ where: { teamId: from.id } }), 2, "nothing moved");

  await setQuota(db, to.id, { apps: 3, replicas: 3 });
  await moveApps(db, app, to);
  assert.deepEqual((await db.app.findMany({ where: { teamId: to.id }, orderBy: { name: "asc" } })).map((a) => a.name), ["q-mover", "q-mover--feature", stay.name]);
  assert.equal(await db.app.count({ where: { teamId: from.id } }), 0);
});

test("moveQuotaViolation: a limit the team was over already and the move does not add to is no refusal", () => {
  const use = { apps: 5, replicas: 4, memoryMb: 1024, cpuMillis: 1000, storageMb: 0, concurrentBuilds: 0, buildMinutesPerDay: 0, customDomains: 0, drainsPerApp: 1 };
  const quota = { apps: 3, replicas: 10, memoryMb: 4096, cpuMillis: 4000, storageMb: 1024, customDomains: 5, drainsPerApp: 5 };
  // over its apps already; the moved app is counted in `after` (6 > 5): refused
  assert.match(moveQuotaViolation("t", "a", use, { ...use, apps: 6 }, quota) ?? "", /quota of 3 apps \(it has 5 apps, a brings 1 app\)/);
  // over its replicas already (4 of 3), an app scaled to 0 adds none: allowed
  assert.equal(moveQuotaViolation("t", "a", use, { ...use, apps: 6 }, { ...quota, apps: 10, replicas: 3 }), null);
});

test("drains: the team's quota per app (default 5), the refusal naming the limit, the app's use and what to do", async () => {
  const team = await db.team.create({ data: { name: "q-drains" } });
  const app = { ...(await db.app.create({ data: { name: "q-drained", teamId: team.id } })), team };
  assert.equal((await quotaOf(db, team.id)).drainsPerApp, 5, "the schema's default");
  const add = (i: number) =>
    db.$transaction(async (tx) => {
      await assertDrainQuota(tx, app);
      await tx.drain.create({ data: { appId: app.id, url: `syslog+tcp://logs${i}.example.com:514` } });
    });
  await setQuota(db, team.id, { drainsPerApp: 2 });
  await add(1);
  await add(2);
  await assert.rejects(
    add(3),
    (e: Error) =>
      e instanceof QuotaError &&
      e.message === `q-drained has 2 drains, and team "q-drains"'s quota is 2 drains per app: remove one it no longer needs with \`paas drains:remove URL -a q-drained\` or ask the platform's operator to raise the team's quota (paas quotas:set)`,
  );
  assert.equal(await db.drain.count({ where: { appId: app.id } }), 2, "nothing added");
  // Another app of the team has its own 2.
  const other = { ...(await db.app.create({ data: { name: "q-drained-2", teamId: team.id } })), team };
  await db.$transaction((tx) => assertDrainQuota(tx, other));
  await setQuota(db, team.id, { drainsPerApp: 3 });
  await add(3);
  assert.equal(drainQuotaViolation("t", "a", 0, 0)?.startsWith("a has 0 drains, and team \"t\"'s quota is 0 drains per app"), true);
  assert.equal(drainQuotaViolation("t", "a", 4, 5), null);
});

test("moveApps refuses an app with more drains than the team allows per app", async () => {
  const from = await db.team.create({ data: { name: "q-dmove-from" } });
  const to = await db.team.create({ data: { name: "q-dmove-to" } });
  const app = await db.app.create({ data: { name: "q-dmover", teamId: from.id } });
  for (const i of [1, 2, 3]) await db.drain.create({ data: { appId: app.id, url: `syslog+tcp://logs${i}.example.com:514` } });
  await setQuota(db, to.id, { drainsPerApp: 2 });
  await assert.rejects(moveApps(db, app, to), /cannot take q-dmover: it would exceed its quota of 2 drains per app \(q-dmover or a preview of it has 3 drains\)/);
  await setQuota(db, to.id, { drainsPerApp: 3 });
  await moveApps(db, app, to);
});
