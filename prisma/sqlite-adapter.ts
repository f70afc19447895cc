/**
 * SQLite through better-sqlite3, one query at a time while a transaction is open.
 *
 * Prisma's better-sqlite3 adapter runs every query of the process on one connection. It makes
 * transactions take turns, but not the queries outside them: while one request's transaction
 * was open, another request's query ran inside it, read its uncommitted rows, and was undone
 * with it if it rolled back. (20 scale-ups at once: a deploy's new Container row vanished
 * when a concurrent quota check was refused and rolled back, and the deploy failed with
 * "No record was found for an update".) Here each query outside a transaction waits until
 * the open one has ended, as it would wait for a connection of a pool.
 *
 * A transaction's callback must use its `tx`, never `db`: a query on `db` inside it would wait
 * for the transaction it is part of (until Prisma's transaction timeout ends it).
 */
import { PrismaBetterSqlite3 } from "@prisma/adapter-better-sqlite3";
import type { SqlDriverAdapter, SqlDriverAdapterFactory, SqlQuery, Transaction } from "@prisma/driver-adapter-utils";

/** A FIFO lock: acquire() resolves, in the order asked, with the function that releases it. */
class Turns {
  #tail: Promise<void> = Promise.resolve();

  acquire(): Promise<() => void> {
    let release!: () => void;
    const mine = new Promise<void>((r) => (release = r));
    const before = this.#tail;
    this.#tail = before.then(() => mine);
    let released = false;
    return before.then(() => () => {
      if (!released) (released = true), release();
    });
  }
}

function serialized(inner: SqlDriverAdapter): SqlDriverAdapter {
  const turns = new Turns();
  const inTurn = async <T>(fn: () => Promise<T>): Promise<T> => {
    const release = await turns.acquire();
    try {
      return await fn();
    } finally {
      release();
    }
  };
  return {
    provider: inner.provider,
    adapterName: inner.adapterName,
    queryRaw: (q: SqlQuery) => inTurn(() => inner.queryRaw(q)),
    executeRaw: (q: SqlQuery) => inTurn(() => inner.executeRaw(q)),
    executeScript: (script: string) => inTurn(() => inner.executeScript(script)),
    getConnectionInfo: inner.getConnectionInfo?.bind(inner),
    dispose: () => inner.dispose(),
    async startTransaction(isolationLevel) {
      // The turn is held from BEGIN to COMMIT or ROLLBACK (Prisma sends those as queries of the transaction).
      const release = await turns.acquire();
      let tx: Transaction;
      try {
        tx = await inner.startTransaction(isolationLevel);
      } catch (err) {
        release();
        throw err;
      }
      return {
        provider: tx.provider,
        adapterName: tx.adapterName,
        options: tx.options,
        queryRaw: (q) => tx.queryRaw(q),
        executeRaw: (q) => tx.executeRaw(q),
        commit: () => tx.commit().finally(release),
        rollback: () => tx.rollback().finally(release),
        createSavepoint: tx.createSavepoint && ((name) => tx.createSavepoint!(name)),
        rollbackToSavepoint: tx.rollbackToSavepoint && ((name) => tx.rollbackToSavepoint!(name)),
        releaseSavepoint: tx.releaseSavepoint && ((name) => tx.releaseSavepoint!(name)),
      };
    },
  };
}

export class SerializedSqliteAdapter implements SqlDriverAdapterFactory {
  readonly provider = "sqlite";
  readonly adapterName: string;
  #inner: PrismaBetterSqlite3;

  constructor(url: string) {
    this.#inner = new PrismaBetterSqlite3({ url });
    this.adapterName = this.#inner.adapterName;
  }

  async connect(): Promise<SqlDriverAdapter> {
    return serialized(await this.#inner.connect());
  }
}
