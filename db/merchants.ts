import { hashApiKey, newApiKey, newId } from '../lib/ids.js';
import { inTransaction, type Pool, type Queryable } from './pool.js';

export interface Merchant {
  id: string;
  name: string;
  createdAt: Date;
}

export interface CreatedMerchant {
  merchant: Merchant;
  /** The only time the key is available in clear: it is stored as a SHA-256 digest. */
  apiKey: string;
  apiKeyId: string;
}

export async function createMerchant(pool: Pool, name: string): Promise<CreatedMerchant> {
  return inTransaction(pool, async (client) => {
    const id = newId('mer');
    const { rows } = await client.query<{ created_at: Date }>(
      'INSERT INTO merchants (id, name) VALUES ($1, $2) RETURNING created_at',
      [id, name],
    );
    const { apiKey, apiKeyId } = await insertApiKey(client, id);
    return { merchant: { id, name, createdAt: rows[0]!.created_at }, apiKey, apiKeyId };
  });
}

export async function insertApiKey(
  db: Queryable,
  merchantId: string,
  mode?: 'test' | 'live',
): Promise<{ apiKey: string; apiKeyId: string }> {
  const apiKey = newApiKey(mode);
  const apiKeyId = newId('key');
  await db.query('INSERT INTO api_keys (id, merchant_id, key_hash, key_prefix) VALUES ($1, $2, $3, $4)', [
    apiKeyId,
    merchantId,
    hashApiKey(apiKey),
    apiKey.slice(0, 7),
  ]);
  return { apiKey, apiKeyId };
}

/** The merchant owning an active key, or undefined. */
export async function findMerchantByApiKey(db: Queryable, apiKey: string): Promise<Merchant | undefined> {
  const { rows } = await db.query<{ id: string; name: string; created_at: Date }>(
    `SELECT m.id, m.name, m.created_at
       FROM api_keys k JOIN merchants m ON m.id = k.merchant_id
      WHERE k.key_hash = $1 AND k.revoked_at IS NULL`,
    [hashApiKey(apiKey)],
  );
  const row = rows[0];
  return row && { id: row.id, name: row.name, createdAt: row.created_at };
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
