/**
 * Test support: a fresh data dir with a migrated database. Call before
 * importing anything that reads config() or @paas/db (they bind at import).
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../../../..");

export function freshDataDir(prefix = "paas-web-test-"): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  process.env.PAAS_DATA_DIR = dir;
  delete process.env.PAAS_DATABASE_URL;
  execFileSync(process.execPath, ["--import", "tsx", path.join(repoRoot, "prisma/migrate.ts"), "deploy"], {
    cwd: repoRoot,
    env: { ...process.env, PAAS_DATA_DIR: dir },
    stdio: ["ignore", "ignore", "inherit"],
  });
  return dir;
}
