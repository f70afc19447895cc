/**
 * Custom domains and TLS, end to end without a push: the API (its real context, authorization,
 * quotas, database), the worker (its deploy queue and "routes" job), Redis and the router
 * (HAProxy on its HTTP and TLS ports), with small real replicas standing for the apps. The
 * router runs with a data dir of its own, as on another host: the certificates reach it
 * through Redis only.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { X509Certificate } from "node:crypto";
import fs from "node:fs";
import https from "node:https";
import os from "node:os";
import path from "node:path";
import type { TLSSocket } from "node:tls";
import type { TRPCError as TRPCErrorType } from "@trpc/server";
import { freshDataDir } from "../../apps/web/src/server/testing/platform.ts";
import { caSigned, selfSigned } from "../helpers/certs.ts";
import { freePort, startRedis } from "../helpers/redis.ts";
import { waitFor } from "../helpers/wait.ts";

const root = path.resolve(import.meta.dirname, "../..");
// Everything that reads config() is imported below, once the environment is set.
const dataDir = freshDataDir("paas-domains-test-");
const routerDataDir = fs.mkdtempSync(path.join(os.tmpdir(), "paas-domains-router-"));
const redisServer = await startRedis();
const httpsPort = await freePort();
Object.assign(process.env, { PAAS_REDIS_URL: redisServer.url, PAAS_HTTPS_PORT: String(httpsPort), PAAS_DOMAIN: "localhost" });

const { answers, backend, get, startRouter } = await import("./helpers.ts");
const { db } = await import("@paas/db");
const { certKey, CERTS_KEY_PREFIX, generateToken, ROUTES_KEY, config } = await import("@paas/shared");
const { domainCertFile, defaultCertFile, sha256, writeDomainCert } = await import("@paas/shared/tls");
const { importLegacyCertFiles } = await import("@paas/db/domains");
const { TRPCError } = await import("@trpc/server");
const { createCaller } = await import("../../apps/web/src/server/routers/_app.ts");
const { createContext } = await import("../../apps/web/src/server/trpc.ts");
const { bootstrap } = await import("../../apps/web/scripts/bootstrap.ts");
const { publishRoutes, route } = await import("../../worker/src/pipeline/route.ts");
const { withDeployLock } = await import("../../worker/src/deploy-lock.ts");
const { BuildLog } = await import("../../worker/src/build-log.ts");

type Router = Awaited<ReturnType<typeof startRouter>>;
type Api = ReturnType<typeof createCaller>;

let router: Router;
let worker: ChildProcess;
let workerOut = "";
const replicas: Awaited<ReturnType<typeof backend>>[] = [];
let admin: Api;
let alice: Api; // admin of team acme, which has the app "shop"
let eve: Api; // admin of team rival, which has the app "rival"

async function as(token: string): Promise<Api> {
  return createCaller(await createContext({ headers: new Headers({ authorization: `Bearer ${token}` }) }));
}

async function teamAdmin(email: string, team: string, app: string): Promise<Api> {
  const t = await db.team.create({ data: { name: team } });
  const user = await db.user.create({ data: { email } });
  await db.membership.create({ data: { teamId: t.id, userId: user.id, role: "admin" } });
  await db.app.create({ data: { name: app, teamId: t.id } });
  const tok = generateToken();
  await db.apiToken.create({ data: { userId: user.id, name: "test", hash: tok.hash, prefix: tok.prefix } });
  return as(tok.token);
}

/** A replica that says which app it is, the protocol the client used and the host it asked for. */
async function replica(app: string) {
  const b = await backend((req, res) => res.end(`${app} ${req.headers["x-forwarded-proto"]} ${req.headers.host}`));
  replicas.push(b);
  return b;
}

interface TlsAnswer {
  status: number;
  body: string;
  cert: X509Certificate;
  authorized: boolean;
}

/** A request on the TLS port with SNI and Host `host`; with `ca`, the certificate must verify against it. */
function tlsGet(host: string, ca?: string): Promise<TlsAnswer> {
  return new Promise((resolve, reject) => {
    https
      .get({ host: "127.0.0.1", port: httpsPort, servername: host, headers: { host }, agent: false, ca, rejectUnauthorized: Boolean(ca) }, (res) => {
        const socket = res.socket as TLSSocket;
        const cert = new X509Certificate(socket.getPeerCertificate().raw);
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (c) => (body += c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body, cert, authorized: socket.authorized }));
      })
      .on("error", reject);
  });
}

