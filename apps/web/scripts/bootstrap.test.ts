import assert from "node:assert/strict";
import { readFileSync, rmSync, statSync } from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { freshDataDir } from "../src/server/testing/platform.ts";

const dataDir = freshDataDir("paas-bootstrap-");
const { db } = await import("@paas/db");
const { hashToken } = await import("@paas/shared");
const { bootstrap } = await import("./bootstrap.ts");

test("bootstrap is idempotent and writes the admin token once, mode 600", async () => {
  const first = await bootstrap();
  assert.ok(first.token?.startsWith("paas_"));
  const file = path.join(dataDir, "admin-token");
  assert.equal(first.tokenFile, file);
  assert.equal(statSync(file).mode & 0o777, 0o600);
  assert.equal(readFileSync(file, "utf8").trim(), first.token);

  const second = await bootstrap();
  assert.equal(second.token, null, "an existing token file is kept");
  assert.equal(readFileSync(file, "utf8").trim(), first.token);

  const user = await db.user.findUniqueOrThrow({ where: { email: "admin@paas.localhost" }, include: { memberships: { include: { team: true } } } });
  assert.equal(user.isOperator, true);
  assert.deepEqual(user.memberships.map((m) => [m.team.name, m.role]), [["main", "admin"]]);
  assert.equal(await db.team.count(), 1);
  assert.equal(await db.quota.count(), 1);
  assert.equal(await db.apiToken.count(), 1);
  assert.equal((await db.apiToken.findFirstOrThrow()).hash, hashToken(first.token!));

  // Deleting the file mints a new token on the next run.
  rmSync(file);
  const third = await bootstrap();
  assert.ok(third.token && third.token !== first.token);
  assert.equal(await db.apiToken.count(), 2);
});
