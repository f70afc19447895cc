/**
 * The offline migration path, end to end: the wasm schema engine over
 * better-sqlite3, the committed migrations, and the Prisma client on top.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import {
  defaultMigrationsDir,
  defaultSchemaPath,
  migrateCheck,
  migrateCreate,
  migrateDeploy,
  migrateResolve,
} from "./migrate.ts";
import { createDb, Prisma } from "./index.ts";

const here = path.dirname(fileURLToPath(import.meta.url));
const tmp = mkdtempSync(path.join(tmpdir(), "paas-migrate-"));
after(() => rmSync(tmp, { recursive: true, force: true }));

const committed = readdirSync(defaultMigrationsDir, { withFileTypes: true })
  .filter((d) => d.isDirectory())
  .map((d) => d.name)
  .sort();

/** schema.prisma plus one model, written to a temp file. */
function schemaWithExtraModel(): string {
  const file = path.join(tmp, `extra-${Math.random().toString(36).slice(2)}.prisma`);
  writeFileSync(
    file,
    readFileSync(defaultSchemaPath, "utf8") + "\nmodel Extra {\n  id    String @id\n  label String\n}\n",
  );
  return file;
}

function lowerFirst(s: string): string {
  return s[0].toLowerCase() + s.slice(1);
}

describe("migrateDeploy", () => {
  // A directory that does not exist yet: deploy must create it.
  const url = `file:${path.join(tmp, "fresh", "nested", "paas.db")}`;

  test("a fresh database gets every migration and every model's table", async () => {
    const started = performance.now();
    const applied = await migrateDeploy(url);
    const ms = performance.now() - started;
    assert.deepEqual(applied, committed);
    console.log(`  deploy on a fresh database: ${ms.toFixed(0)} ms`);

    const db = createDb(url);
    try {
      const models = Object.values(Prisma.ModelName);
      assert.ok(models.length >= 10, `expected the schema's models, got ${models.join(", ")}`);
      for (const model of models) {
        const delegate = (db as unknown as Record<string, { count(): Promise<number> }>)[lowerFirst(model)];
        assert.equal(await delegate.count(), 0, `table for ${model}`);
      }
      // Defaults and unique constraints come from the migration SQL, not the client.
      const team = await db.team.create({ data: { name: "acme" } });
      assert.equal((await db.quota.create({ data: { teamId: team.id } })).apps, 10);
      await assert.rejects(db.team.create({ data: { name: "acme" } }), /Unique constraint/);
    } finally {
      await db.$disconnect();
    }
  });

  test("a second deploy applies nothing, quickly", async () => {
    const started = performance.now();
    assert.deepEqual(await migrateDeploy(url), []);
    const ms = performance.now() - started;
    assert.ok(ms < 1000, `up-to-date deploy took ${ms.toFixed(0)} ms`);
  });

  test("a failing migration is reported with its name and the database's error, and blocks later deploys", async () => {
    const dir = path.join(tmp, "bad-migrations");
    cpSync(defaultMigrationsDir, dir, { recursive: true });
    const bad = "29990101000000_bad";
    cpSync(path.join(dir, committed[0]), path.join(dir, bad), { recursive: true });
    writeFileSync(path.join(dir, bad, "migration.sql"), 'CREATE TABLE "Ok" ("id" INTEGER);\nCREATE TABLE (oops;\n');
    const badUrl = `file:${path.join(tmp, "bad.db")}`;

    await assert.rejects(migrateDeploy(badUrl, { migrationsDir: dir }), (e: Error) => {
      assert.match(e.message, new RegExp(`Migration ${bad} failed: .*syntax error`));
      return true;
    });
    await assert.rejects(migrateDeploy(badUrl, { migrationsDir: dir }), /failed migrations[\s\S]*resolve --rolled-back/);

    // Fix it, mark it rolled back, deploy again: the way out the error message gives.
    writeFileSync(path.join(dir, bad, "migration.sql"), 'CREATE TABLE "Fixed" ("id" INTEGER);\n');
    const db = createDb(badUrl);
    await db.$executeRawUnsafe('DROP TABLE IF EXISTS "Ok"');
    await db.$disconnect();
    await migrateResolve("rolled-back", bad, badUrl);
    assert.deepEqual(await migrateDeploy(badUrl, { migrationsDir: dir }), [bad]);
  });

  test("an applied migration edited afterwards is reported, not silently ignored", async () => {
    const dir = path.join(tmp, "edited-migrations");
    cpSync(defaultMigrationsDir, dir, { recursive: true });
    const editedUrl = `file:${path.join(tmp, "edited.db")}`;
    const seen: string[][] = [];
    await migrateDeploy(editedUrl, { migrationsDir: dir, onEdited: (n) => seen.push(n) });
    assert.equal(seen.length, 0);
    writeFileSync(path.join(dir, committed[0], "migration.sql"), "-- edited\n", { flag: "a" });
    assert.deepEqual(await migrateDeploy(editedUrl, { migrationsDir: dir, onEdited: (n) => seen.push(n) }), []);
    assert.deepEqual(seen, [[committed[0]]]);
  });

  test("rejects a database URL that is not SQLite, with what to do", async () => {
    await assert.rejects(migrateDeploy("postgresql://u:secret@h/db"), (e: Error) => {
      assert.match(e.message, /SQLite only.*PAAS_DATABASE_URL/);
      assert.doesNotMatch(e.message, /secret/);
      return true;
    });
  });
});

