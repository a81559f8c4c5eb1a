import { parseArgs } from 'node:util';
import { createMerchant } from '../db/merchants.js';
import { migrateUp } from '../db/migrate.js';
import { createPool } from '../db/pool.js';
import { loadConfigOrExit } from '../lib/config.js';

/** `npx passerelle`: operator's command line. */
const USAGE = `usage: passerelle <command>

commands:
  merchant create <name> [--json]   create a merchant and print its id and a new API key (shown once)
  db migrate                        apply pending database migrations

environment: DATABASE_URL (default postgres://postgres@127.0.0.1:5432/passerelle)`;

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: {
    json: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
});

function fail(message: string, code = 64): never {
  process.stderr.write(`${message}\n\n${USAGE}\n`);
  process.exit(code);
}

const [group, command, ...rest] = positionals;
if (values.help || !group) {
  process.stdout.write(`${USAGE}\n`);
  process.exit(values.help ? 0 : 64);
}

if (group === 'merchant' && command === 'create') {
  const name = rest.join(' ').trim();
  if (!name) fail('merchant create needs a name');
  if (name.length > 200) fail('a merchant name has at most 200 characters');
  const config = loadConfigOrExit();
  const pool = createPool(config.DATABASE_URL, 1);
  try {
    const created = await createMerchant(pool, name);
    if (values.json) {
      process.stdout.write(
        `${JSON.stringify({ merchant_id: created.merchant.id, name, api_key: created.apiKey, api_key_id: created.apiKeyId })}\n`,
      );
    } else {
      process.stdout.write(
        `Merchant ${created.merchant.id} (${name}) created.\n` +
          `API key (shown once, keep it secret): ${created.apiKey}\n`,
      );
    }
  } catch (err) {
    const e = err as { code?: string; message: string };
    const hint =
      e.code === '42P01' ? ' (the database has no tables: run `npm start` once, or the migrations)' : '';
    process.stderr.write(`could not create the merchant: ${e.message}${hint}\n`);
    process.exitCode = 1;
  } finally {
    await pool.end();
  }
} else if (group === 'db' && command === 'migrate') {
  const config = loadConfigOrExit();
  const applied = await migrateUp(config.DATABASE_URL);
  process.stdout.write(applied.length ? `applied: ${applied.join(', ')}\n` : 'database schema up to date\n');
} else {
  fail(`unknown command: ${positionals.join(' ')}`);
}
