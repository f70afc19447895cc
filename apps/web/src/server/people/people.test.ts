/**
 * People, roles, invitations, tokens and sign-in through the real context, router, authz
 * rules, Better Auth handler and a migrated SQLite database.
 */
import assert from "node:assert/strict";
import { before, describe, test } from "node:test";
import { freshDataDir } from "../testing/platform.ts";

freshDataDir("paas-people-test-");
const { db } = await import("@paas/db");
const { TRPCError } = await import("@trpc/server");
const { createCaller } = await import("../routers/_app.ts");
const { createContext } = await import("../trpc.ts");
const { bootstrap } = await import("../../../scripts/bootstrap.ts");
const { httpRoutes } = await import("../routes.ts");

async function as(token: string | null, extra: Record<string, string> = {}) {
  const headers = new Headers(extra);
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
const secretOf = (path: string) => path.split("/").pop()!;
const origin = "http://localhost:3000";
const authPost = (path: string, body: unknown, headers: Record<string, string> = {}) =>
  httpRoutes["/api/auth/[...all]"].handlers.POST(
    new Request(`${origin}/api/auth${path}`, { method: "POST", headers: { "content-type": "application/json", origin, "x-forwarded-for": "10.9.9.9", ...headers }, body: JSON.stringify(body) }),
    { params: Promise.resolve({}) },
  );

let op: string;
before(async () => {
  op = (await bootstrap()).token!;
});

describe("teams, members and invitations", () => {
  let aliceCookie = "";
  test("an operator creates a team; an invited person sets a password and signs in", async () => {
    const api = await as(op);
    await api.teams.create({ team: "blue" });
    assert.equal(await code(api.teams.create({ team: "blue" })), "CONFLICT");
    const r = await api.teams.addMember({ team: "blue", email: "Alice@Example.com", role: "member" });
    assert.equal(r.added, false);
    assert.match(r.invitation!.path, /^\/invite\/paas_/);
    const pub = await as(null);
    assert.deepEqual((await pub.invitations.get({ token: secretOf(r.invitation!.path) })).team, "blue");
    assert.equal(await code(pub.invitations.accept({ token: secretOf(r.invitation!.path), password: "short" })), "BAD_REQUEST");
    await pub.invitations.accept({ token: secretOf(r.invitation!.path), password: "alice-password-1" });
    // One use only.
    assert.equal(await code(pub.invitations.accept({ token: secretOf(r.invitation!.path), password: "alice-password-2" })), "NOT_FOUND");
    const acct = await db.account.findFirstOrThrow({ where: { user: { email: "alice@example.com" } } });
    assert.ok(acct.password && !acct.password.includes("alice-password-1"), "the password is stored hashed");

    const bad = await authPost("/sign-in/email", { email: "alice@example.com", password: "wrong-password" });
    assert.equal(bad.status, 401);
    const ok = await authPost("/sign-in/email", { email: "alice@example.com", password: "alice-password-1" });
    assert.equal(ok.status, 200);
    const setCookie = ok.headers.get("set-cookie") ?? "";
    assert.match(setCookie, /paas\.session_token=/);
    assert.match(setCookie, /HttpOnly/i);
    assert.match(setCookie, /SameSite=Lax/i);
    aliceCookie = setCookie.split(";")[0];
    const me = await createCaller(await createContext({ headers: new Headers({ cookie: aliceCookie }) })).auth.whoami();
    assert.equal(me.email, "alice@example.com");
    assert.deepEqual(me.teams, [{ name: "blue", role: "member" }]);
  });

  test("sign-in from another site is refused, and so is a cookie-authenticated tRPC mutation from one", async () => {
    const evil = await authPost("/sign-in/email", { email: "alice@example.com", password: "alice-password-1" }, { origin: "http://evil.example" });
    assert.equal(evil.status, 403);
    const trpc = httpRoutes["/api/trpc/[trpc]"].handlers.POST;
    const res = await trpc(
      new Request(`${origin}/api/trpc/apps.create`, { method: "POST", headers: { host: "localhost:3000", origin: "http://evil.example", cookie: aliceCookie, "content-type": "application/json" }, body: JSON.stringify({ json: { name: "csrf-app", team: "blue" } }) }),
    );
    assert.equal(res.status, 403);
    assert.equal(await db.app.count({ where: { name: "csrf-app" } }), 0);
  });

  test("a cookie-authenticated change needs a JSON body and the dashboard's X-PaaS-CSRF header: a cross-site form cannot send either", async () => {
    const trpc = httpRoutes["/api/trpc/[trpc]"].handlers.POST;
    const post = (headers: Record<string, string>, body: string | FormData) =>
      trpc(new Request(`${origin}/api/trpc/apps.create`, { method: "POST", headers: { host: "localhost:3000", cookie: aliceCookie, ...headers }, body }));
    const input = JSON.stringify({ json: { name: "csrf-app", team: "blue" } });
    const form = new FormData();
    form.set("name", "csrf-app");
    form.set("team", "blue");
    // What a form on another site makes the browser send (no Origin check to lean on: old browsers and privacy tools drop it).
    for (const [what, headers, body] of [
      ["a multipart form", {}, form],
      ["a urlencoded form", { "content-type": "application/x-www-form-urlencoded" }, "name=csrf-app&team=blue"],
      ["a text/plain form", { "content-type": "text/plain" }, input],
      ["JSON without the header", { "content-type": "application/json" }, input],
      ["JSON with a wrong header", { "content-type": "application/json", "x-paas-csrf": "0" }, input],
    ] as const) {
      const res = await post(headers, body);
      assert.equal(res.status, 403, what);
      assert.match(((await res.json()) as { error: { message: string } }).error.message, /^cross-site request refused .*x-paas-csrf: 1/, what);
    }
    assert.equal(await db.app.count({ where: { name: "csrf-app" } }), 0);
    // Better Auth's routes too: sign-out with the cookie and no header is refused, the session stays.
    const signOut = await authPost("/sign-out", {}, { cookie: aliceCookie, "content-type": "text/plain" });
    assert.equal(signOut.status, 403);
    assert.equal((await createCaller(await createContext({ headers: new Headers({ cookie: aliceCookie }) })).auth.whoami()).email, "alice@example.com");
    // The dashboard's own request (same origin, JSON, the header) passes; so does a token's, which brings no cookie to forge.
    const ok = await post({ origin, "content-type": "application/json", "x-paas-csrf": "1" }, input);
    assert.equal(ok.status, 200, await ok.clone().text());
    assert.equal(await db.app.count({ where: { name: "csrf-app" } }), 1);
    const viaToken = await trpc(new Request(`${origin}/api/trpc/apps.create`, { method: "POST", headers: { authorization: `Bearer ${op}`, "content-type": "application/json" }, body: JSON.stringify({ json: { name: "csrf-app-token", team: "blue" } }) }));
    assert.equal(viaToken.status, 200, await viaToken.clone().text());
  });

  test("sign-in is rate-limited", async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 8; i++) statuses.push((await authPost("/sign-in/email", { email: "alice@example.com", password: "nope-nope-nope" }, { "x-forwarded-for": "10.7.7.7" })).status);
    assert.ok(statuses.includes(429), `expected a 429 among ${statuses}`);
  });

  test("roles: only admins manage; the last admin can neither leave nor be demoted", async () => {
    const api = await as(op);
    const t = await api.tokens.create({ team: "blue", role: "member" });
    // The operator created blue and is its only admin.
    assert.equal(await code(api.teams.setRole({ team: "blue", email: "admin@paas.localhost", role: "member" })), "CONFLICT");
    assert.equal(await code(api.teams.removeMember({ team: "blue", email: "admin@paas.localhost" })), "CONFLICT");
    await api.teams.setRole({ team: "blue", email: "alice@example.com", role: "admin" });
    await api.teams.setRole({ team: "blue", email: "admin@paas.localhost", role: "viewer" });
    assert.deepEqual(
      (await api.teams.members({ team: "blue" })).map((m) => [m.email, m.role]).sort(),
      [["admin@paas.localhost", "viewer"], ["alice@example.com", "admin"]],
    );
    // An operator acts as an admin in every team whatever the membership says, but its team token is capped at member.
    const capped = await as(t.token);
    assert.equal(await code(capped.teams.addMember({ team: "blue", email: "x@example.com", role: "viewer" })), "FORBIDDEN");
    assert.equal(await code(api.teams.setRole({ team: "blue", email: "alice@example.com", role: "bogus" as "admin" })), "BAD_REQUEST");
  });
});

