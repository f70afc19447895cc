/**
 * The authorization walk: EVERY tRPC procedure (taken from the router itself,
 * appRouter._def.procedures) and EVERY HTTP route (taken from server/routes.ts, the table the
 * route files register from; a route file outside it fails the test) is called on a real
 * platform as identities that must be refused:
 *   - an admin of another team (outsider),
 *   - an admin of both teams through a token restricted to the other team (cross-team),
 *   - a viewer of the team (every mutation and every non-GET route),
 *   - an expired token, a revoked token (both of admins of the team), and no token.
 * Each gets a refusal that the authorization layer gave (its messages), and nothing changes in
 * the database, Redis, the app repositories or the runtime (snapshots before and after), but
 * for the audit log's record of each refused change by a signed-in identity (outcome "denied:
 * ..."): those rows are checked to be there, one kind per (identity, mutation or push), and no
 * other is (an identity that is not signed in leaves none: audit/record.ts auditable()).
 * A procedure nobody gave an example input for gets one made from its zod schema; when that
 * input does not pass the schema, the test fails naming the procedure (add it to EXAMPLES).
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import fs from "node:fs/promises";
import path from "node:path";
import { after, before, test } from "node:test";
import { Redis } from "ioredis";
import { z } from "zod";
import { createTRPCUntypedClient, httpLink, TRPCClientError } from "@trpc/client";
import superjson from "superjson";
import { AgentClient, generateToken } from "@paas/shared";
import { createDb, type PrismaClient } from "@paas/db";
import { ROOT, fixtureRepo, startPlatform, type Platform, pushApp } from "../helpers/platform.ts";

const TEAM = "walka";
const OTHER = "walkb";
const APP = "walk-app";

let p: Platform;
let db: PrismaClient;
const ids = { build: "", token: "", invitation: "" };
const tokens: Record<string, string | null> = {};

/** Users, memberships and tokens made straight in the database: the walk needs identities, not the API that makes them. */
async function person(email: string, memberships: [string, string][], token: { team?: string; role?: string; expired?: boolean; revoked?: boolean } = {}): Promise<string> {
  const user = await db.user.upsert({ where: { email }, update: {}, create: { email } });
  for (const [team, role] of memberships) {
    const t = await db.team.findUniqueOrThrow({ where: { name: team } });
    await db.membership.create({ data: { teamId: t.id, userId: user.id, role } });
  }
  const t = generateToken();
  const teamId = token.team ? (await db.team.findUniqueOrThrow({ where: { name: token.team } })).id : null;
  await db.apiToken.create({
    data: {
      userId: user.id,
      teamId,
      name: "walk",
      hash: t.hash,
      prefix: t.prefix,
      role: token.role ?? null,
      revokedAt: token.revoked ? new Date(Date.now() - 1000) : null,
      expiresAt: token.expired ? new Date(Date.now() - 1000) : null,
    },
  });
  return t.token;
}

function client(token: string | null) {
  return createTRPCUntypedClient({
    links: [httpLink({ url: `${p.webUrl}/api/trpc`, transformer: superjson, headers: token ? { authorization: `Bearer ${token}` } : {} })],
  });
}

// ---- snapshots -------------------------------------------------------------------------------

async function snapshotDb(): Promise<Record<string, unknown[]>> {
  const tables = (await db.$queryRawUnsafe<{ name: string }[]>(`SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'`)).map((t) => t.name);
  const out: Record<string, unknown[]> = {};
  for (const t of tables) {
    out[t] = (await db.$queryRawUnsafe<Record<string, unknown>[]>(`SELECT * FROM "${t}" ORDER BY rowid`)).map((r) => {
      // Touching a token's last use is bookkeeping, not a change a caller made (auth.ts).
      if (t === "ApiToken") delete r.lastUsedAt;
      // The agent's heartbeat.
      if (t === "Host") delete r.lastHeartbeat;
      return r;
    });
    // The audit log's records of refusals are what a refusal writes: checked on their own (deniedRows).
    if (t === "AuditEvent") out[t] = out[t]!.filter((r) => !String((r as { outcome: string }).outcome).startsWith("denied: "));
  }
  return out;
}

