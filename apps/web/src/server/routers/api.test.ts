/**
 * The API through its real context (headers -> token -> principal), router,
 * authorization and quota rules, on a migrated SQLite database.
 */
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { before, describe, test } from "node:test";
import { freshDataDir } from "../testing/platform.ts";

const dataDir = freshDataDir();
const { db } = await import("@paas/db");
const { APP_NAME_MAX, DNS_LABEL_MAX, PREVIEW_LABEL_MAX, appName, generateToken } = await import("@paas/shared");
const { TRPCError } = await import("@trpc/server");
const { createCaller } = await import("./_app.ts");
const { createContext } = await import("../trpc.ts");
const { bootstrap } = await import("../../../scripts/bootstrap.ts");
const { ensurePreviewApp, destroyPreview, PreviewError } = await import("../previews.ts");

async function as(token: string | null, extra: Record<string, string> = {}) {
  const headers = new Headers(extra);
  if (token) headers.set("authorization", `Bearer ${token}`);
  const resHeaders = new Headers();
  return { api: createCaller(await createContext({ headers, resHeaders })), resHeaders };
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

async function userWithToken(email: string, team: string, role: "admin" | "member" | "viewer", opts: { restrictTo?: string } = {}) {
  const t = await db.team.upsert({ where: { name: team }, update: {}, create: { name: team } });
  const user = await db.user.upsert({ where: { email }, update: {}, create: { email } });
  await db.membership.upsert({
    where: { teamId_userId: { teamId: t.id, userId: user.id } },
    update: { role },
    create: { teamId: t.id, userId: user.id, role },
  });
  const tok = generateToken();
  const restricted = opts.restrictTo ? await db.team.findUniqueOrThrow({ where: { name: opts.restrictTo } }) : null;
  await db.apiToken.create({ data: { userId: user.id, name: "test", hash: tok.hash, prefix: tok.prefix, teamId: restricted?.id ?? null } });
  return tok.token;
}

let admin: string;
let bob: string;

before(async () => {
  admin = (await bootstrap()).token!;
  bob = await userWithToken("bob@example.com", "other", "member");
});

describe("authentication", () => {
  test("no token and a wrong token are refused", async () => {
    assert.equal(await code((await as(null)).api.apps.list()), "UNAUTHORIZED");
    const wrong = (await as("paas_not-a-real-token")).api;
    await assert.rejects(wrong.apps.list(), /not accepted/);
    assert.equal(await code(wrong.apps.create({ name: "sneaky" })), "UNAUTHORIZED");
    assert.equal(await db.app.count({ where: { name: "sneaky" } }), 0);
  });

  test("basic auth with the token as password works (git-style)", async () => {
    const basic = Buffer.from(`anyone:${admin}`).toString("base64");
    const api = createCaller(await createContext({ headers: new Headers({ authorization: `Basic ${basic}` }) }));
    assert.equal((await api.auth.whoami()).email, "admin@paas.localhost");
  });

  test("signIn exchanges an API token for an httpOnly session cookie; signOut ends it", async () => {
    const anon = await as(null);
    assert.equal(await code(anon.api.auth.signIn({ token: "paas_wrong" })), "UNAUTHORIZED");
    assert.equal(anon.resHeaders.get("set-cookie"), null);

    const { api, resHeaders } = await as(null);
    await api.auth.signIn({ token: admin });
    const cookie = resHeaders.get("set-cookie") ?? "";
    assert.match(cookie, /^paas_session=paas_[^;]+; Path=\/; HttpOnly; SameSite=Lax; Max-Age=\d+/);
    const session = decodeURIComponent(cookie.split(";")[0].split("=")[1]);
    const row = await db.apiToken.findFirstOrThrow({ where: { kind: "session" } });
    assert.ok(row.expiresAt && row.expiresAt.getTime() > Date.now());

    const viaCookie = await as(null, { cookie: `other=1; paas_session=${encodeURIComponent(session)}` });
    assert.equal((await viaCookie.api.auth.whoami()).email, "admin@paas.localhost");
    // A session cannot mint further sessions.
    assert.equal(await code((await as(null)).api.auth.signIn({ token: session })), "UNAUTHORIZED");

    await viaCookie.api.auth.signOut();
    assert.match(viaCookie.resHeaders.get("set-cookie") ?? "", /Max-Age=0/);
    assert.equal(await code((await as(null, { cookie: `paas_session=${session}` })).api.auth.whoami()), "UNAUTHORIZED");
  });
});

describe("apps", () => {
  test("bad input is refused and changes nothing", async () => {
    const { api } = await as(admin);
    const before = await db.app.count();
    for (const name of ["", "A", "Bad_Name", "-x", "x-", "a".repeat(31)]) {
      assert.equal(await code(api.apps.create({ name })), "BAD_REQUEST", name);
    }
    assert.equal(await db.app.count(), before);
  });

  test("create makes the app and its bare git repository, in the caller's only team", async () => {
    const { api } = await as(admin);
    const app = await api.apps.create({ name: "alpha" });
    assert.equal(app.team, "main");
    assert.equal(app.url, "http://alpha.localhost:8080/");
    assert.ok(existsSync(path.join(dataDir, "repos", "alpha.git", "HEAD")), "bare repo exists");
    assert.equal(await code(api.apps.create({ name: "alpha" })), "CONFLICT");
    const list = await api.apps.list();
    assert.deepEqual(list.map((a) => a.name), ["alpha"]);
    const info = await api.apps.info({ name: "alpha" });
    assert.equal(info.latestRelease, null);
    assert.deepEqual(info.containers, []);
  });

  test("two creates of one name at once: one wins, the other is a conflict", async () => {
    const { api } = await as(admin);
    const results = await Promise.allSettled([api.apps.create({ name: "race" }), api.apps.create({ name: "race" })]);
    assert.deepEqual(results.map((r) => r.status).sort(), ["fulfilled", "rejected"]);
    const lost = results.find((r) => r.status === "rejected") as PromiseRejectedResult;
    assert.equal((lost.reason as InstanceType<typeof TRPCError>).code, "CONFLICT");
    assert.equal(await db.app.count({ where: { name: "race" } }), 1);
    await db.app.delete({ where: { name: "race" } });
  });

  test("another team's member cannot see or touch the app", async () => {
    const { api } = await as(bob);
    assert.deepEqual((await api.apps.list()).map((a) => a.name), []);
    assert.equal(await code(api.apps.info({ name: "alpha" })), "NOT_FOUND");
    assert.equal(await code(api.builds.list({ app: "alpha" })), "NOT_FOUND");
    assert.equal(await code(api.releases.list({ app: "alpha" })), "NOT_FOUND");
    assert.equal(await code(api.apps.create({ name: "bobs", team: "main" })), "NOT_FOUND");
    assert.equal(await db.app.count({ where: { name: "bobs" } }), 0);
  });

  test("a token restricted to one team acts only there", async () => {
    await userWithToken("carol@example.com", "main", "member");
    const carolOther = await userWithToken("carol@example.com", "other", "member", { restrictTo: "other" });
    const { api } = await as(carolOther);
    assert.equal(await code(api.apps.info({ name: "alpha" })), "NOT_FOUND");
    assert.deepEqual((await api.teams.list()).map((t) => t.name), ["other"]);
  });

  test("several teams: the team must be named", async () => {
    const carol = await userWithToken("carol@example.com", "main", "member");
    const { api } = await as(carol);
    await assert.rejects(api.apps.create({ name: "carols" }), /several teams \(main, other\): choose one with --team/);
    assert.equal((await api.apps.create({ name: "carols", team: "other" })).team, "other");
  });

  test("the team's app quota is enforced", async () => {
    const other = await db.team.findUniqueOrThrow({ where: { name: "other" } });
    await db.quota.upsert({ where: { teamId: other.id }, update: { apps: 2 }, create: { teamId: other.id, apps: 2 } });
    const { api } = await as(bob);
    await api.apps.create({ name: "bob-one" }); // carols + bob-one = 2
    const err = await api.apps.create({ name: "bob-two" }).catch((e: unknown) => e);
    assert.ok(err instanceof TRPCError);
    assert.equal(err.code, "FORBIDDEN");
    assert.match(err.message, /team "other" has reached its quota of 2 apps/);
    assert.equal(await db.app.count({ where: { name: "bob-two" } }), 0);
  });
});

describe("quotas", () => {
  test("20 creates at once against a limit of 5: exactly 5 apps are made, the others are told the quota", async () => {
    const token = await userWithToken("quinn@example.com", "fives", "admin");
    const fives = await db.team.findUniqueOrThrow({ where: { name: "fives" } });
    await db.quota.create({ data: { teamId: fives.id, apps: 5 } });
    const { api } = await as(token);
    const results = await Promise.allSettled(Array.from({ length: 20 }, (_, i) => api.apps.create({ name: `five-${i}` })));
    const refused = results.filter((r): r is PromiseRejectedResult => r.status === "rejected").map((r) => r.reason as InstanceType<typeof TRPCError>);
    assert.equal(results.length - refused.length, 5);
    for (const err of refused) {
      assert.equal(err.code, "FORBIDDEN", err.message);
      assert.match(err.message, /team "fives" has reached its quota of 5 apps/);
    }
    assert.equal(await db.app.count({ where: { teamId: fives.id } }), 5);
  });

  test("a team without a Quota row shows the schema's default", async () => {
    const token = await userWithToken("rowless@example.com", "rowless", "admin");
    const { api } = await as(token);
    assert.deepEqual((await api.teams.list()).map((t) => [t.name, t.quota.apps]), [["rowless", 10]]);
  });
});

describe("preview apps", () => {
  const parentName = "p" + "a".repeat(APP_NAME_MAX - 1); // the longest name apps:create takes

  test("the longest parent and branch: the preview's name and hosts are valid, and the API serves it", async () => {
    const { api } = await as(admin);
    await api.apps.create({ name: parentName });
    await api.apps.update({ name: parentName, previews: true });
    const parent = await db.app.findUniqueOrThrow({ where: { name: parentName } });
    const branch = "feature/" + "very-long-branch-name-".repeat(12);
    const { app, label } = await ensurePreviewApp(parent.id, branch);
    assert.ok(label.length <= PREVIEW_LABEL_MAX && app.name.length <= DNS_LABEL_MAX, `${app.name} (${app.name.length})`);
    assert.equal(appName.safeParse(app.name).success, true);
    assert.match(label, /^feature-very-long-[a-z-]+-[0-9a-f]{6}$/);
    const info = await api.apps.info({ name: app.name });
    assert.equal(info.previewOf, parentName);
    assert.equal(info.url, `http://${app.name}.localhost:8080/`);
    await api.config.get({ app: app.name }); // every app route takes the name (it refused it: over 30)
    // The same branch again: the same app; another long branch with the same start: one of its own.
    assert.equal((await ensurePreviewApp(parent.id, branch)).app.id, app.id);
    const sibling = await ensurePreviewApp(parent.id, branch + "x");
    assert.notEqual(sibling.app.name, app.name);
    assert.equal((await api.apps.info({ name: sibling.app.name })).previewOf, parentName);
  });

  test("two branches that make one label: the second is refused, naming both", async () => {
    const parent = await db.app.findUniqueOrThrow({ where: { name: parentName } });
    await ensurePreviewApp(parent.id, "fix/login");
    await assert.rejects(ensurePreviewApp(parent.id, "fix-login"), (err: Error) => {
      assert.ok(err instanceof PreviewError);
      assert.match(err.message, /the branches "fix\/login" and "fix-login" both make the preview pa+--fix-login: rename one of them/);
      return true;
    });
    assert.equal(await destroyPreview(parent.id, "fix-login"), "No preview of fix-login to remove");
  });

  test("the deploy branch: a bad name or a preview app's own: refused and unchanged; a good one moves the repository's HEAD", async () => {
    const { api } = await as(admin);
    const headOf = () => readFileSync(path.join(dataDir, "repos", `${parentName}.git`, "HEAD"), "utf8").trim();
    for (const bad of ["", " ", "-x", "a..b", "a b", "a/", "/a", "x.lock", "a/.b", "HEAD", "a@{1}", "a//b"]) {
      assert.equal(await code(api.apps.update({ name: parentName, deployBranch: bad })), "BAD_REQUEST", JSON.stringify(bad));
    }
    // A branch with a preview app becomes the deploy branch and its preview goes: that takes the worker (tests/e2e/deploy-edges.test.ts).
    const preview = await db.app.findFirstOrThrow({ where: { deployBranch: "fix/login" } });
    await assert.rejects(api.apps.update({ name: preview.name, deployBranch: "main" }), /is a preview app: it deploys its branch fix\/login/);
    assert.equal((await db.app.findUniqueOrThrow({ where: { name: parentName } })).deployBranch, "main");
    assert.equal(headOf(), "ref: refs/heads/main");

    const r = await api.apps.update({ name: parentName, deployBranch: "release/2026" });
    assert.equal(r.deployBranch, "release/2026");
    assert.equal((await api.apps.info({ name: parentName })).deployBranch, "release/2026");
    assert.equal(headOf(), "ref: refs/heads/release/2026");
    await api.apps.update({ name: parentName, deployBranch: "main" });
    assert.equal(headOf(), "ref: refs/heads/main");
  });

  test("a name longer than 30 is refused for a new app; one over 63 anywhere", async () => {
    const { api } = await as(admin);
    assert.equal(await code(api.apps.create({ name: "a" + "b".repeat(APP_NAME_MAX) })), "BAD_REQUEST");
    assert.equal(await code(api.apps.info({ name: "a" + "b".repeat(DNS_LABEL_MAX) })), "BAD_REQUEST");
    assert.equal(await code(api.apps.info({ name: "a" + "b".repeat(40) })), "NOT_FOUND");
  });
});

describe("builds and releases", () => {
  test("list, get with log, and no reading across apps", async () => {
    const alpha = await db.app.findUniqueOrThrow({ where: { name: "alpha" } });
    const bobOne = await db.app.findUniqueOrThrow({ where: { name: "bob-one" } });
    const b = await db.build.create({ data: { appId: alpha.id, commit: "abc1234", status: "failed", log: "-----> step\nboom\n" } });
    const foreign = await db.build.create({ data: { appId: bobOne.id, commit: "fff0000", status: "succeeded", log: "secret\n" } });
    await db.release.create({ data: { appId: alpha.id, version: 1, buildId: b.id, imageRef: "sha256:aa", status: "active" } });

    const { api } = await as(admin);
    const builds = await api.builds.list({ app: "alpha" });
    assert.deepEqual(builds.map((x) => [x.id, x.status]), [[b.id, "failed"]]);
    assert.equal((await api.builds.get({ app: "alpha", id: b.id })).log, "-----> step\nboom\n");
    // The operator may read bob-one, but not through another app's name.
    assert.equal(await code(api.builds.get({ app: "alpha", id: foreign.id })), "NOT_FOUND");
    const releases = await api.releases.list({ app: "alpha" });
    assert.deepEqual(releases.map((r) => [r.version, r.status, r.commit]), [[1, "active", "abc1234"]]);
    assert.deepEqual((await api.apps.list()).find((a) => a.name === "alpha")?.latestRelease, { version: 1, status: "active" });
  });
});

describe("destroy and outbound network: who may, and bad input changing nothing", () => {
  test("destroy: another team's member gets not found, a member of the team is forbidden, a wrong confirm is refused", async () => {
    const { api: admins } = await as(admin);
    await admins.apps.create({ name: "keepme" });
    const dana = await userWithToken("dana@example.com", "main", "member");
    const { api: member } = await as(dana);
    const { api: outsider } = await as(bob);
    assert.equal(await code(outsider.apps.destroy({ name: "keepme", confirm: "keepme" })), "NOT_FOUND");
    await assert.rejects(member.apps.destroy({ name: "keepme", confirm: "keepme" }), /only admins of team "main" may delete apps/);
    await assert.rejects(admins.apps.destroy({ name: "keepme", confirm: "keep" }), /confirm with --confirm keepme/);
    assert.equal(await code(admins.apps.destroy({ name: "keepme", confirm: "" })), "BAD_REQUEST");
    assert.equal(await db.app.count({ where: { name: "keepme" } }), 1);
    assert.ok(existsSync(path.join(dataDir, "repos", "keepme.git", "HEAD")), "its repository stays");
  });

  test("apps.info says what the caller may change (authz.ts's rules), so pages offer only that", async () => {
    const can = async (token: string) => (await (await as(token)).api.apps.info({ name: "keepme" })).can;
    assert.deepEqual(await can(admin), { role: "admin", deploy: true, configure: true, delete: true, transfer: true });
    assert.deepEqual(await can(await userWithToken("dana@example.com", "main", "member")), { role: "member", deploy: true, configure: true, delete: false, transfer: false });
    assert.deepEqual(await can(await userWithToken("vic@example.com", "main", "viewer")), { role: "viewer", deploy: false, configure: false, delete: false, transfer: false });
  });

  test("outbound network: a bad list, both settings at once, or no access: refused, the setting as it was", async () => {
    const { api } = await as(admin);
    await assert.rejects(api.apps.egress({ name: "keepme", allow: "10.1.2.3" }), /10\.1\.2\.3.*no port; write DEST:PORT/);
    await assert.rejects(api.apps.egress({ name: "keepme", egress: "off", allow: "10.1.2.3:5432" }), /or an allow list, not both/);
    assert.equal(await code(api.apps.egress({ name: "keepme" })), "BAD_REQUEST");
    const { api: outsider } = await as(bob);
    assert.equal(await code(outsider.apps.egress({ name: "keepme", egress: "off" })), "NOT_FOUND");
    const app = await db.app.findUniqueOrThrow({ where: { name: "keepme" } });
    assert.deepEqual([app.egress, app.egressAllow], ["on", ""]);
    assert.deepEqual((await api.apps.egress({ name: "keepme", egress: "on" })).message, "outbound network is on already: nothing to do");
  });
});

/** The TRPCError a call was refused with (fails when it was not). */
async function refusal(p: Promise<unknown>): Promise<InstanceType<typeof TRPCError>> {
  const err = await p.then(() => null, (e: unknown) => e);
  assert.ok(err instanceof TRPCError, `expected a refusal, got ${err}`);
  return err;
}

describe("processes (ps)", () => {
  test("ps lists the formation; changes are refused before anything is queued: another team, an unknown type, bad input, a quota", async () => {
    const token = await userWithToken("pat@example.com", "procs-team", "member");
    const team = await db.team.findUniqueOrThrow({ where: { name: "procs-team" } });
    await db.quota.create({ data: { teamId: team.id, replicas: 3, memoryMb: 1024, cpuMillis: 1000 } });
    const { api } = await as(token);
    await api.apps.create({ name: "procs" });
    assert.equal(await code(api.ps.scale({ app: "procs", quantities: { web: 2 } })), "PRECONDITION_FAILED", "no release yet");
    const app = await db.app.findUniqueOrThrow({ where: { name: "procs" } });
    await db.release.create({ data: { appId: app.id, version: 1, imageRef: "app/procs:v1", processTypes: JSON.stringify({ worker: "node w.js", web: "node web.js" }), status: "active" } });

    const ps = await api.ps.list({ app: "procs" });
    assert.equal(ps.release, 1);
    assert.deepEqual(ps.formation, [
      { type: "web", quantity: 1, memoryMb: 256, cpuMillis: 250 },
      { type: "worker", quantity: 1, memoryMb: 256, cpuMillis: 250 },
    ]);
    assert.deepEqual(ps.replicas, []);

    const { api: outsider } = await as(bob);
    assert.equal(await code(outsider.ps.list({ app: "procs" })), "NOT_FOUND");
    assert.equal(await code(outsider.ps.scale({ app: "procs", quantities: { web: 2 } })), "NOT_FOUND");
    assert.equal(await code(outsider.ps.restart({ app: "procs" })), "NOT_FOUND");

    const unknown = await refusal(api.ps.scale({ app: "procs", quantities: { clock: 1 } }));
    assert.equal(unknown.code, "NOT_FOUND");
    assert.match(unknown.message, /procs has no process type "clock": v1 runs web, worker/);
    assert.equal(await code(api.ps.stop({ app: "procs", type: "clock" })), "NOT_FOUND");
    assert.equal(await code(api.ps.scale({ app: "procs", quantities: { web: -1 } })), "BAD_REQUEST");
    assert.equal(await code(api.ps.scale({ app: "procs", quantities: {} })), "BAD_REQUEST");
    assert.equal(await code(api.ps.resize({ app: "procs", type: "web" })), "BAD_REQUEST");
    assert.equal(await code(api.ps.resize({ app: "procs", type: "web", memoryMb: 8 })), "BAD_REQUEST");

    const over = await refusal(api.ps.scale({ app: "procs", quantities: { web: 3 } }));
    assert.equal(over.code, "FORBIDDEN");
    assert.match(over.message, /team "procs-team" would exceed its quota of 3 replicas \(its other apps run 0, procs would run 4\)/);
    const big = await refusal(api.ps.resize({ app: "procs", type: "web", memoryMb: 1024, cpuMillis: 900 }));
    assert.equal(big.code, "FORBIDDEN");
    assert.match(big.message, /1024 MB of memory \(its other apps take 0 MB, procs would take 1280 MB\) and 1 CPU \(its other apps take 0 CPUs, procs would take 1\.15 CPUs\)/);
    // nothing changed
    assert.deepEqual((await api.ps.list({ app: "procs" })).formation.map((f) => [f.type, f.quantity, f.memoryMb, f.cpuMillis]), [["web", 1, 256, 250], ["worker", 1, 256, 250]]);
  });
});