async function tlsAnswers(host: string, ok: (a: TlsAnswer) => boolean, what: string, ca?: string): Promise<TlsAnswer> {
  let last: TlsAnswer | undefined;
  await waitFor(async () => ok((last = await tlsGet(host, ca))), what, 10_000, 20).catch((err: Error) => {
    throw new Error(`${err.message}; last answer: ${last?.status} ${last?.body.slice(0, 120)}\n${router.output()}`);
  });
  return last!;
}

async function refusal(p: Promise<unknown>): Promise<TRPCErrorType> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof TRPCError, `a TRPCError, got ${err}`);
    return err;
  }
  assert.fail("the call was expected to be refused");
}

/** The certificates in Redis: sha256 -> PEM. */
async function storedCerts(): Promise<Record<string, string>> {
  const keys = (await router.redis.keys(`${CERTS_KEY_PREFIX}*`)).sort();
  return Object.fromEntries(await Promise.all(keys.map(async (k) => [k.slice(CERTS_KEY_PREFIX.length), (await router.redis.get(k))!])));
}

/** What a refused call must leave as it was: the domains, the routing table, the certificates. */
async function snapshot() {
  return {
    domains: await db.domain.findMany({ orderBy: { hostname: "asc" } }),
    routes: await router.redis.hgetall(ROUTES_KEY),
    certs: await storedCerts(),
  };
}

/** The router's own TLS files (its data dir, not the API's). */
const routerTlsDir = () => path.join(routerDataDir, "router", "tls");
const defaultCert = () => new X509Certificate(fs.readFileSync(defaultCertFile(path.join(routerDataDir, "tls")), "utf8"));
const haproxyPid = async () => Number(/^Pid: (\d+)/m.exec(await router.admin("show info"))?.[1]);

before(async () => {
  assert.notEqual(path.resolve(routerDataDir), path.resolve(config().dataDir));
  router = await startRouter({ PAAS_DATA_DIR: routerDataDir, PAAS_REDIS_URL: redisServer.url, PAAS_HTTPS_PORT: String(httpsPort) });
  worker = spawn(process.execPath, ["--import", "tsx", path.join(root, "worker/src/main.ts")], { env: process.env, stdio: ["ignore", "pipe", "pipe"] });
  worker.stdout!.on("data", (c) => (workerOut += c));
  worker.stderr!.on("data", (c) => (workerOut += c));
  await waitFor(() => /waiting for jobs/.test(workerOut), "the worker to start", 60_000, 50).catch((err: Error) => {
    throw new Error(`${err.message}\n${workerOut}`);
  });
  admin = await as((await bootstrap()).token!);
  alice = await teamAdmin("alice@example.com", "acme", "shop");
  eve = await teamAdmin("eve@example.com", "rival", "rival");
  // As a deploy leaves them: each app's replica at its own host.
  await publishRoutes(router.redis, "shop", [(await replica("shop")).addr]);
  await publishRoutes(router.redis, "rival", [(await replica("rival")).addr]);
  await answers(router.port, "shop.localhost", (a) => a.body.startsWith("shop"), "shop to be routed");
});

after(async () => {
  // The API's deploy queue (apps/web/src/server/deploys.ts): its connections are its own to end.
  type Closable = { close(): Promise<void>; disconnect(): Promise<void> };
  const g = globalThis as { __paasDeployQueue?: Closable; __paasDeployEvents?: Closable };
  for (const q of [g.__paasDeployEvents, g.__paasDeployQueue]) {
    await q?.close();
    await q?.disconnect();
    // The connection it was given (apps/web/src/server/redis.ts createRedis) is ours to end.
    (q as { opts?: { connection?: { disconnect?(): void } } } | undefined)?.opts?.connection?.disconnect?.();
  }
  if (worker && worker.exitCode === null) {
    const gone = new Promise((r) => worker.once("exit", r));
    worker.kill("SIGTERM");
    await gone;
  }
  await router?.stop();
  for (const r of replicas) await r.kill();
  // The API's shared connection (apps/web/src/server/redis.ts redis()).
  (globalThis as { __paasRedis?: { disconnect(): void } }).__paasRedis?.disconnect();
  await redisServer.stop();
  await db.$disconnect();
  fs.rmSync(dataDir, { recursive: true, force: true });
  fs.rmSync(routerDataDir, { recursive: true, force: true });
  // Anything still open would keep this file's process from exiting: name it.
  setTimeout(() => console.error(`still open: ${process.getActiveResourcesInfo().join(", ")}`), 2000).unref();
});

