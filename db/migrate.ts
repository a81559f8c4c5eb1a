import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { runner } from 'node-pg-migrate';

export const MIGRATIONS_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), 'migrations');

/** Applies every pending migration (node-pg-migrate, SQL files in db/migrations). */
export async function migrateUp(
  databaseUrl: string,
  log: (msg: string) => void = () => undefined,
  opts: { production?: boolean } = {},
): Promise<string[]> {
  const applied = await runner({
    // Migrations that give existing rows a mode read it from this setting (1733170000000_livemode).
    databaseUrl: {
      connectionString: databaseUrl,
      options: `-c passerelle.production=${opts.production ?? false}`,
    },
    dir: MIGRATIONS_DIR,
    direction: 'up',
    migrationsTable: 'pgmigrations',
    singleTransaction: true,
    log,
    // Several processes (API, worker, tests) may start together: wait for the one migrating.
    advisoryLockMode: 'wait',
  });
  return applied.map((m) => m.name);
}

/** Creates the database named in the URL when the server answers but the database is missing. */
export async function ensureDatabase(databaseUrl: string): Promise<'created' | 'exists'> {
  const url = new URL(databaseUrl);
  const name = decodeURIComponent(url.pathname.replace(/^\//, ''));
  if (!name) throw new Error('DATABASE_URL names no database');
  const admin = new URL(databaseUrl);
  admin.pathname = '/postgres';
  const client = new pg.Client({ connectionString: admin.toString() });
  await client.connect();
  try {
    const found = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (found.rowCount) return 'exists';
    await client.query(`CREATE DATABASE ${pg.escapeIdentifier(name)}`);
    return 'created';
  } catch (err) {
    // Another process created it between our check and our CREATE.
    if ((err as { code?: string }).code === '42P04') return 'exists';
    throw err;
  } finally {
    await client.end();
  }
}
