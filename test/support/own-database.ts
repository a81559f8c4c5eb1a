import pg from 'pg';
import { afterAll, beforeAll } from 'vitest';

/**
 * Gives the calling test file a database of its own, copied from the migrated template that
 * `npm test` prepares (scripts/test.ts): for the files whose checks read state every file writes
 * (an operator's whole day in reconciliation, the sweeps, circuits opened on purpose, the
 * database-wide gauges, a snapshot of every payment). With it they run beside the others instead of
 * one after another.
 *
 * Call it at the top of the file, before the hooks that start a stack: its `beforeAll` points
 * DATABASE_URL (this file's process only) at the copy, so every stack the file starts uses it; its
 * `afterAll`, which runs after theirs, drops the copy.
 */
export function useOwnDatabase(): void {
  let admin: URL | undefined;
  let name: string | undefined;
  beforeAll(async () => {
    const template = process.env.TEST_DATABASE_TEMPLATE;
    const shared = process.env.DATABASE_URL;
    if (!template || !shared)
      throw new Error('run the tests through `npm test`: it prepares the template database');
    const url = new URL(shared);
    name = `${template}_${process.pid}`;
    admin = new URL(shared);
    admin.pathname = '/postgres';
    await onAdmin(admin, async (client) => {
      await client.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(name!)} WITH (FORCE)`);
      // Copies of one template may be made at the same time (nobody connects to the template).
      await client.query(
        `CREATE DATABASE ${pg.escapeIdentifier(name!)} TEMPLATE ${pg.escapeIdentifier(template)}`,
      );
    });
    url.pathname = `/${encodeURIComponent(name)}`;
    process.env.DATABASE_URL = url.toString();
  });
  afterAll(async () => {
    if (!admin || !name) return;
    await onAdmin(admin, (client) =>
      client.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(name!)} WITH (FORCE)`),
    );
  });
}

async function onAdmin<T>(admin: URL, use: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: admin.toString() });
  await client.connect();
  try {
    return await use(client);
  } finally {
    await client.end();
  }
}