test("the default certificate, self-signed for *.localhost, serves <app>.localhost with X-Forwarded-Proto https", async () => {
  const a = await tlsGet("shop.localhost");
  assert.equal(a.status, 200);
  assert.equal(a.body, "shop https shop.localhost");
  assert.equal(a.cert.fingerprint256, defaultCert().fingerprint256);
  assert.equal(a.cert.subjectAltName, "DNS:*.localhost, DNS:localhost");
  assert.equal(fs.statSync(defaultCertFile(path.join(routerDataDir, "tls"))).mode & 0o777, 0o600);
  // Plain HTTP as before.
  assert.equal((await get(router.port, "shop.localhost")).body, "shop http shop.localhost");
  // An unknown host over TLS: the router's 404.
  const none = await tlsGet("nothing.localhost");
  assert.equal(none.status, 404);
  assert.match(none.body, /No such app/);
});

test("a TLS request with SNI for a custom domain reaches its app, with the domain's own certificate once added", async () => {
  const added = await alice.domains.add({ app: "shop", hostname: "WWW.Shop-Example.COM." });
  assert.equal(added.hostname, "www.shop-example.com");
  assert.equal(added.url, `https://www.shop-example.com:${httpsPort}/`);
  // Published at once (the call returns once the routes job is done): default certificate first.
  const before = await tlsAnswers("www.shop-example.com", (a) => a.status === 200, "the domain to be routed");
  assert.equal(before.body, "shop https www.shop-example.com");
  assert.equal(before.cert.fingerprint256, defaultCert().fingerprint256);
  assert.equal((await get(router.port, "www.shop-example.com")).body, "shop http www.shop-example.com");

  const pid = await haproxyPid();
  const signed = caSigned(["www.shop-example.com"]);
  const r = await alice.domains.addCert({ app: "shop", cert: signed.chain, key: signed.key });
  assert.deepEqual(r.domains, ["www.shop-example.com"]);
  assert.equal(r.issuer, "Test CA");
  const a = await tlsAnswers("www.shop-example.com", (x) => x.cert.fingerprint256 !== defaultCert().fingerprint256, "the domain's certificate to be served", signed.ca);
  assert.equal(a.authorized, true, "verifies against the CA that signed it, for this host name");
  assert.equal(a.cert.fingerprint256, new X509Certificate(signed.cert).fingerprint256);
  assert.equal(a.body, "shop https www.shop-example.com");
  assert.equal(await haproxyPid(), pid, "loaded through the runtime API: no reload");
  // Other hosts keep the default certificate.
  assert.equal((await tlsGet("shop.localhost")).cert.fingerprint256, defaultCert().fingerprint256);

  // The PEM travelled through Redis, under the sha256 the route names; the router's copy is in
  // its own data dir, for root only; the API kept none on its disk; the database has no key.
  const routes = await router.redis.hgetall(ROUTES_KEY);
  const sha = /"cert":"([0-9a-f]{64})"/.exec(routes["www.shop-example.com"])?.[1];
  assert.ok(sha, routes["www.shop-example.com"]);
  assert.deepEqual(Object.keys(await storedCerts()), [sha]);
  const pem = (await router.redis.get(certKey(sha)))!;
  assert.equal(sha256(pem), sha);
  assert.match(pem, /^-----BEGIN CERTIFICATE-----[\s\S]+-----BEGIN PRIVATE KEY-----/);
  assert.doesNotMatch(JSON.stringify(routes), /PRIVATE KEY/);
  const file = domainCertFile(routerTlsDir(), "www.shop-example.com");
  assert.equal(fs.readFileSync(file, "utf8"), pem);
  assert.equal(fs.statSync(file).mode & 0o777, 0o600);
  assert.equal(fs.statSync(path.dirname(file)).mode & 0o777, 0o700);
  assert.equal(fs.existsSync(path.join(config().tlsDir, "domains")), false, "nothing on the API's disk");
  assert.doesNotMatch(JSON.stringify(await db.domain.findMany()), /PRIVATE KEY/);
  assert.doesNotMatch(router.output() + workerOut, /PRIVATE KEY|BEGIN CERTIFICATE/, "no PEM in the logs");

  const listed = await alice.domains.list({ app: "shop" });
  assert.deepEqual(listed.map((d) => [d.hostname, d.cert?.issuer]), [["www.shop-example.com", "Test CA"]]);

  // A renewed certificate replaces it, again without a reload.
  const renewed = caSigned(["www.shop-example.com"]);
  await alice.domains.addCert({ app: "shop", cert: renewed.chain, key: renewed.key });
  await tlsAnswers("www.shop-example.com", (x) => x.authorized, "the renewed certificate to be served", renewed.ca);
  assert.equal(await haproxyPid(), pid);
  // The one it replaced is named by no domain: gone from Redis.
  const now = (await db.domain.findUniqueOrThrow({ where: { hostname: "www.shop-example.com" } })).certSha256!;
  assert.notEqual(now, sha);
  assert.deepEqual(Object.keys(await storedCerts()), [now]);
});