describe("tokens", () => {
  test("a team token acts only in its team, with min(token role, user's role)", async () => {
    const api = await as(op);
    await api.teams.create({ team: "green" });
    // Bob exists with a password elsewhere: members:add adds him at once.
    const bob = await db.user.create({ data: { email: "bob@example.com" } });
    await db.account.create({ data: { userId: bob.id, accountId: bob.id, providerId: "credential", password: "x:y" } });
    assert.equal((await api.teams.addMember({ team: "green", email: "bob@example.com", role: "member" })).added, true);
    assert.equal((await api.teams.addMember({ team: "blue", email: "bob@example.com", role: "viewer" })).added, true);
    assert.equal(await code(api.teams.addMember({ team: "blue", email: "bob@example.com", role: "viewer" })), "CONFLICT");
    const { generateToken } = await import("@paas/shared");
    const raw = generateToken();
    await db.apiToken.create({ data: { userId: bob.id, name: "all", hash: raw.hash, prefix: raw.prefix } });
    const bobAll = await as(raw.token);
    await bobAll.apps.create({ name: "green-app", team: "green" });
    // Viewers change nothing, so they make no tokens.
    assert.equal(await code(bobAll.tokens.create({ team: "blue", role: "viewer" })), "FORBIDDEN");
    // A member's token, then the member is made a viewer: the token acts as a viewer (the weaker role).
    await api.teams.setRole({ team: "blue", email: "bob@example.com", role: "member" });
    const blueViewer = await bobAll.tokens.create({ team: "blue", role: "member" });
    await api.teams.setRole({ team: "blue", email: "bob@example.com", role: "viewer" });
    assert.equal(await code((await as(blueViewer.token)).apps.create({ name: "blue-try", team: "blue" })), "FORBIDDEN");
    const greenViewer = await bobAll.tokens.create({ team: "green", role: "viewer", expires: "30d" });
    assert.ok(greenViewer.expiresAt && greenViewer.expiresAt.getTime() > Date.now() + 29 * 86_400_000);
    assert.equal(await code(bobAll.tokens.create({ team: "green", expires: "soon" })), "BAD_REQUEST");
    // Stored hashed.
    assert.equal(await db.apiToken.count({ where: { hash: greenViewer.token } }), 0);
    const gv = await as(greenViewer.token);
    assert.equal((await gv.apps.info({ name: "green-app" })).name, "green-app");
    assert.equal(await code(gv.config.set({ app: "green-app", vars: { A: "1" } })), "FORBIDDEN");
    const bv = await as(blueViewer.token);
    assert.equal(await code(bv.apps.info({ name: "green-app" })), "NOT_FOUND");
    assert.deepEqual((await bv.auth.whoami()).teams.map((t) => t.name), ["blue"]);
    // Revoked: refused at once.
    await bobAll.tokens.revoke({ id: greenViewer.id });
    assert.equal(await code((await as(greenViewer.token)).apps.info({ name: "green-app" })), "UNAUTHORIZED");
    const listed = await bobAll.tokens.list();
    assert.equal(listed.find((t) => t.id === greenViewer.id)?.state, "revoked");
    // Someone else's token looks missing.
    assert.equal(await code((await as(blueViewer.token)).tokens.revoke({ id: (await db.apiToken.findFirstOrThrow({ where: { name: "bootstrap admin" } })).id })), "NOT_FOUND");
  });

  test("operators move apps between teams; others may not", async () => {
    const api = await as(op);
    // The operator's own token restricted to a team is no operator's.
    const restricted = await as((await api.tokens.create({ team: "green" })).token);
    assert.equal(await code(restricted.teams.moveApp({ app: "green-app", team: "blue" })), "FORBIDDEN");
    const r = await api.teams.moveApp({ app: "green-app", team: "blue" });
    // nothing runs in it: nothing to restart
    assert.deepEqual(r, { app: "green-app", from: "green", to: "blue", restarted: 0, notRestarted: [] });
    assert.equal((await db.app.findUniqueOrThrow({ where: { name: "green-app" }, include: { team: true } })).team.name, "blue");
  });
});