/** "<actor> <action>" of each refused change the audit log holds. */
async function deniedRows(): Promise<{ id: string; key: string; outcome: string }[]> {
  const rows = await db.auditEvent.findMany({ where: { outcome: { startsWith: "denied: " } } });
  return rows.map((r) => ({ id: r.id, key: `${r.actor} ${r.action}`, outcome: r.outcome }));
}

/**
 * Keys that change by themselves while the platform runs (BullMQ's timers and events, heartbeats,
 * router figures, and the deploy lock's ticket counter: a reconcile pass takes each app's lease
 * when it is free, deploy-lock.ts). A refused request reaching a deploy would show in the queues.
 */
const VOLATILE = /(:events$|:stalled-check$|:meta$|:metrics|heartbeat|:hosts?:|:figures|:id$|:repeat|:marker$|:limiter|reconcile|router:(applied|stats)|^paas:deploylock:[^:]+:seq$)/;

async function snapshotRedis(): Promise<Record<string, string>> {
  const r = new Redis(Number(p.env.PAAS_REDIS_PORT), "127.0.0.1", { lazyConnect: true });
  await r.connect();
  try {
    const out: Record<string, string> = {};
    for (const key of (await r.keys("*")).sort()) {
      if (VOLATILE.test(key)) continue;
      const dump = await r.dumpBuffer(key);
      out[key] = dump ? createHash("sha256").update(dump).digest("hex") : "gone";
    }
    return out;
  } finally {
    r.disconnect();
  }
}

async function snapshotRepos(): Promise<string[]> {
  const dir = path.join(p.dataDir, "repos");
  const out: string[] = [];
  async function walk(d: string) {
    for (const e of await fs.readdir(d, { withFileTypes: true }).catch(() => [])) {
      const f = path.join(d, e.name);
      if (e.isDirectory()) await walk(f);
      else {
        const s = await fs.stat(f);
        out.push(`${path.relative(dir, f)} ${s.size} ${s.mtimeMs}`);
      }
    }
  }
  await walk(dir);
  return out.sort();
}

async function snapshotRuntime(): Promise<string[]> {
  const agent = new AgentClient(`http://127.0.0.1:${p.env.PAAS_AGENT_PORT}`);
  return (await agent.containers()).map((c) => `${c.id} ${c.state} ${JSON.stringify(c.labels)}`).sort();
}

async function snapshot() {
  return { db: await snapshotDb(), redis: await snapshotRedis(), repos: await snapshotRepos(), runtime: await snapshotRuntime() };
}

// ---- inputs -------------------------------------------------------------------------------------

/** Inputs that reach the authorization check of procedures whose generic input would not. */
function examples(): Record<string, unknown> {
  return {
    "auth.signIn": { token: "paas_not-a-real-token-0000000000" },
    "apps.create": { name: "walk-new", team: TEAM },
    "apps.destroy": { name: APP, confirm: APP },
    "apps.update": { name: APP, previews: true },
    "apps.egress": { name: APP, egress: "off" },
    "builds.get": { app: APP, id: ids.build },
    "releases.info": { app: APP, version: 1 },
    "releases.rollback": { app: APP, version: 1 },
    "ps.scale": { app: APP, quantities: { web: 3 } },
    "ps.resize": { app: APP, type: "web", memoryMb: 256 },
    "config.set": { app: APP, vars: { WALK: "1" } },
    "config.unset": { app: APP, keys: ["WALK_VAR"] },
    "config.reveal": { app: APP, key: "WALK_VAR" },
    "domains.add": { app: APP, hostname: "walk.example.com" },
    "domains.remove": { app: APP, hostname: "walk.example.com" },
    "teams.addMember": { team: TEAM, email: "new@walk.test", role: "admin" },
    "teams.removeMember": { team: TEAM, email: "both@walk.test" },
    "teams.setRole": { team: TEAM, email: "both@walk.test", role: "viewer" },
    "teams.withdrawInvitation": { team: TEAM, id: ids.invitation },
    "teams.moveApp": { app: APP, team: OTHER },
    "teams.create": { team: "walk-new-team" },
    "tokens.create": { team: TEAM, role: "viewer" },
    "tokens.revoke": { id: ids.token },
    "quotas.set": { team: TEAM, limits: { apps: 1 } },
    "volumes.add": { app: APP, name: "walkvol", path: "/data" },
    "drains.add": { app: APP, url: "syslog+tls://logs.example.com:6514" },
    "drains.remove": { app: APP, url: "syslog+tls://logs.example.com:6514" },
    "invitations.get": { token: "paas_not-an-invitation-000000000" },
    "invitations.accept": { token: "paas_not-an-invitation-000000000", password: "walk-password-1" },
  };
}

