/**
 * The sidecars and volumes procedures through the real context, router and authorization on a
 * migrated database: who may read and change them, bad input and the storage quota refused
 * before anything is written or queued (the changes themselves: tests/e2e/sidecars.test.ts, volumes.test.ts).
 */
import assert from "node:assert/strict";
import { before, describe, test } from "node:test";
import { freshDataDir } from "../testing/platform.ts";

freshDataDir("paas-sidecars-test-");
const { db } = await import("@paas/db");
const { generateToken } = await import("@paas/shared");
const { TRPCError } = await import("@trpc/server");
const { createCaller } = await import("./_app.ts");
const { createContext } = await import("../trpc.ts");

async function as(token: string) {
  const headers = new Headers({ authorization: `Bearer ${token}` });
  return createCaller(await createContext({ headers, resHeaders: new Headers() }));
}

async function refusal(p: Promise<unknown>): Promise<{ code: string; message: string }> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof TRPCError, `expected a TRPCError, got ${err}`);
    return { code: err.code, message: err.message };
  }
  return { code: "OK", message: "" };
}

async function userWithToken(email: string, team: string, role: "admin" | "member") {
  const t = await db.team.upsert({ where: { name: team }, update: {}, create: { name: team } });
  const user = await db.user.create({ data: { email } });
  await db.membership.create({ data: { teamId: t.id, userId: user.id, role } });
  const tok = generateToken();
  await db.apiToken.create({ data: { userId: user.id, name: "test", hash: tok.hash, prefix: tok.prefix } });
  return tok.token;
}

let member: string;
let outsider: string;

before(async () => {
  member = await userWithToken("sam@example.com", "side-team", "member");
  outsider = await userWithToken("eve@example.com", "else-team", "admin");
  const team = await db.team.findUniqueOrThrow({ where: { name: "side-team" } });
  await db.quota.create({ data: { teamId: team.id, storageMb: 2048 } });
  await (await as(member)).apps.create({ name: "sidey" });
});

describe("sidecars and volumes: authorization and input", () => {
  test("another team's member gets not found for every procedure", async () => {
    const api = await as(outsider);
    for (const p of [
      api.sidecars.list({ app: "sidey" }),
      api.sidecars.attach({ app: "sidey", kind: "x", image: "stack/busybox" }),
      api.sidecars.detach({ app: "sidey", kind: "x" }),
      api.volumes.list({ app: "sidey" }),
      api.volumes.add({ app: "sidey", name: "data", path: "/data" }),
      api.volumes.remove({ app: "sidey", name: "data" }),
    ]) {
      assert.equal((await refusal(p)).code, "NOT_FOUND");
    }
    assert.equal(await db.appVolume.count(), 0);
    assert.equal(await db.sidecar.count(), 0);
  });

  test("bad input is refused and changes nothing", async () => {
    const api = await as(member);
    assert.equal((await refusal(api.sidecars.attach({ app: "sidey", kind: "Bad Kind", image: "stack/busybox" }))).code, "BAD_REQUEST");
    assert.equal((await refusal(api.sidecars.attach({ app: "sidey", kind: "x", image: "stack/busybox", net: "host" as "app" }))).code, "BAD_REQUEST");
    assert.equal((await refusal(api.sidecars.attach({ app: "sidey", kind: "x", image: "stack/busybox", volumes: [{ name: "data", path: "rel" }] }))).code, "BAD_REQUEST");
    assert.equal((await refusal(api.sidecars.detach({ app: "sidey", kind: "nosuch" }))).code, "NOT_FOUND");
    for (const path of ["/", "data", "/proc/x", "/etc", "/app", "/a/../b", "/data/"]) {
      assert.equal((await refusal(api.volumes.add({ app: "sidey", name: "data", path }))).code, "BAD_REQUEST", path);
    }
    assert.equal((await refusal(api.volumes.add({ app: "sidey", name: "Data", path: "/data" }))).code, "BAD_REQUEST");
    assert.equal((await refusal(api.volumes.add({ app: "sidey", name: "data", path: "/data", sizeMb: 1 }))).code, "BAD_REQUEST");
    assert.equal((await refusal(api.volumes.remove({ app: "sidey", name: "nosuch" }))).code, "NOT_FOUND");
    assert.equal(await db.appVolume.count(), 0);
  });

  test("volumes: added without a release (nothing to replace), a name or path taken, the storage quota", async () => {
    const api = await as(member);
    const v = await api.volumes.add({ app: "sidey", name: "data", path: "/data", sizeMb: 1024 });
    assert.deepEqual(v, { name: "data", path: "/data", sizeMb: 1024, replicas: 0 });
    assert.equal((await refusal(api.volumes.add({ app: "sidey", name: "data", path: "/other" }))).code, "CONFLICT");
    assert.equal((await refusal(api.volumes.add({ app: "sidey", name: "other", path: "/data" }))).code, "CONFLICT");
    const over = await refusal(api.volumes.add({ app: "sidey", name: "big", path: "/big", sizeMb: 1536 }));
    assert.equal(over.code, "FORBIDDEN");
    assert.match(over.message, /team "side-team" would exceed its storage quota of 2048 MB \(its volumes take 1024 MB, this one would take 1536 MB\)/);
    assert.deepEqual((await api.volumes.list({ app: "sidey" })).map((x) => [x.name, x.path, x.sizeMb]), [["data", "/data", 1024]]);
    // No replica mounts it: removed at once.
    assert.deepEqual(await api.volumes.remove({ app: "sidey", name: "data" }), { name: "data", replaced: 0, left: [] });
    assert.equal(await db.appVolume.count(), 0);
  });
});