test("a certificate an earlier version left on the API's disk moves to Redis, and the router serves it", async () => {
  const { certSha256 } = await db.domain.findUniqueOrThrow({ where: { hostname: "www.shop-example.com" } });
  const pem = (await router.redis.getdel(certKey(certSha256!)))!;
  // Where the API used to write it, and one of a domain that is gone.
  writeDomainCert(config().tlsDir, "www.shop-example.com", pem);
  writeDomainCert(config().tlsDir, "gone.example.com", pem);
  assert.deepEqual(await importLegacyCertFiles(router.redis, config().tlsDir), ["www.shop-example.com"]);
  assert.equal(await router.redis.get(certKey(certSha256!)), pem);
  assert.deepEqual(fs.readdirSync(path.join(config().tlsDir, "domains")), [], "the API keeps no copy");
  assert.deepEqual(await importLegacyCertFiles(router.redis, config().tlsDir), [], "once");
  // A router started afresh has it from Redis.
  const stopped = new Promise((r) => router.proc.once("exit", r));
  router.proc.kill("SIGTERM");
  await stopped;
  await router.restart();
  await tlsAnswers("www.shop-example.com", (x) => x.cert.fingerprint256 === new X509Certificate(pem).fingerprint256, "the restarted router to serve the moved certificate");
});

