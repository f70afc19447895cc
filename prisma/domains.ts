/**
 * Custom domains' certificates beyond their rows: the PEM (chain and key) each route names by
 * its sha256 lives in Redis (certKey), where every router fetches it, wherever it runs. The
 * database keeps the metadata only (Domain.certSha256, expiry, issuer); the key stays out of it,
 * as there is no encryption at rest for the database to hold it under. Imported as
 * `@paas/db/domains`.
 *
 * This module is the one owner of the rule "a PEM stays while a domain names it": storeCert
 * (before the route naming it is published), pruneCerts (after a change that may leave one
 * unnamed), importLegacyCertFiles (the files earlier versions kept on the API's disk).
 */
import fs from "node:fs";
import path from "node:path";
import type { Redis } from "ioredis";
import { certKey, CERTS_KEY_PREFIX } from "@paas/shared";
import { readDomainCert, removeDomainCert, sha256 } from "@paas/shared/tls";
import { db as defaultDb, type Prisma, type PrismaClient } from "./index.ts";

type Client = PrismaClient | Prisma.TransactionClient;

/** The shas some domain names now. */
async function namedShas(client: Client): Promise<Set<string>> {
  const rows = await client.domain.findMany({ where: { certSha256: { not: null } }, select: { certSha256: true }, distinct: ["certSha256"] });
  return new Set(rows.map((r) => r.certSha256!));
}

/**
 * Stores a checked PEM under its sha256, for the routers. Call it after the Domain rows name the
 * sha (a prune running meanwhile then keeps it) and before the route is published.
 */
export async function storeCert(redis: Redis, pem: string): Promise<string> {
  const sha = sha256(pem);
  await redis.set(certKey(sha), pem);
  return sha;
}

/** The PEM stored under `sha` (null: none). */
export const storedCert = (redis: Redis, sha: string): Promise<string | null> => redis.get(certKey(sha));

/**
 * Removes the PEMs no domain names any more (a domain removed, a certificate replaced, an app
 * destroyed). A PEM named again while this runs (the same certificate added to another domain)
 * is put back at once. Returns how many went.
 */
export async function pruneCerts(redis: Redis, client: Client = defaultDb): Promise<number> {
  const keys: string[] = [];
  let cursor = "0";
  do {
    const [next, batch] = await redis.scan(cursor, "MATCH", `${CERTS_KEY_PREFIX}*`, "COUNT", 500);
    cursor = next;
    keys.push(...batch);
  } while (cursor !== "0");
  if (keys.length === 0) return 0;
  const named = await namedShas(client);
  const unnamed = keys.filter((k) => !named.has(k.slice(CERTS_KEY_PREFIX.length)));
  const taken = new Map<string, string>();
  for (const k of unnamed) {
    const pem = await redis.getdel(k);
    if (pem !== null) taken.set(k, pem);
  }
  // Looked at again after the delete: a domain that came to name one meanwhile keeps it.
  const now = await namedShas(client);
  let removed = 0;
  for (const [k, pem] of taken) {
    if (now.has(k.slice(CERTS_KEY_PREFIX.length))) await redis.set(k, pem);
    else removed++;
  }
  return removed;
}

/**
 * Removes every custom domain of the app, then the certificates no other domain names
 * (apps:destroy: a cascade would remove the rows, but not the PEMs in Redis). The routes are
 * the worker's to remove (route.ts unpublishApp removes every host pointing at the app).
 * Returns the host names removed.
 */
export async function removeAppDomains(client: Client, redis: Redis, appId: string): Promise<string[]> {
  const domains = await client.domain.findMany({ where: { appId }, select: { hostname: true } });
  await client.domain.deleteMany({ where: { appId } });
  await pruneCerts(redis, client);
  return domains.map((d) => d.hostname);
}

/**
 * Earlier versions kept each domain's PEM in `<tlsDir>/domains/<host>.pem` on the API's disk:
 * each one a domain still names and Redis lacks is stored there, then every such file goes
 * (the API keeps no copy). Run by each reconcile pass: after an upgrade, the first pass moves
 * them. Returns the hosts whose certificate was moved.
 */
export async function importLegacyCertFiles(redis: Redis, tlsDir: string, client: Client = defaultDb): Promise<string[]> {
  const dir = path.join(tlsDir, "domains");
  let files: string[];
  try {
    files = fs.readdirSync(dir).filter((f) => f.endsWith(".pem"));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw err;
  }
  const moved: string[] = [];
  for (const f of files) {
    const host = f.slice(0, -".pem".length);
    let pem: string | null = null;
    try {
      pem = readDomainCert(tlsDir, host);
    } catch {
      // Not a host's file (domainCertFile refuses the name): not ours to move or remove.
      continue;
    }
    const domain = await client.domain.findUnique({ where: { hostname: host }, select: { certSha256: true } });
    if (pem !== null && domain?.certSha256 && sha256(pem) === domain.certSha256 && (await redis.exists(certKey(domain.certSha256))) === 0) {
      await redis.set(certKey(domain.certSha256), pem);
      moved.push(host);
    }
    removeDomainCert(tlsDir, host);
  }
  return moved;
}

/** The custom domains whose certificate the store lacks (lost with Redis's data): they get the default one. */
export async function domainsMissingCerts(redis: Redis, client: Client = defaultDb): Promise<string[]> {
  const domains = await client.domain.findMany({ where: { certSha256: { not: null } }, select: { hostname: true, certSha256: true }, orderBy: { hostname: "asc" } });
  const missing: string[] = [];
  for (const d of domains) if ((await redis.exists(certKey(d.certSha256!))) === 0) missing.push(d.hostname);
  return missing;
}
