import { createHash } from 'node:crypto';
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
  pool.on('connect', (client) => {
    client.on('error', () => undefined);
    prepareStatementsOnce(client);
  });
  return pool;
}

/** Statements worth preparing: data statements (not DECLARE, COPY, SET, DDL...). */
const PREPARABLE = /^\s*(SELECT|INSERT|UPDATE|DELETE|WITH)\b/i;
/** PostgreSQL refusing a prepared statement whose result columns changed since it was planned. */
const STALE_PREPARED_STATEMENT = '0A000';
/** Statement names by text (our statements are constant texts; a bounded cache all the same). */
const statementNames = new Map<string, string>();

function statementName(text: string): string {
  let name = statementNames.get(text);
  if (name === undefined) {
    name = createHash('sha256').update(text).digest('base64url').slice(0, 24);
    if (statementNames.size < 5_000) statementNames.set(text, name);
  }
  return name;
}

/**
 * Data statements with parameters are prepared once per connection and then run by name
 * (node-pg's named statements) instead of being parsed and planned at every call: planning was
 * about a fifth of PostgreSQL's time per payin (a lookup of a payment by its id plans in 0.14 ms,
 * `payments` having many indexes; a send's claim in 0.9 ms; docs/BENCHMARKS.md). A migration that
 * adds a column makes PostgreSQL refuse a prepared `SELECT *` once ("cached plan must not change
 * result type"): the connection then prepares its statements again under new names, and a
 * statement outside a transaction is run again at once (keepConnectionsAfterRefusedStatements).
 */
function prepareStatementsOnce(client: pg.PoolClient): void {
  const query = client.query.bind(client) as (...args: unknown[]) => unknown;
  let generation = 0;
  (client as unknown as { query: (...args: unknown[]) => unknown }).query = (...args: unknown[]) => {
    const [text, values, callback] = args;
    if (
      typeof text !== 'string' ||
      !Array.isArray(values) ||
      values.length === 0 ||
      callback !== undefined ||
      !PREPARABLE.test(text)
    ) {
      return query(...args);
    }
    const name = `${statementName(text)}.${generation}`;
    return (query({ name, text, values }) as Promise<unknown>).catch((err: unknown) => {
      if (isStalePreparedStatement(err)) generation++;
      throw err;
    });
  };
}

function isStalePreparedStatement(err: unknown): boolean {
  return (
    err instanceof pg.DatabaseError &&
    err.code === STALE_PREPARED_STATEMENT &&
    err.message.includes('cached plan must not change result type')
  );
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
      try {
        return await (client.query as (...a: unknown[]) => Promise<unknown>).apply(client, args);
      } catch (err) {
        // Planned before a migration changed its result: prepared again, once (no effect had begun).
        if (!isStalePreparedStatement(err)) throw err;
        return await (client.query as (...a: unknown[]) => Promise<unknown>).apply(client, args);
      }
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
