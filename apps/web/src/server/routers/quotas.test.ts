/**
 * quotas.get / quotas.set and audit.list through the real context, router, authorization and
 * the audit middleware, on a migrated SQLite database (no hosts: no agent is called).
 */
import assert from "node:assert/strict";
import { before, test } from "node:test";
import { freshDataDir } from "../testing/platform.ts";

freshDataDir("paas-quotas-api-");
const { db } = await import("@paas/db");
const { generateToken } = await import("@paas/shared");
const { TRPCError } = await import("@trpc/server");
const { createCaller } = await import("./_app.ts");
const { createContext } = await import("../trpc.ts");
const { bootstrap } = await import("../../../scripts/bootstrap.ts");
const { redact, REDACTED } = await import("../audit/record.ts");

async function as(token: string | null, address = "203.0.113.7") {
  const headers = new Headers({ "x-forwarded-for": `${address}, 10.0.0.1` });
  if (token) headers.set("authorization", `Bearer ${token}`);
  return createCaller(await createContext({ headers, resHeaders: new Headers() }));
}

async function code(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof TRPCError, `expected a TRPCError, got ${err}`);
    return err.code;
  }
  return "OK";
}

async function member(email: string, team: string, role: "admin" | "member") {
  const t = await db.team.upsert({ where: { name: team }, update: {}, create: { name: team } });
  const user = await db.user.upsert({ where: { email }, update: {}, create: { email } });
  await db.membership.upsert({ where: { teamId_userId: { teamId: t.id, userId: user.id } }, update: { role }, create: { teamId: t.id, userId: user.id, role } });
  const tok = generateToken();
  await db.apiToken.create({ data: { userId: user.id, name: "test", hash: tok.hash, prefix: tok.prefix } });
  return tok.token;
}

let operator: string;
let admin: string;
let dev: string;
let outsider: string;

before(async () => {
  operator = (await bootstrap()).token!;
  admin = await member("ada@example.com", "acme", "admin");
  dev = await member("dev@example.com", "acme", "member");
  outsider = await member("eve@example.com", "evil", "admin");
});

