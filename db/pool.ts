import pg from 'pg';

// bigint (int8) columns hold money in minor units: read them as numbers, refusing any value that
// would lose precision instead of rounding it silently.
pg.types.setTypeParser(pg.types.builtins.INT8, (text: string) => {
  const value = Number(text);
  if (!Number.isSafeInteger(value)) throw new RangeError(`int8 value ${text} exceeds the safe integer range`);
  return value;
});

export type Pool = pg.Pool;
export type PoolClient = pg.PoolClient;
export type Queryable = Pick<pg.Pool, 'query'> | pg.PoolClient;

export function createPool(databaseUrl: string, max = 10): pg.Pool {
  const pool = new pg.Pool({ connectionString: databaseUrl, max, idleTimeoutMillis: 30_000 });
  keepConnectionsAfterRefusedStatements(pool);
  // A client losing its connection (PostgreSQL restart) must not crash the process: an idle one is
  // dropped by the pool; a checked-out one fails its next query, which its caller handles. Found by
  // the crash test (bench/chaos.ts): without the per-client listener, a worker died with the database.
  pool.on('error', () => undefined);
  pool.on('connect', (client) => client.on('error', () => undefined));
  return pool;
}

/**
 * pg-pool's `query()` closes its connection after any error, a statement PostgreSQL refused
 * included (a unique violation, a check): the next query then waits for a new backend, which
 * PostgreSQL forks and warms up (catalog caches, PL/pgSQL triggers compiled again) at several
 * milliseconds of CPU. Every repeated operator callback is refused by a unique index by design,
 * so the API opened a connection per payin (docs/BENCHMARKS.md). A refused statement leaves its
 * connection ready for the next one (PostgreSQL answers ReadyForQuery after every ErrorResponse,
 * and `pool.query` never leaves a transaction open), so it goes back to the pool; any other error
 * (the connection lost, a FATAL such as an administrator's termination) still removes it.
 */
function keepConnectionsAfterRefusedStatements(pool: pg.Pool): void {
  const query = pool.query.bind(pool) as (...args: unknown[]) => unknown;
  const keeping = async (...args: unknown[]): Promise<unknown> => {
    const client = await pool.connect();
    let broken: Error | undefined;
    try {
      return await (client.query as (...a: unknown[]) => Promise<unknown>).apply(client, args);
    } catch (err) {
      const refusedStatement =
        err instanceof pg.DatabaseError && err.severity !== 'FATAL' && err.severity !== 'PANIC';
      if (!refusedStatement) broken = err instanceof Error ? err : new Error(String(err));
      throw err;
    } finally {
      client.release(broken);
    }
  };
  // Callback-style calls (none of ours) keep pg-pool's own path.
  pool.query = ((...args: unknown[]) =>
    typeof args[args.length - 1] === 'function' ? query(...args) : keeping(...args)) as typeof pool.query;
}

/** Runs `work` in a transaction, committing on success and rolling back on any error. */
export async function inTransaction<T>(
  pool: pg.Pool,
  work: (client: pg.PoolClient) => Promise<T>,
): Promise<T> {
  const client = await pool.connect();
  // A connection whose ROLLBACK failed may still hold an open transaction (or be broken): it is
  // destroyed, never handed to the next caller (`release(err)`).
  let broken: Error | undefined;
  try {
    await client.query('BEGIN');
    const result = await work(client);
    await client.query('COMMIT');
    return result;
  } catch (err) {
    await client.query('ROLLBACK').catch((rollbackError: unknown) => {
      broken = rollbackError instanceof Error ? rollbackError : new Error(String(rollbackError));
    });
    throw err;
  } finally {
    client.release(broken);
  }
}

/** Whether PostgreSQL answers (the health check). */
export async function pingDatabase(db: Pick<pg.Pool, 'query'>): Promise<void> {
  await db.query('SELECT 1');
}
