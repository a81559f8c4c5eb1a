import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
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
    const out = JSON.parse(run.stdout) as {
      merchant_id: string;
      name: string;
      api_key: string;
      live_api_key: string;
    };
    expect(out.name).toBe('Boutique Ouaga');
    expect(out.api_key).toMatch(/^sk_test_[a-z2-7]{40}$/);
    expect(out.live_api_key).toMatch(/^sk_live_[a-z2-7]{40}$/);
    expect((await findMerchantByApiKey(pool, out.api_key))?.id).toBe(out.merchant_id);
    expect((await findMerchantByApiKey(pool, out.live_api_key))?.id).toBe(out.merchant_id);
    // Stored as a digest and a short prefix, never in clear.
    const { rows } = await pool.query<{ key_prefix: string }>(
      'SELECT key_prefix FROM api_keys WHERE merchant_id = $1 ORDER BY key_prefix',
      [out.merchant_id],
    );
    expect(rows.map((r) => r.key_prefix)).toEqual([out.live_api_key.slice(0, 12), out.api_key.slice(0, 12)]);
    const human = passerelle('merchant', 'create', 'Lomé shop');
    expect(human.stdout).toMatch(/API key \(test mode; shown once, keep it secret\): sk_test_/);
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

  it('manages keys for operations staff: create, list, rotate, revoke, rate limit', async () => {
    const merchant = (
      JSON.parse(passerelle('merchant', 'create', 'Keys', '--json').stdout) as { merchant_id: string }
    ).merchant_id;
    const expires = new Date(Date.now() + 30 * 86_400_000).toISOString();
    const made = passerelle(
      'keys',
      'create',
      '--merchant',
      merchant,
      '--name',
      'Reporting',
      '--mode',
      'live',
      '--scopes',
      'read',
      '--expires',
      expires,
      '--json',
    );
    expect(made.status, made.stderr).toBe(0);
    const key = JSON.parse(made.stdout) as {
      id: string;
      secret: string;
      scopes: string[];
      expires_at: string;
    };
    expect(key.secret).toMatch(/^sk_live_/);
    expect(key.scopes).toEqual(['read']);
    expect(key.expires_at).toBe(expires);
    const listed = passerelle('keys', 'list', '--merchant', merchant, '--json')
      .stdout.trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { id: string; secret?: string });
    expect(listed.map((k) => k.id)).toContain(key.id);
    expect(listed.every((k) => k.secret === undefined)).toBe(true);

    const rotated = passerelle('keys', 'rotate', '--key', key.id, '--grace', '0', '--json');
    expect(rotated.status, rotated.stderr).toBe(0);
    const successor = JSON.parse(rotated.stdout) as { id: string; secret: string; scopes: string[] };
    expect(successor.scopes).toEqual(['read']);
    expect(await findMerchantByApiKey(pool, key.secret)).toBeUndefined();
    expect((await findMerchantByApiKey(pool, successor.secret))?.id).toBe(merchant);
    expect(passerelle('keys', 'revoke', '--key', successor.id).status).toBe(0);
    expect(await findMerchantByApiKey(pool, successor.secret)).toBeUndefined();
    expect(passerelle('keys', 'revoke', '--key', 'key_nothing').status).toBe(1);

    expect(passerelle('merchant', 'rate-limit', '--merchant', merchant, '--requests', '7').status).toBe(0);
    const { rows } = await pool.query<{ rate_limit_requests: number }>(
      'SELECT rate_limit_requests FROM merchants WHERE id = $1',
      [merchant],
    );
    expect(rows[0]!.rate_limit_requests).toBe(7);
    expect(passerelle('merchant', 'rate-limit', '--merchant', merchant, '--requests', '0').status).toBe(64);
  });

  it("sets a merchant's checkout colour and logo, refusing what a payer could not read or what is no image", () => {
    const merchant = (
      JSON.parse(passerelle('merchant', 'create', 'Brand', '--json').stdout) as { merchant_id: string }
    ).merchant_id;
    const dir = mkdtempSync(path.join(tmpdir(), 'logo-'));
    // A 1×1 PNG, and a text file named like one.
    const png = path.join(dir, 'logo.png');
    writeFileSync(
      png,
      Buffer.from(
        'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==',
        'base64',
      ),
    );
    const fake = path.join(dir, 'fake.png');
    writeFileSync(fake, '<svg onload="alert(1)"/>');
    const set = passerelle(
      'merchant',
      'checkout',
      '--merchant',
      merchant,
      '--color',
      '#0B3D91',
      '--logo',
      png,
    );
    expect(set.status, set.stderr).toBe(0);
    expect(set.stdout).toContain('image/png');
    expect(passerelle('merchant', 'checkout', '--merchant', merchant, '--color', '#ffff00').stderr).toContain(
      'too light',
    );
    expect(passerelle('merchant', 'checkout', '--merchant', merchant, '--logo', fake).stderr).toContain(
      'PNG, JPEG or WebP',
    );
    expect(passerelle('merchant', 'checkout', '--merchant', 'mer_nobody', '--color', '#0b3d91').status).toBe(
      1,
    );
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
