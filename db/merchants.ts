import { newId } from '../lib/ids.js';
import { apiKeyStatus, findApiKeyBySecret, insertApiKey } from './api-keys.js';
import { inTransaction, type Pool, type Queryable } from './pool.js';

export interface Merchant {
  id: string;
  name: string;
  createdAt: Date;
}

export interface CreatedMerchant {
  merchant: Merchant;
  /** A test-mode key (`sk_test_…`): the only time it is available in clear (stored as a SHA-256 digest). */
  apiKey: string;
  apiKeyId: string;
  /** A live-mode key (`sk_live_…`), when asked for. */
  liveApiKey?: string;
  liveApiKeyId?: string;
}

/** A merchant with a test key, and a live key too when `live` is set. */
export async function createMerchant(
  pool: Pool,
  name: string,
  opts: { live?: boolean } = {},
): Promise<CreatedMerchant> {
  return inTransaction(pool, async (client) => {
    const id = newId('mer');
    const { rows } = await client.query<{ created_at: Date }>(
      'INSERT INTO merchants (id, name) VALUES ($1, $2) RETURNING created_at',
      [id, name],
    );
    const test = await insertApiKey(client, { merchantId: id, mode: 'test', name: 'Test key' });
    const live = opts.live
      ? await insertApiKey(client, { merchantId: id, mode: 'live', name: 'Live key' })
      : undefined;
    return {
      merchant: { id, name, createdAt: rows[0]!.created_at },
      apiKey: test.apiKey,
      apiKeyId: test.apiKeyId,
      ...(live ? { liveApiKey: live.apiKey, liveApiKeyId: live.apiKeyId } : {}),
    };
  });
}

/** The merchant owning a usable (neither revoked nor expired) key, or undefined. */
export async function findMerchantByApiKey(db: Queryable, apiKey: string): Promise<Merchant | undefined> {
  const key = await findApiKeyBySecret(db, apiKey);
  if (!key || apiKeyStatus(key) !== 'active') return undefined;
  return getMerchant(db, key.merchantId);
}

/** Requests per window the merchant's keys may each make (undefined: the deployment's default). */
export async function merchantRateLimit(db: Queryable, merchantId: string): Promise<number | undefined> {
  const { rows } = await db.query<{ rate_limit_requests: number | null }>(
    'SELECT rate_limit_requests FROM merchants WHERE id = $1',
    [merchantId],
  );
  return rows[0]?.rate_limit_requests ?? undefined;
}

export async function setMerchantRateLimit(
  db: Queryable,
  merchantId: string,
  requests: number | null,
): Promise<boolean> {
  const { rowCount } = await db.query('UPDATE merchants SET rate_limit_requests = $2 WHERE id = $1', [
    merchantId,
    requests,
  ]);
  return rowCount === 1;
}

export async function getMerchant(db: Queryable, id: string): Promise<Merchant | undefined> {
  const { rows } = await db.query<{ id: string; name: string; created_at: Date }>(
    'SELECT id, name, created_at FROM merchants WHERE id = $1',
    [id],
  );
  const row = rows[0];
  return row && { id: row.id, name: row.name, createdAt: row.created_at };
}

/** What reconciliation does with a success the operator reports after we expired the payin. */
export type LateSuccessPolicy = 'credit' | 'refund';

export async function setLateSuccessPolicy(
  db: Queryable,
  merchantId: string,
  policy: LateSuccessPolicy,
): Promise<boolean> {
  const { rowCount } = await db.query('UPDATE merchants SET late_success_policy = $2 WHERE id = $1', [
    merchantId,
    policy,
  ]);
  return rowCount === 1;
}

/**
 * Where a merchant's refunds may go: the payer's own number only (the default), or any number
 * the merchant gives (each such refund is logged).
 */
export type RefundRecipients = 'payer' | 'any';

export async function lateSuccessPolicy(db: Queryable, merchantId: string): Promise<LateSuccessPolicy> {
  const { rows } = await db.query<{ late_success_policy: LateSuccessPolicy }>(
    'SELECT late_success_policy FROM merchants WHERE id = $1',
    [merchantId],
  );
  return rows[0]?.late_success_policy ?? 'credit';
}

export async function setRefundRecipients(
  db: Queryable,
  merchantId: string,
  recipients: RefundRecipients,
): Promise<boolean> {
  const { rowCount } = await db.query('UPDATE merchants SET refund_recipients = $2 WHERE id = $1', [
    merchantId,
    recipients,
  ]);
  return rowCount === 1;
}

export async function refundRecipients(db: Queryable, merchantId: string): Promise<RefundRecipients> {
  const { rows } = await db.query<{ refund_recipients: RefundRecipients }>(
    'SELECT refund_recipients FROM merchants WHERE id = $1',
    [merchantId],
  );
  return rows[0]?.refund_recipients ?? 'payer';
}

/** A merchant's colour and logo on the payer's pages (docs/checkout.md, "Branding"). */
export interface CheckoutBranding {
  color: string | null;
  logoType: string | null;
}

export async function getCheckoutBranding(db: Queryable, merchantId: string): Promise<CheckoutBranding> {
  const { rows } = await db.query<{ checkout_color: string | null; checkout_logo_type: string | null }>(
    'SELECT checkout_color, checkout_logo_type FROM merchants WHERE id = $1',
    [merchantId],
  );
  return { color: rows[0]?.checkout_color ?? null, logoType: rows[0]?.checkout_logo_type ?? null };
}

export async function getCheckoutLogo(
  db: Queryable,
  merchantId: string,
): Promise<{ type: string; bytes: Buffer } | undefined> {
  const { rows } = await db.query<{ checkout_logo: Buffer | null; checkout_logo_type: string | null }>(
    'SELECT checkout_logo, checkout_logo_type FROM merchants WHERE id = $1',
    [merchantId],
  );
  const r = rows[0];
  return r?.checkout_logo && r.checkout_logo_type
    ? { type: r.checkout_logo_type, bytes: r.checkout_logo }
    : undefined;
}

/** Sets what is given (`null` removes it); false when there is no such merchant. */
export async function setCheckoutBranding(
  db: Queryable,
  merchantId: string,
  b: { color?: string | null; logo?: { type: string; bytes: Buffer } | null },
): Promise<boolean> {
  const { rowCount } = await db.query(
    `UPDATE merchants
        SET checkout_color = CASE WHEN $2 THEN $3 ELSE checkout_color END,
            checkout_logo = CASE WHEN $4 THEN $5::bytea ELSE checkout_logo END,
            checkout_logo_type = CASE WHEN $4 THEN $6 ELSE checkout_logo_type END
      WHERE id = $1`,
    [
      merchantId,
      b.color !== undefined,
      b.color ?? null,
      b.logo !== undefined,
      b.logo?.bytes ?? null,
      b.logo?.type ?? null,
    ],
  );
  return rowCount === 1;
}