test("a domain taken by another app is refused, naming the app only to those who may see it, and nothing changes", async () => {
  const was = await snapshot();
  const e = await refusal(eve.domains.add({ app: "rival", hostname: "www.shop-example.com" }));
  assert.equal(e.code, "CONFLICT");
  assert.match(e.message, /www\.shop-example\.com is taken by another app/);
  assert.doesNotMatch(e.message, /shop\b(?!-example)|acme/, "the other team's app and team stay unnamed");
  const op = await refusal(admin.domains.add({ app: "rival", hostname: "WWW.shop-example.com" }));
  assert.match(op.message, /taken by app shop \(team acme\): remove it there first/);
  assert.match((await refusal(alice.domains.add({ app: "shop", hostname: "www.shop-example.com" }))).message, /is a domain of shop already/);
  // The platform's own domain, a wildcard, another team's app, another team's certificate upload.
  assert.match((await refusal(eve.domains.add({ app: "rival", hostname: "shop.localhost" }))).message, /platform's own domain/);
  assert.match((await refusal(eve.domains.add({ app: "rival", hostname: "*.example.org" }))).message, /wildcard domains are not supported/);
  assert.equal((await refusal(eve.domains.add({ app: "shop", hostname: "evil.example.org" }))).code, "NOT_FOUND");
  assert.equal((await refusal(eve.domains.list({ app: "shop" }))).code, "NOT_FOUND");
  const theirs = selfSigned(["www.shop-example.com"]);
  assert.equal((await refusal(eve.domains.addCert({ app: "shop", cert: theirs.cert, key: theirs.key }))).code, "NOT_FOUND");
  assert.match((await refusal(eve.domains.addCert({ app: "rival", cert: theirs.cert, key: theirs.key }))).message, /covers none of the app's domains/);
  assert.deepEqual(await snapshot(), was);
  assert.equal((await tlsGet("www.shop-example.com")).body, "shop https www.shop-example.com");
});

test("a bad certificate and key pair is refused with the reason, and the one serving stays", async () => {
  const was = await snapshot();
  const served = (await tlsGet("www.shop-example.com")).cert.fingerprint256;
  const [a, b] = [selfSigned(["www.shop-example.com"]), selfSigned(["www.shop-example.com"])];
  const mismatch = await refusal(alice.domains.addCert({ app: "shop", cert: a.cert, key: b.key }));
  assert.equal(mismatch.code, "BAD_REQUEST");
  assert.match(mismatch.message, /^certificate refused: the key does not match the certificate/);
  const elsewhere = selfSigned(["api.example.net"]);
  assert.match((await refusal(alice.domains.addCert({ app: "shop", cert: elsewhere.cert, key: elsewhere.key }))).message, /is for api\.example\.net, which covers none of www\.shop-example\.com/);
  assert.match((await refusal(alice.domains.addCert({ app: "shop", cert: a.key, key: a.cert }))).message, /swapped/);
  assert.deepEqual(await snapshot(), was);
  assert.equal((await tlsGet("www.shop-example.com")).cert.fingerprint256, served);
});

test("the team's custom domain quota is enforced", async () => {
  const acme = await db.team.findUniqueOrThrow({ where: { name: "acme" } });
  await db.quota.upsert({ where: { teamId: acme.id }, update: { customDomains: 1 }, create: { teamId: acme.id, customDomains: 1 } });
  try {
    const was = await snapshot();
    const e = await refusal(alice.domains.add({ app: "shop", hostname: "shop-example.com" }));
    assert.equal(e.code, "FORBIDDEN");
    assert.match(e.message, /team "acme" has reached its quota of 1 custom domain \(its apps have 1\)/);
    assert.deepEqual(await snapshot(), was);
  } finally {
    await db.quota.update({ where: { teamId: acme.id }, data: { customDomains: 20 } });
  }
});

test("a deploy routes the custom domains, with their certificates, to the new replicas", async () => {
  const app = await db.app.findUniqueOrThrow({ where: { name: "shop" }, include: { team: true, previewOf: true } });
  const release = await db.release.create({ data: { appId: app.id, version: 1, imageRef: "test", status: "deploying" }, include: { app: { include: { team: true, previewOf: true } } } });
  const next = await replica("shop-v2");
  const pid = await haproxyPid();
  await withDeployLock(router.redis, app.id, "a test deploy", undefined, (lease) =>
    route.run({ redis: router.redis, release, replicas: [{ rowId: "", runtimeId: "", agentUrl: "", address: next.addr, processType: "web", number: 1 }], lease, log: new BuildLog(router.redis, "test-deploy") }),
  );
  await tlsAnswers("www.shop-example.com", (a) => a.body.startsWith("shop-v2 "), "the domain to follow the deploy");
  const a = await tlsGet("www.shop-example.com");
  assert.notEqual(a.cert.fingerprint256, defaultCert().fingerprint256, "still its own certificate");
  assert.equal((await get(router.port, "shop.localhost")).body, "shop-v2 http shop.localhost");
  assert.equal(await haproxyPid(), pid);
});

test("removing a domain makes it answer the router's 404, and its certificate goes: from Redis, from the router's disk, from HAProxy", async () => {
  const file = domainCertFile(routerTlsDir(), "www.shop-example.com");
  const { certSha256 } = await db.domain.findUniqueOrThrow({ where: { hostname: "www.shop-example.com" } });
  assert.ok(await router.redis.exists(certKey(certSha256!)));
  assert.match(await router.admin("show ssl cert"), /www\.shop-example\.com\.pem/);
  await alice.domains.remove({ app: "shop", hostname: "www.shop-example.com" });
  await answers(router.port, "www.shop-example.com", (a) => a.status === 404, "the domain to be gone");
  const gone = await tlsGet("www.shop-example.com");
  assert.equal(gone.status, 404);
  assert.match(gone.body, /No such app/);
  assert.equal(gone.cert.fingerprint256, defaultCert().fingerprint256);
  // Gone from Redis when the call returns.
  assert.deepEqual(await storedCerts(), {});
  await waitFor(async () => !(await router.admin("show ssl cert")).includes("www.shop-example.com"), "HAProxy to drop the certificate", 5000, 20);
  await waitFor(() => !fs.existsSync(file), "the router's copy to go", 5000, 20);
  assert.equal(await db.domain.count(), 0);
  assert.deepEqual(Object.keys(await router.redis.hgetall(ROUTES_KEY)).sort(), ["rival.localhost", "shop.localhost"]);
  assert.equal((await refusal(alice.domains.remove({ app: "shop", hostname: "www.shop-example.com" }))).code, "NOT_FOUND");
  // Free again for anyone: the other team may have it now.
  await eve.domains.add({ app: "rival", hostname: "www.shop-example.com" });
  await tlsAnswers("www.shop-example.com", (a) => a.body.startsWith("rival "), "the domain to serve its new app");
});