test("members read the team's quotas with the use; only operators set them, and bad input changes nothing", async () => {
  const q = await (await as(dev)).quotas.get({ team: "acme" });
  assert.equal(q.limits.apps, 10);
  assert.equal(q.usage.apps, 0);
  assert.deepEqual(q.over, []);
  assert.equal(await code((await as(outsider)).quotas.get({ team: "acme" })), "NOT_FOUND");

  await assert.rejects((await as(admin)).quotas.set({ team: "acme", limits: { apps: 50 } }), /only the platform's operators may set quotas: ask one to run `paas quotas:set \.\.\. --team acme`/);
  assert.equal(await code((await as(dev)).quotas.set({ team: "acme", limits: { apps: 50 } })), "FORBIDDEN");
  assert.equal(await code((await as(operator)).quotas.set({ team: "acme", limits: { apps: -1 } })), "BAD_REQUEST");
  assert.equal(await code((await as(operator)).quotas.set({ team: "acme", limits: {} })), "BAD_REQUEST");
  assert.equal((await as(dev).then((a) => a.quotas.get({ team: "acme" }))).limits.apps, 10);

  const set = await (await as(operator)).quotas.set({ team: "acme", limits: { apps: 1, memoryMb: 2048 } });
  assert.equal(set.limits.apps, 1);
  assert.equal(set.limits.memoryMb, 2048);
  assert.equal(set.limits.replicas, 20);
  assert.equal(set.warning, null);
});

test("a quota lowered below the use is allowed: the team shows as over it, and growth is refused", async () => {
  const api = await as(dev);
  await api.apps.create({ name: "acme-one", team: "acme" });
  await assert.rejects(api.apps.create({ name: "acme-two", team: "acme" }), /reached its quota of 1 app \(it has 1 app/);
  await (await as(operator)).quotas.set({ team: "acme", limits: { apps: 0 } });
  const q = await api.quotas.get({ team: "acme" });
  assert.deepEqual(q.over, ["apps"]);
  assert.equal(await db.app.count({ where: { name: "acme-one" } }), 1);
  await (await as(operator)).quotas.set({ team: "acme", limits: { apps: 10 } });
});

test("every change is in the audit log (who, what, team, app, address, token, outcome), refusals and failures too, and no secret is", async () => {
  const before = await db.auditEvent.count();
  const tokenPrefix = (await db.apiToken.findFirstOrThrow({ where: { user: { email: "dev@example.com" } } })).prefix;
  await (await as(dev, "198.51.100.9")).apps.create({ name: "acme-audited", team: "acme" });
  // Refused by authorization: recorded as denied, with the refusal's reason, on the team it named.
  await code((await as(outsider)).apps.destroy({ name: "acme-audited", confirm: "acme-audited" }));
  await code((await as(dev)).quotas.set({ team: "acme", limits: { apps: 99 } }));
  // Refused by a quota: denied too.
  await (await as(operator)).quotas.set({ team: "acme", limits: { apps: 2 } });
  assert.equal(await code((await as(dev)).apps.create({ name: "acme-over", team: "acme" })), "FORBIDDEN");
  await (await as(operator)).quotas.set({ team: "acme", limits: { apps: 10 } });
  // Tried and not done: failed.
  assert.equal(await code((await as(admin)).apps.destroy({ name: "acme-audited", confirm: "nope" })), "BAD_REQUEST");
  // No identity at all: not recorded (audit/record.ts auditable).
  assert.equal(await code((await as(null)).apps.create({ name: "acme-anon", team: "acme" })), "UNAUTHORIZED");
  assert.equal(await code((await as("paas_no-such-token-000000000000000")).apps.create({ name: "acme-anon", team: "acme" })), "UNAUTHORIZED");
  // A sign-in carries a token in its input: recorded without it.
  await (await as(null)).auth.signIn({ token: dev });
  const rows = await db.auditEvent.findMany({ orderBy: [{ createdAt: "asc" }, { id: "asc" }], skip: before });
  assert.deepEqual(
    rows.map((r) => [r.actor, r.action, r.team, r.outcome.replace(/: .*/, "")]),
    [
      ["dev@example.com", "apps.create", "acme", "ok"],
      ["eve@example.com", "apps.destroy", "acme", "denied"],
      ["dev@example.com", "quotas.set", "acme", "denied"],
      ["admin@paas.localhost", "quotas.set", "acme", "ok"],
      ["dev@example.com", "apps.create", "acme", "denied"],
      ["admin@paas.localhost", "quotas.set", "acme", "ok"],
      ["ada@example.com", "apps.destroy", "acme", "failed"],
      ["anonymous", "auth.signIn", null, "ok"],
    ],
  );
  assert.match(rows[1]!.outcome, /^denied: app "acme-audited" not found \(or you have no access to it\)$/);
  assert.match(rows[2]!.outcome, /^denied: only the platform's operators may set quotas/);
  assert.match(rows[4]!.outcome, /^denied: team "acme" has reached its quota of 2 apps/);
  assert.match(rows[6]!.outcome, /^failed: destroying acme-audited removes it and everything it has for good: confirm with --confirm acme-audited$/);
  assert.equal(await db.app.count({ where: { name: "acme-audited" } }), 1);
  const create = rows[0]!;
  assert.equal(create.actor, "dev@example.com");
  assert.equal(create.team, "acme");
  assert.equal(create.app, "acme-audited");
  assert.equal(create.address, "198.51.100.9");
  assert.equal(create.tokenPrefix, tokenPrefix);
  assert.ok(create.tokenId);
  for (const r of await db.auditEvent.findMany()) assert.ok(!JSON.stringify(r).includes(dev), `${r.action} holds the token`);

  // Admins and operators read it; members and others do not.
  const log = await (await as(admin)).audit.list({ team: "acme", limit: 10 });
  // Newest first: the failed destroy above, ..., the create, then the operator's quota changes of the earlier tests.
  assert.deepEqual([log[0]!.action, log[0]!.app, log[0]!.outcome.split(":")[0]], ["apps.destroy", "acme-audited", "failed"]);
  const created = log.find((e) => e.action === "apps.create" && e.outcome === "ok")!;
  assert.equal(created.app, "acme-audited");
  assert.equal(created.token, tokenPrefix);
  assert.ok(log.some((e) => e.action === "quotas.set" && e.actor === "admin@paas.localhost" && (e.details.limits as { apps?: number }).apps === 10));
  assert.equal((await (await as(operator)).audit.list({ team: "acme", limit: 1 })).length, 1);
  assert.equal(await code((await as(dev)).audit.list({ team: "acme" })), "FORBIDDEN");
  assert.equal(await code((await as(outsider)).audit.list({ team: "acme" })), "NOT_FOUND");
});

test("redact keeps names and drops secret values: config vars, tokens, passwords, keys, certificates and URLs' credentials", () => {
  assert.deepEqual(redact({ app: "a", vars: { DATABASE_URL: "postgres://u:pw@h/db", GREETING: "hi" } }), { app: "a", vars: { DATABASE_URL: REDACTED, GREETING: REDACTED } });
  assert.deepEqual(redact({ token: "paas_x", password: "hunter2", name: "n" }), { token: REDACTED, password: REDACTED, name: "n" });
  assert.deepEqual(redact({ app: "a", cert: "-----BEGIN CERTIFICATE-----\nx", key: "-----BEGIN PRIVATE KEY-----\ny" }), { app: "a", cert: REDACTED, key: REDACTED });
  assert.deepEqual(redact({ keys: ["A", "B"], note: "-----BEGIN RSA PRIVATE KEY-----" }), { keys: ["A", "B"], note: REDACTED });
  // A drain's URL: its credentials and query values masked, the rest kept to tell drains apart.
  assert.deepEqual(redact({ app: "a", url: "https://u:pw@logs.example.com/in?token=t0k" }), { app: "a", url: "https://u:***@logs.example.com/in?token=***" });
});
