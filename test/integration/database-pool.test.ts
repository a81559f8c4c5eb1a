import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPool, inTransaction, type Pool } from '../../db/pool.js';

/**
 * The pool keeps a connection whose statement PostgreSQL refused (pg-pool's own `query()` closes
 * it, and every repeated operator callback is refused by a unique index by design: a new backend
 * per payin, docs/BENCHMARKS.md), and still drops a connection that broke.
 */
let pool: Pool;
let admin: Pool;
const backend = async () =>
  (await pool.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;

beforeAll(async () => {
  pool = createPool(process.env.DATABASE_URL!, 1);
  admin = createPool(process.env.DATABASE_URL!, 1);
  await pool.query('CREATE TEMP TABLE IF NOT EXISTS pool_probe (k int PRIMARY KEY)');
});
afterAll(async () => {
  await pool.end();
  await admin.end();
});

describe('the database pool', () => {
  it('keeps its connection after statements PostgreSQL refused', async () => {
    const before = await backend();
    // The temporary table lives in this one connection: it is still there only if the connection is.
    await pool.query('INSERT INTO pool_probe VALUES (1) ON CONFLICT DO NOTHING');
    await expect(pool.query('INSERT INTO pool_probe VALUES (1)')).rejects.toMatchObject({ code: '23505' });
    await expect(pool.query('SELECT 1 / $1::int', [0])).rejects.toMatchObject({ code: '22012' });
    await expect(pool.query({ text: 'SELECT no_such_column FROM pool_probe' })).rejects.toBeInstanceOf(
      pg.DatabaseError,
    );
    expect(await backend()).toBe(before);
    expect((await pool.query('SELECT count(*)::int AS n FROM pool_probe')).rows[0]).toEqual({ n: 1 });
  });

  it('answers query objects and callbacks as pg does', async () => {
    const res = await pool.query<{ v: number }>({ text: 'SELECT $1::int AS v', values: [7] });
    expect(res.rows[0]!.v).toBe(7);
    const viaCallback = await new Promise<number>((resolve, reject) => {
      pool.query<{ v: number }>('SELECT 8 AS v', (err, r) => (err ? reject(err) : resolve(r.rows[0]!.v)));
    });
    expect(viaCallback).toBe(8);
  });

  it('prepares a statement with parameters once per connection and runs it again by name', async () => {
    const text = 'SELECT $1::int + 1 AS v /* prepared once */';
    for (const n of [1, 2, 3]) expect((await pool.query<{ v: number }>(text, [n])).rows[0]!.v).toBe(n + 1);
    const { rows } = await pool.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM pg_prepared_statements WHERE statement = $1',
      [text],
    );
    expect(rows[0]!.n).toBe(1);
  });

  it('prepares a statement again when a migration changed its result', async () => {
    await pool.query('CREATE TEMP TABLE IF NOT EXISTS pool_columns (k int)');
    await pool.query('INSERT INTO pool_columns VALUES (1)');
    const read = 'SELECT * FROM pool_columns WHERE k = $1';
    expect((await pool.query(read, [1])).rows).toEqual([{ k: 1 }]);
    await pool.query('ALTER TABLE pool_columns ADD COLUMN added text');
    // Outside a transaction: run again at once.
    expect((await pool.query(read, [1])).rows).toEqual([{ k: 1, added: null }]);
    // Inside one, the transaction fails (as any statement's failure does) and the next one works.
    await pool.query('ALTER TABLE pool_columns ADD COLUMN added_later text');
    const readInTransaction = () =>
      inTransaction(pool, async (client) => (await client.query<Record<string, unknown>>(read, [1])).rows);
    await expect(readInTransaction()).rejects.toThrow('cached plan must not change result type');
    expect(await readInTransaction()).toEqual([{ k: 1, added: null, added_later: null }]);
  });

  it('drops a connection that broke during a statement and opens another', async () => {
    const before = await backend();
    // Its failure is taken as it comes (the backend may end before this test awaits it).
    const running = pool.query('SELECT pg_sleep(30)').then(
      () => undefined,
      (err: unknown) => err,
    );
    // Wait until the statement runs in that backend, then end the backend from another connection.
    await expect
      .poll(
        async () =>
          (
            await admin.query<{ active: boolean }>(
              `SELECT state = 'active' AS active FROM pg_stat_activity WHERE pid = $1`,
              [before],
            )
          ).rows[0]?.active,
        { timeout: 10_000 },
      )
      .toBe(true);
    await admin.query('SELECT pg_terminate_backend($1)', [before]);
    expect(await running).toMatchObject({ code: '57P01', severity: 'FATAL' });
    const after = await backend();
    expect(after).not.toBe(before);
    // The pool still holds a single, working connection.
    expect(pool.totalCount).toBe(1);
  });
});
