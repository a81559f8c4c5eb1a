import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openVaultedCard, vaultCard } from '../../db/card-vault.js';
import { createPool, type Pool } from '../../db/pool.js';
import { parseKeyRing } from '../../lib/card-vault.js';
import { openCallbackRequest } from '../../db/callbacks.js';
import { createMerchant } from '../../db/merchants.js';
import { getPayment, readPayinOtp } from '../../db/payments.js';
import { openPhone, vaultPhone } from '../../db/personal-vault.js';
import { insertBarePayin } from '../support/money.js';
import { ROOT } from '../support/stack.js';

/** The card vault in PostgreSQL, and its key rotation run by the operator's command line. */
let pool: Pool;
beforeAll(() => {
  pool = createPool(process.env.DATABASE_URL!, 2);
});
afterAll(async () => {
  await pool.end();
});

const b64 = () => randomBytes(32).toString('base64');
const run = Date.now().toString(36);
const FINGERPRINT = b64();
const OLD = `old-${run}:${b64()}`;
const NEW = `new-${run}:${b64()}`;
const PANS = ['4970100000000014', '5555555555554444', '6280000000000002'];

function passerelle(env: Record<string, string>, ...args: string[]) {
  return spawnSync(process.execPath, [path.join(ROOT, 'bin', 'passerelle.js'), ...args], {
    encoding: 'utf8',
    env: { ...process.env, LOG_LEVEL: 'silent', CARD_VAULT_FINGERPRINT_KEY: FINGERPRINT, ...env },
    timeout: 30_000,
  });
}

