/**
 * The control plane's database client. SQLite through the better-sqlite3
 * driver adapter by default; the URL comes from the shared config.
 */
import { PrismaBetterSqlite3 } from "@prisma/adapter-better-sqlite3";
import { config } from "@paas/shared";
import { PrismaClient } from "./generated/client/client.ts";

export * from "./generated/client/client.ts";

export function createDb(url: string = config().databaseUrl): PrismaClient {
  const adapter = new PrismaBetterSqlite3({ url });
  return new PrismaClient({ adapter });
}

const globalForDb = globalThis as unknown as { __paasDb?: PrismaClient };
/** One client per process (Next.js dev reloads modules; keep one pool). */
export const db: PrismaClient = (globalForDb.__paasDb ??= createDb());