/** A value for a JSON schema: the walk's app and team for their fields, else the simplest valid value. */
function sample(s: Record<string, unknown>, key = ""): unknown {
  if (key === "app" || key === "name") return APP;
  if (key === "team") return TEAM;
  if (key === "email") return "viewer@walk.test";
  if (key === "id") return ids.build;
  if (Array.isArray(s.enum)) return s.enum[0];
  if (s.const !== undefined) return s.const;
  if (Array.isArray(s.anyOf)) return sample(s.anyOf[0] as Record<string, unknown>, key);
  switch (s.type) {
    case "object": {
      const props = (s.properties ?? {}) as Record<string, Record<string, unknown>>;
      const req = new Set((s.required ?? []) as string[]);
      const o: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(props)) if (req.has(k) || k === "app" || k === "team") o[k] = sample(v, k);
      if (Object.keys(props).length === 0 && s.additionalProperties) o.WALK = sample(s.additionalProperties as Record<string, unknown>);
      return o;
    }
    case "array":
      return s.minItems ? [sample((s.items ?? {}) as Record<string, unknown>)] : [];
    case "integer":
    case "number":
      return typeof s.minimum === "number" ? s.minimum : 1;
    case "boolean":
      return false;
    default:
      return typeof s.minLength === "number" && s.minLength > 4 ? "x".repeat(s.minLength) : "walk";
  }
}

interface Proc {
  path: string;
  type: "query" | "mutation" | "subscription";
  input: unknown;
}

async function procedures(): Promise<Proc[]> {
  const { appRouter } = await import("../../apps/web/src/server/routers/_app.ts");
  const ex = examples();
  const out: Proc[] = [];
  const misses: string[] = [];
  for (const [name, proc] of Object.entries(appRouter._def.procedures as unknown as Record<string, { _def: { type: Proc["type"]; inputs: z.ZodType[] } }>)) {
    const schema = proc._def.inputs[0];
    let input: unknown = undefined;
    if (schema) {
      input = name in ex ? ex[name] : sample(z.toJSONSchema(schema, { io: "input", unrepresentable: "any" }) as Record<string, unknown>);
      const ok = schema.safeParse(input);
      if (!ok.success) misses.push(`${name}: the walk's input ${JSON.stringify(input)} does not pass its schema (${ok.error.issues.map((i) => i.message).join("; ")})`);
    }
    out.push({ path: name, type: proc._def.type, input });
  }
  assert.deepEqual(misses, [], "add an example to EXAMPLES in this file for each");
  return out;
}