describe('card vault', () => {
  it('keeps no card number in clear, and rotation moves every card to the new key without reading it', async () => {
    const oldRing = parseKeyRing(OLD, undefined, FINGERPRINT);
    const stored = [];
    for (const pan of PANS) stored.push(await vaultCard(pool, oldRing, { pan, expiry: '2812' }, ['628000']));
    // A phone number shares the ring (db/personal-vault.ts): rotation moves it too.
    const phone = await vaultPhone(pool, oldRing, '+22670111222');
    expect(phone.phoneMasked).toBe('+226******22');
    expect(stored.map((c) => [c.firstSix, c.lastFour, c.brand])).toEqual([
      ['497010', '0014', 'visa'],
      ['555555', '4444', 'mastercard'],
      ['628000', '0002', 'gim_uemoa'],
    ]);
    // No column of any row holds a number, in text or in hex.
    const { rows } = await pool.query<{ row: string }>(
      'SELECT row_to_json(v)::text AS row FROM card_vault v WHERE token = ANY($1)',
      [stored.map((c) => c.token)],
    );
    expect(rows).toHaveLength(3);
    for (const pan of PANS) {
      for (const { row } of rows) {
        expect(row).not.toContain(pan);
        expect(row).not.toContain(Buffer.from(pan).toString('hex'));
      }
    }

    const ring = `${OLD},${NEW}`;
    const newId = NEW.split(':')[0]!;
    // Other test files vault cards under the development key: this one rotates its own old key,
    // as an operator retires one key at a time. Rotating everything needs every key in the ring.
    const oldId = OLD.split(':')[0]!;
    // Whether it succeeds depends on what the files running beside this one have vaulted.
    const everything = passerelle(
      { CARD_VAULT_KEYS: ring, CARD_VAULT_ACTIVE_KEY: newId },
      'vault',
      'rotate',
      '--json',
    );
    if (everything.status !== 0) expect(everything.stderr).toMatch(/is not in the ring; add that key/);
    const rotated = passerelle(
      { CARD_VAULT_KEYS: ring, CARD_VAULT_ACTIVE_KEY: newId },
      'vault',
      'rotate',
      '--from',
      oldId,
      '--json',
    );
    expect(rotated.stderr).toBe('');
    expect(rotated.status).toBe(0);
    const answer = JSON.parse(rotated.stdout) as {
      rewrapped: number;
      remaining: number;
      items_by_key: Record<string, number>;
    };
    expect(answer.remaining).toBe(0);
    // Three cards and a phone number, re-wrapped by one run or the other.
    const first =
      everything.status === 0 ? (JSON.parse(everything.stdout) as { rewrapped: number }) : undefined;
    expect(answer.rewrapped + (first?.rewrapped ?? 0)).toBeGreaterThanOrEqual(4);
    expect(answer.items_by_key[newId]).toBeGreaterThanOrEqual(4);
    // The old key can go: the new one alone opens every card, as it was.
    const newRing = parseKeyRing(NEW, undefined, FINGERPRINT);
    for (const [i, card] of stored.entries()) {
      expect(await openVaultedCard(pool, newRing, card.token)).toEqual({ pan: PANS[i], expiry: '2812' });
      await expect(openVaultedCard(pool, oldRing, card.token)).rejects.toThrow('is not in the ring');
    }
    expect(await openPhone(pool, newRing, phone.phoneToken)).toBe('+22670111222');
    await expect(openPhone(pool, oldRing, phone.phoneToken)).rejects.toThrow('is not in the ring');
    // Run again: nothing left to do.
    const again = passerelle(
      { CARD_VAULT_KEYS: ring, CARD_VAULT_ACTIVE_KEY: newId },
      'vault',
      'rotate',
      '--from',
      oldId,
      '--json',
    );
    expect((JSON.parse(again.stdout) as { rewrapped: number }).rewrapped).toBe(0);
  });

  it('seal-legacy moves what rows kept in clear before the vault into it', async () => {
    const m = await createMerchant(pool, 'Legacy rows');
    const payin = await insertBarePayin(pool, m.merchant.id);
    // As a row written before the vault looks: the number, the OTP, the callback in clear.
    await pool.query(
      `UPDATE payments SET customer = '{"phone": "+22670999888", "firstName": "Awa"}' WHERE id = $1`,
      [payin],
    );
    await pool.query("INSERT INTO payin_authorisations (payment_id, otp) VALUES ($1, '482913')", [payin]);
    const { rows } = await pool.query<{ id: number }>(
      `INSERT INTO operator_callbacks (operator, http_method, path, headers, raw_body, parsed)
       VALUES ('tmoney', 'GET', '/v1/callbacks/tmoney/[token]?mobile=22890999888', '{}', ''::bytea,
               '{"eventKey": "x", "fields": {"mobile": "22890999888"}}')
       RETURNING id`,
    );
    const callbackId = rows[0]!.id;
    const sealed = passerelle({ CARD_VAULT_KEYS: NEW }, 'vault', 'seal-legacy', '--json');
    expect(sealed.stderr).toBe('');
    expect(sealed.status).toBe(0);
    expect(JSON.parse(sealed.stdout)).toMatchObject({
      sealed: { payments: 1, payin_authorisations: 1, operator_callbacks: 1 },
    });
    const ring = parseKeyRing(NEW, undefined, FINGERPRINT);
    const payment = (await getPayment(pool, payin))!;
    expect(payment.customer).toMatchObject({ phoneMasked: '+226******88', firstName: 'Awa' });
    expect(payment.customer).not.toHaveProperty('phone');
    expect(await openPhone(pool, ring, payment.customer.phoneToken!)).toBe('+22670999888');
    expect(await readPayinOtp(pool, ring, payin)).toBe('482913');
    expect(await openCallbackRequest(pool, ring, callbackId)).toEqual({
      body: Buffer.alloc(0),
      query: 'mobile=22890999888',
    });
    const { rows: left } = await pool.query<{ row: string }>(
      `SELECT row_to_json(t)::text AS row FROM (
         SELECT p.customer::text AS a, a.otp AS b, c.path AS c, c.parsed::text AS d
           FROM payments p JOIN payin_authorisations a ON a.payment_id = p.id, operator_callbacks c
          WHERE p.id = $1 AND c.id = $2) t`,
      [payin, callbackId],
    );
    expect(left[0]!.row).not.toMatch(/70999888|90999888|482913/);
    // Run again: nothing left.
    const again = passerelle({ CARD_VAULT_KEYS: NEW }, 'vault', 'seal-legacy', '--json');
    expect(JSON.parse(again.stdout)).toMatchObject({ sealed: { payments: 0, operator_callbacks: 0 } });
  });

  it('refuses a bad key ring, and the development keys in production', () => {
    const bad = passerelle({ CARD_VAULT_KEYS: 'k1:short' }, 'vault', 'status');
    expect(bad.status).toBe(78);
    expect(bad.stderr).toContain('CARD_VAULT_KEYS: key k1 is not 32 bytes');
    const production = spawnSync(
      process.execPath,
      [path.join(ROOT, 'bin', 'passerelle.js'), 'vault', 'status'],
      {
        encoding: 'utf8',
        env: { ...process.env, LOG_LEVEL: 'silent', NODE_ENV: 'production' },
        timeout: 30_000,
      },
    );
    expect(production.status).toBe(78);
    expect(production.stderr).toContain('development keys are refused');
  });
});
