/** A running build is stopped once its team has used its build minutes of the day (real SQLite). */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, test } from "node:test";

const dataDir = mkdtempSync(path.join(os.tmpdir(), "paas-build-minutes-"));
process.env.PAAS_DATA_DIR = dataDir;
delete process.env.PAAS_DATABASE_URL;
const { migrateDeploy } = await import("../../../prisma/migrate.ts");
await migrateDeploy(`file:${path.join(dataDir, "paas.db")}`);
const { db } = await import("@paas/db");
const { BuildStopped, watchBuildMinutes } = await import("./build-minutes.ts");

after(async () => {
  await db.$disconnect();
  rmSync(dataDir, { recursive: true, force: true });
});

const aborted = (signal: AbortSignal, ms: number) =>
  new Promise<unknown>((resolve) => {
    if (signal.aborted) return resolve(signal.reason);
    const t = setTimeout(() => resolve(null), ms);
    signal.addEventListener("abort", () => (clearTimeout(t), resolve(signal.reason)));
  });

test("a build running past the team's build minutes is stopped with the quota's message; one within them is not", async () => {
  const team = await db.team.create({ data: { name: "minutes", quota: { create: { buildMinutesPerDay: 2 } } } });
  const app = await db.app.create({ data: { name: "long-build", teamId: team.id } });
  // Running for 90 s: within the 2 minutes.
  const build = await db.build.create({ data: { appId: app.id, commit: "a".repeat(40), status: "building", startedAt: new Date(Date.now() - 90_000) } });
  const watch = watchBuildMinutes(team, 50);
  try {
    assert.equal(await aborted(watch.signal, 300), null, "not stopped within the quota");
    // Another of the team's builds ran 40 s today: 130 s of 120.
    await db.build.create({ data: { appId: app.id, commit: "b".repeat(40), status: "succeeded", startedAt: new Date(Date.now() - 50_000), finishedAt: new Date(Date.now() - 10_000) } });
    const reason = await aborted(watch.signal, 2000);
    assert.ok(reason instanceof BuildStopped, `stopped: ${String(reason)}`);
    assert.match(reason.message, /^stopped: team "minutes" has used its quota of 2 build minutes today \(2 used since 00:00 UTC\)/);
  } finally {
    watch.stop();
    await db.build.update({ where: { id: build.id }, data: { status: "failed", finishedAt: new Date() } });
  }
});