describe("migrateCheck and migrateCreate", () => {
  test("the committed migrations match schema.prisma", async () => {
    assert.equal(await migrateCheck(), null);
  });

  test("an extra model is drift, shown as the SQL that is missing", async () => {
    const drift = await migrateCheck({ schemaPath: schemaWithExtraModel() });
    assert.ok(drift);
    assert.match(drift, /CREATE TABLE "Extra"/);
    assert.doesNotMatch(drift, /CREATE TABLE "Team"/);
  });

  test("create writes the diff as a new migration, then nothing more", async () => {
    const dir = path.join(tmp, "create-migrations");
    cpSync(defaultMigrationsDir, dir, { recursive: true });
    const schemaPath = schemaWithExtraModel();

    const made = await migrateCreate("Add extra!", { migrationsDir: dir, schemaPath });
    assert.ok(made);
    assert.match(made.name, /^\d{14}_add_extra$/);
    assert.match(readFileSync(made.file, "utf8"), /CREATE TABLE "Extra"/);
    assert.equal(await migrateCheck({ migrationsDir: dir, schemaPath }), null);
    assert.equal(await migrateCreate("again", { migrationsDir: dir, schemaPath }), null);
    assert.equal(readdirSync(dir).length, committed.length + 2); // + lockfile + the new one

    // The new migration deploys on top of the committed ones.
    const url = `file:${path.join(tmp, "created.db")}`;
    assert.deepEqual(await migrateDeploy(url, { migrationsDir: dir }), [...committed, made.name]);
  });

  test("the first migration of an empty directory comes with migration_lock.toml", async () => {
    const dir = path.join(tmp, "empty-migrations");
    const made = await migrateCreate("init", { migrationsDir: dir });
    assert.ok(made);
    assert.match(readFileSync(path.join(dir, "migration_lock.toml"), "utf8"), /provider = "sqlite"/);
    const sql = readFileSync(made.file, "utf8");
    // Equal to the init migration only while no later migration changed the schema.
    if (committed.length === 1) {
      assert.equal(sql, readFileSync(path.join(defaultMigrationsDir, committed[0], "migration.sql"), "utf8"));
    } else {
      for (const table of ["Team", "User", "App", "Build", "Release", "ConfigVar"]) assert.match(sql, new RegExp(`CREATE TABLE "${table}"`));
    }
  });
});

describe("the command", () => {
  const run = (args: string[], env: NodeJS.ProcessEnv = {}) =>
    promisify(execFile)(process.execPath, ["--import", "tsx", path.join(here, "migrate.ts"), ...args], {
      cwd: here,
      env: { ...process.env, ...env },
    }).then(
      (r) => ({ code: 0, ...r }),
      (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr }),
    );

  test("deploy prints one line per migration, under PAAS_DATA_DIR", async () => {
    const dataDir = path.join(tmp, "cli-data");
    const first = await run(["deploy"], { PAAS_DATA_DIR: dataDir, PAAS_DATABASE_URL: "" });
    assert.equal(first.code, 0, first.stderr);
    assert.deepEqual(
      first.stdout.split("\n").filter((l) => l.startsWith("Applying")),
      committed.map((m) => `Applying migration ${m}`),
    );
    assert.match(first.stdout, new RegExp(`${path.join(dataDir, "paas.db")} migrated`));
    const second = await run(["deploy"], { PAAS_DATA_DIR: dataDir, PAAS_DATABASE_URL: "" });
    assert.equal(second.code, 0, second.stderr);
    assert.match(second.stdout, /up to date/);
    assert.doesNotMatch(second.stdout, /Applying/);
  });

  test("check exits 0 without drift and 1 with it", async () => {
    assert.equal((await run(["check"])).code, 0);
    const drift = await run(["check", "--schema", schemaWithExtraModel()]);
    assert.equal(drift.code, 1);
    assert.match(drift.stderr, /CREATE TABLE "Extra"/);
  });
});
