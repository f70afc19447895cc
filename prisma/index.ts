/**
 * The control plane's database client. SQLite through the better-sqlite3
 * driver adapter by default (sqlite-adapter.ts: no query runs inside another request's
 * transaction); the URL comes from the shared config.
 */
import { config } from "@paas/shared";
import { PrismaClient } from "./generated/client/client.ts";
import { SerializedSqliteAdapter } from "./sqlite-adapter.ts";

export * from "./generated/client/client.ts";

export function createDb(url: string = config().databaseUrl): PrismaClient {
  return new PrismaClient({ adapter: new SerializedSqliteAdapter(url) });
}

const globalForDb = globalThis as unknown as { __paasDb?: PrismaClient };
/** One client per process (Next.js dev reloads modules; keep one pool). */
export const db: PrismaClient = (globalForDb.__paasDb ??= createDb());
