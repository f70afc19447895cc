/** The custom domains' certificates in Redis, on a migrated database and a throwaway Redis: what stays, what goes, what an earlier version left on disk. */
import assert from "node:assert/strict";
import fs from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";
import { Redis } from "ioredis";
import { certKey } from "@paas/shared";
import { sha256, writeDomainCert } from "@paas/shared/tls";
import { startRedis } from "../tests/helpers/redis.ts";
import { domainsMissingCerts, importLegacyCertFiles, pruneCerts, removeAppDomains, storeCert } from "./domains.ts";
import { createDb, type PrismaClient } from "./index.ts";
import { migrateDeploy } from "./migrate.ts";

const tmp = fs.mkdtempSync(path.join(tmpdir(), "paas-domains-"));
let db: PrismaClient;
let server: Awaited<ReturnType<typeof startRedis>>;
let redis: Redis;

before(async () => {
  const url = `file:${path.join(tmp, "paas.db")}`;
  await migrateDeploy(url);
  db = createDb(url);
  server = await startRedis();
  redis = new Redis(server.url);
});
after(async () => {
  redis.disconnect();
  await server.stop();
  await db.$disconnect();
  fs.rmSync(tmp, { recursive: true, force: true });
});

const pem = (n: string) => `-----BEGIN CERTIFICATE-----\n${n}\n-----END CERTIFICATE-----\n`;

async function domain(app: string, hostname: string, certPem?: string) {
  const team = (await db.team.findUnique({ where: { name: "t" } })) ?? (await db.team.create({ data: { name: "t" } }));
  const a = (await db.app.findUnique({ where: { name: app } })) ?? (await db.app.create({ data: { name: app, teamId: team.id } }));
  return db.domain.create({ data: { hostname, appId: a.id, certSha256: certPem ? sha256(certPem) : null } });
}

test("a PEM stays while a domain names it: pruned once none does, put back when one came to name it meanwhile", async () => {
  const [a, b] = [pem("a"), pem("b")];
  await domain("one", "a.example.com", a);
  await domain("two", "b.example.com", a);
  assert.equal(await storeCert(redis, a), sha256(a));
  await storeCert(redis, b);
  await redis.set("paas:other", "x");
  assert.equal(await pruneCerts(redis, db), 1, "b: no domain names it");
  assert.equal(await redis.get(certKey(sha256(a))), a);
  assert.equal(await redis.exists(certKey(sha256(b))), 0);
  assert.equal(await redis.get("paas:other"), "x", "other keys are not the prune's");

  // A domain names b while the prune runs (between its look at the names and its delete).
  await storeCert(redis, b);
  const findMany = db.domain.findMany.bind(db.domain);
  let looks = 0;
  const racing = new Proxy(db, {
    get: (target, prop) =>
      prop === "domain"
        ? new Proxy(target.domain, {
            get: (d, p) =>
              p === "findMany"
                ? async (args: Parameters<typeof findMany>[0]) => {
                    const rows = await findMany(args);
                    if (looks++ === 0) await db.domain.update({ where: { hostname: "b.example.com" }, data: { certSha256: sha256(b) } });
                    return rows;
                  }
                : Reflect.get(d, p),
          })
        : Reflect.get(target, prop),
  });
  assert.equal(await pruneCerts(redis, racing), 0);
  assert.equal(await redis.get(certKey(sha256(b))), b, "put back");

  // apps:destroy: its domains go, and the PEMs only they named.
  assert.deepEqual(await removeAppDomains(db, redis, (await db.app.findUniqueOrThrow({ where: { name: "two" } })).id), ["b.example.com"]);
  assert.equal(await redis.get(certKey(sha256(a))), a, "a.example.com names it still");
  assert.equal(await redis.exists(certKey(sha256(b))), 0);
});

test("files an earlier version left on the API's disk: moved to Redis when a domain names them and Redis lacks them, then deleted; a lost one is named", async () => {
  const tlsDir = path.join(tmp, "tls");
  const [c, d] = [pem("c"), pem("d")];
  await domain("three", "c.example.com", c);
  await domain("three", "d.example.com", d);
  writeDomainCert(tlsDir, "c.example.com", c);
  writeDomainCert(tlsDir, "d.example.com", pem("not what was published"));
  writeDomainCert(tlsDir, "gone.example.com", c);
  fs.writeFileSync(path.join(tlsDir, "domains", "README"), "not a PEM");
  assert.deepEqual(await importLegacyCertFiles(redis, tlsDir, db), ["c.example.com"]);
  assert.equal(await redis.get(certKey(sha256(c))), c);
  assert.deepEqual(fs.readdirSync(path.join(tlsDir, "domains")), ["README"], "every domain's file is gone");
  assert.deepEqual(await importLegacyCertFiles(redis, tlsDir, db), []);
  assert.deepEqual(await importLegacyCertFiles(redis, path.join(tmp, "none"), db), [], "no directory: nothing to do");
  assert.deepEqual(await domainsMissingCerts(redis, db), ["d.example.com"]);
});
