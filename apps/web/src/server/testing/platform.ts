/**
 * Test support: a fresh data dir with a migrated database. Call before
 * importing anything that reads config() or @paas/db (they bind at import).
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
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

/** A fresh data dir, bootstrapped as `./infra/up` does: returns it and the admin token. */
export function bootstrappedDataDir(prefix: string): { dataDir: string; token: string } {
  const dataDir = freshDataDir(prefix);
  execFileSync(process.execPath, ["--import", "tsx", path.join(repoRoot, "apps/web/scripts/bootstrap.ts")], {
    cwd: repoRoot,
    env: { ...process.env, PAAS_DATA_DIR: dataDir },
    stdio: "ignore",
  });
  return { dataDir, token: readFileSync(path.join(dataDir, "admin-token"), "utf8").trim() };
}
