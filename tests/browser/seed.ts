/**
 * Seeds an app with builds and a release straight into the database, so the
 * dashboard has something to show without running the build pipeline.
 *
 *   npx tsx tests/browser/seed.ts <database-url> <app>
 */
import path from "node:path";
import { fileURLToPath } from "node:url";
import { createDb } from "@paas/db";

export const SUCCEEDED_LOG = [
  "-----> Fetching commit 3f2a9c1",
  "-----> Node.js app detected",
  "-----> Installing dependencies",
  "       npm install --omit=dev",
  "       added 57 packages in 3s",
  "npm warn deprecated inflight@1.0.6: This module is not supported",
  "-----> Discovering process types",
  "       Procfile declares types -> web",
  "-----> Build succeeded: image sha256:9f8e7d61c0",
].join("\n") + "\n";

export const FAILED_LOG = [
  "-----> Fetching commit a1b2c3d",
  "-----> Node.js app detected",
  "-----> Installing dependencies",
  "npm ERR! code EJSONPARSE",
  "npm ERR! JSON.parse Unexpected token } in JSON at position 120",
  "-----> Build failed",
].join("\n") + "\n";

export async function seedApp(url: string, appName: string, teamName = "main") {
  const db = createDb(url);
  try {
    const team = await db.team.findUniqueOrThrow({ where: { name: teamName } });
    const app = await db.app.create({ data: { name: appName, teamId: team.id } });
    const t0 = Date.now() - 10 * 60_000;
    const ok = await db.build.create({
      data: {
        appId: app.id, commit: "3f2a9c1e0b7d4c55aa01", message: "Add health check", status: "succeeded", builder: "node",
        log: SUCCEEDED_LOG, imageRef: "sha256:9f8e7d61c0", createdAt: new Date(t0), startedAt: new Date(t0), finishedAt: new Date(t0 + 41_000),
      },
    });
    await db.release.create({
      data: { appId: app.id, version: 1, buildId: ok.id, imageRef: "sha256:9f8e7d61c0", status: "active", description: "Deploy 3f2a9c1", createdAt: new Date(t0 + 45_000) },
    });
    const failed = await db.build.create({
      data: {
        appId: app.id, commit: "a1b2c3d4e5f60718293a", message: "Broken package.json", status: "failed", builder: "node",
        log: FAILED_LOG, error: "npm install failed (exit code 1): see the log", createdAt: new Date(t0 + 5 * 60_000),
        startedAt: new Date(t0 + 5 * 60_000), finishedAt: new Date(t0 + 5 * 60_000 + 12_000),
      },
    });
    return { app, succeeded: ok, failed };
  } finally {
    await db.$disconnect();
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const [url, app] = process.argv.slice(2);
  if (!url || !app) {
    console.error("usage: npx tsx tests/browser/seed.ts <database-url> <app>");
    process.exit(2);
  }
  await seedApp(url, app);
  console.log(`seeded ${app}`);
}
