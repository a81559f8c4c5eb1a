import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findMerchantByApiKey } from '../../db/merchants.js';
import { merchantRoutes } from '../../db/routes.js';
import { createPool, type Pool } from '../../db/pool.js';
import { ROOT } from '../support/stack.js';

/** `npx passerelle`: the operator's command line, run as a user would. */
let pool: Pool;
beforeAll(() => {
  pool = createPool(process.env.DATABASE_URL!, 2);
});
afterAll(async () => {
  await pool.end();
});

function passerelle(...args: string[]) {
  return spawnSync(process.execPath, [path.join(ROOT, 'bin', 'passerelle.js'), ...args], {
    encoding: 'utf8',
    env: { ...process.env, LOG_LEVEL: 'silent' },
    timeout: 30_000,
  });
}

describe('passerelle CLI', () => {
  it('creates a merchant and prints its key once (--json for machines)', async () => {
    const run = passerelle('merchant', 'create', 'Boutique', 'Ouaga', '--json');
    expect(run.status).toBe(0);
    const out = JSON.parse(run.stdout) as { merchant_id: string; name: string; api_key: string };
    expect(out.name).toBe('Boutique Ouaga');
    expect(out.api_key).toMatch(/^sk_[a-z2-7]{40}$/);
    expect((await findMerchantByApiKey(pool, out.api_key))?.id).toBe(out.merchant_id);
    const { rows } = await pool.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM api_keys WHERE key_prefix = $1 AND key_hash IS NOT NULL',
      [out.api_key.slice(0, 7)],
    );
    expect(rows[0]!.n).toBeGreaterThanOrEqual(1);
    const human = passerelle('merchant', 'create', 'Lomé shop');
    expect(human.stdout).toMatch(/API key \(shown once, keep it secret\): sk_/);
  });

  it('sets and clears routes, refusing an operator that does not serve the network', async () => {
    const merchant = (
      JSON.parse(passerelle('merchant', 'create', 'Routes', '--json').stdout) as { merchant_id: string }
    ).merchant_id;
    const set = passerelle(
      'routes',
      'set',
      '--merchant',
      merchant,
      '--network',
      'togocel_tg',
      '--kind',
      'payin',
      '--operators',
      'paygate',
    );
    expect(set.status).toBe(0);
    expect(await merchantRoutes(pool, merchant, 'togocel_tg', 'payin')).toEqual(['paygate']);
    const bad = passerelle(
      'routes',
      'set',
      '--merchant',
      merchant,
      '--network',
      'moov_tg',
      '--kind',
      'payin',
      '--operators',
      'tmoney',
    );
    expect(bad.status).toBe(64);
    expect(bad.stderr).toContain('must be among paygate');
    expect(
      passerelle('routes', 'clear', '--merchant', merchant, '--network', 'togocel_tg', '--kind', 'payin')
        .status,
    ).toBe(0);
    expect(await merchantRoutes(pool, merchant, 'togocel_tg', 'payin')).toBeUndefined();
  });

  it('explains its usage and refuses unknown commands', () => {
    const unknown = passerelle('merchant', 'delete', 'x');
    expect(unknown.status).toBe(64);
    expect(unknown.stderr).toContain('usage: passerelle');
    const check = passerelle('ledger', 'check', '--json');
    expect(check.status).toBe(0);
    expect(JSON.parse(check.stdout)).toMatchObject({ ok: true });
  });
});