/** What the authorization layer says when it refuses (authz.ts, trpc.ts, the token and invitation checks). */
const REFUSAL = /not found \(or you|authentication required|^only |not signed in|not accepted|^token \S+ not found|invitation link is not valid|that token is not valid|cross-site/;

/** Procedures that answer any signed-in caller about the caller only: they must not show the team. */
const CALLER_SCOPED = new Set(["auth.whoami", "auth.signOut", "teams.list", "apps.list", "tokens.list"]);
const PUBLIC_OK = new Set(["auth.signOut"]);

// ---- the walk -----------------------------------------------------------------------------------

before(async () => {
  p = await startPlatform("pwalk1", 5800);
  // The router module (imported for its procedure list) binds config at import: this platform's.
  Object.assign(process.env, p.env);
  db = createDb(`file:${path.join(p.dataDir, "paas.db")}`);
  const op = client(p.adminToken);
  await op.mutation("teams.create", { team: TEAM });
  await op.mutation("teams.create", { team: OTHER });
  await op.mutation("apps.create", { name: APP, team: TEAM });
  await op.mutation("config.set", { app: APP, vars: { WALK_VAR: "secret" } });
  // A real deploy: refused scale/stop/restart calls would change running replicas.
  const repo = await fixtureRepo("static-site");
  const push = await pushApp(p, APP, repo);
  assert.equal(push.code, 0, push.stderr);
  const builds = (await op.query("builds.list", { app: APP })) as { id: string }[];
  ids.build = builds[0].id;
  const inv = (await op.mutation("teams.addMember", { team: TEAM, email: "invited@walk.test", role: "member" })) as { invitation: { id: string } };
  ids.invitation = inv.invitation.id;
  const adminTok = (await op.mutation("tokens.create", { team: TEAM, role: "member", name: "target" })) as { id: string };
  ids.token = adminTok.id;

  tokens.outsider = await person("outsider@walk.test", [[OTHER, "admin"]]);
  tokens["cross-team"] = await person("both@walk.test", [[TEAM, "admin"], [OTHER, "admin"]], { team: OTHER });
  tokens.viewer = await person("viewer@walk.test", [[TEAM, "viewer"]]);
  tokens.expired = await person("expired@walk.test", [[TEAM, "admin"]], { expired: true });
  tokens.revoked = await person("revoked@walk.test", [[TEAM, "admin"]], { revoked: true });
  tokens["no token"] = null;
});

after(async () => {
  await db?.$disconnect();
  await p?.stop();
});

test("every procedure and route refuses those who may not, and nothing changes", { timeout: 10 * 60_000 }, async () => {
  const procs = await procedures();
  const before = await snapshot();
  const deniedBefore = await deniedRows();
  let pairs = 0;
  const failures: string[] = [];
  /** The refusals the audit log must record: "<email> <action>" of a signed-in identity's mutation or push. */
  const audited = new Set<string>();
  const emails: Record<string, string> = { outsider: "outsider@walk.test", "cross-team": "both@walk.test", viewer: "viewer@walk.test" };

  for (const proc of procs) {
    for (const [who, token] of Object.entries(tokens)) {
      if (who === "viewer" && proc.type !== "mutation") continue;
      pairs++;
      const c = client(token);
      try {
        if (proc.type === "mutation" && emails[who] && !PUBLIC_OK.has(proc.path)) audited.add(`${emails[who]} ${proc.path}`);
        const out = proc.type === "query" ? await c.query(proc.path, proc.input) : await c.mutation(proc.path, proc.input);
        const leaked = JSON.stringify(out ?? null).includes(TEAM) || JSON.stringify(out ?? null).includes(APP);
        const allowed = (CALLER_SCOPED.has(proc.path) && token) || PUBLIC_OK.has(proc.path);
        if (!allowed || leaked) failures.push(`${proc.path} as ${who}: not refused (answered ${JSON.stringify(out).slice(0, 120)})`);
      } catch (err) {
        const e = err as TRPCClientError<never>;
        const code = (e.data as { code?: string } | undefined)?.code;
        if (!(err instanceof TRPCClientError) || !["UNAUTHORIZED", "FORBIDDEN", "NOT_FOUND"].includes(code ?? "") || !REFUSAL.test(e.message)) {
          failures.push(`${proc.path} as ${who}: ${code ?? "?"} ${e.message.slice(0, 160)}`);
        }
      }
    }
  }

  // HTTP routes from the table the route files register from.
  const { httpRoutes } = await import("../../apps/web/src/server/routes.ts");
  const concrete: Record<string, Record<string, string>> = {
    "/api/trpc/[trpc]": { GET: `/api/trpc/apps.info?input=${encodeURIComponent(JSON.stringify({ json: { name: APP } }))}`, POST: "/api/trpc/config.set" },
    "/api/auth/[...all]": { GET: "/api/auth/get-session", POST: "/api/auth/sign-in/email" },
    "/api/run/[id]/input": { POST: "/api/run/no-such-session/input" },
    "/metrics/apps/[app]": { GET: `/metrics/apps/${APP}` },
    "/api/apps/[name]/logs": { GET: `/api/apps/${APP}/logs` },
    "/api/backups/[id]/download": { GET: `/api/backups/walkbackup1/download?app=${APP}` },
    "/git/[...path]": { GET: `/git/${APP}.git/info/refs?service=git-receive-pack`, POST: `/git/${APP}.git/git-receive-pack` },
  };
  const bodies: Record<string, string> = {
    "/api/trpc/[trpc]": JSON.stringify({ json: { app: APP, vars: { WALK: "2" } } }),
    "/api/auth/[...all]": JSON.stringify({ email: "viewer@walk.test", password: "not-the-password" }),
    "/api/run": JSON.stringify({ app: APP, mode: "run", cmd: ["true"] }),
  };
  for (const [pattern, route] of Object.entries(httpRoutes)) {
    for (const method of Object.keys(route.handlers)) {
      const url = concrete[pattern]?.[method] ?? pattern.replace("[id]", ids.build);
      assert.ok(!url.includes("["), `${pattern}: give the walk a concrete path for ${method}`);
      for (const [who, token] of Object.entries(tokens)) {
        if (who === "viewer" && method === "GET") continue;
        pairs++;
        const headers: Record<string, string> = { "content-type": "application/json", origin: p.webUrl };
        if (token) headers.authorization = pattern.startsWith("/git/") ? `Basic ${Buffer.from(`git:${token}`).toString("base64")}` : `Bearer ${token}`;
        if (emails[who] && pattern.startsWith("/git/")) audited.add(`${emails[who]} git.push`);
        if (emails[who] && pattern === "/api/run") audited.add(`${emails[who]} run`);
        const res = await fetch(p.webUrl + url, { method, headers, body: method === "GET" ? undefined : (bodies[pattern] ?? "") });
        const text = await res.text();
        // Better Auth's get-session answers null to a caller without a session: a refusal too.
        const refused =
          [401, 403, 404].includes(res.status) ||
          // Sign-in is rate-limited: the walk's wrong passwords are refused with 429 after 5 a minute.
          (route.credential === "public" && (res.status === 429 || (method === "GET" && text.trim() === "null")));
        if (!refused) failures.push(`${method} ${url} as ${who}: ${res.status} ${text.slice(0, 120)}`);
      }
    }
  }

  const afterSnap = await snapshot();
  console.log(`authz walk: ${pairs} (procedure or route, identity) pairs tried, ${procs.length} procedures, ${Object.keys(httpRoutes).length} routes`);
  assert.deepEqual(failures, [], `not refused:\n${failures.join("\n")}`);
  const str = (v: unknown) => JSON.stringify(v, (_k, x) => (typeof x === "bigint" ? String(x) : x));
  const changed = Object.keys({ ...before.db, ...afterSnap.db }).filter((t) => str(afterSnap.db[t]) !== str(before.db[t]));
  assert.deepEqual(
    changed.map((t) => `${t}: ${str((afterSnap.db[t] ?? []).filter((r) => !str(before.db[t] ?? []).includes(str(r)))).slice(0, 400)}`),
    [],
    "the database changed (tables, and their rows that are new or changed)",
  );
  // Each refused change of a signed-in identity is in the audit log as denied, with the refusal's reason; nothing else was written.
  const seen = new Set(deniedBefore.map((d) => d.id));
  const denied = (await deniedRows()).filter((d) => !seen.has(d.id));
  assert.deepEqual([...new Set(denied.map((d) => d.key))].sort(), [...audited].sort(), "the refusals the audit log records (actor, action)");
  for (const d of denied) assert.match(d.outcome.slice("denied: ".length), REFUSAL, d.key);
  console.log(`authz walk: ${denied.length} refusals recorded in the audit log, ${audited.size} (identity, change) kinds`);
  assert.deepEqual(afterSnap.redis, before.redis, "Redis changed");
  assert.deepEqual(afterSnap.repos, before.repos, "the repositories changed");
  assert.deepEqual(afterSnap.runtime, before.runtime, "the runtime's containers changed");
});

test("every route file registers its handlers from the route table", async () => {
  const { httpRoutes } = await import("../../apps/web/src/server/routes.ts");
  const appDir = path.join(ROOT, "apps/web/src/app");
  const files: string[] = [];
  async function walk(d: string) {
    for (const e of await fs.readdir(d, { withFileTypes: true })) {
      if (e.isDirectory()) await walk(path.join(d, e.name));
      else if (/^route\.(ts|tsx|js)$/.test(e.name)) files.push(path.join(d, e.name));
    }
  }
  await walk(appDir);
  assert.ok(files.length > 0);
  for (const f of files) {
    const key = "/" + path.relative(appDir, path.dirname(f)).split(path.sep).join("/");
    assert.ok(key in httpRoutes, `${key} (${f}) is not in apps/web/src/server/routes.ts: register it there`);
    const src = await fs.readFile(f, "utf8");
    assert.ok(src.includes(`httpRoutes["${key}"]`), `${f} must export its handlers from httpRoutes["${key}"]`);
  }
});
