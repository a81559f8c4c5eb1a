import type { Queryable } from './pool.js';

export interface IdempotencyRecord {
  requestHash: string;
  requestPath: string;
  resourceId: string | null;
  responseStatus: number | null;
  responseBody: unknown;
}

/**
 * Reserves `key` for this request and the resource it will create. When the key exists, returns
 * what was stored so the caller can replay it (same body) or refuse it (other body).
 */
export async function reserveIdempotencyKey(
  db: Queryable,
  r: {
    merchantId: string;
    livemode: boolean;
    key: string;
    method: string;
    path: string;
    requestHash: string;
    resourceId: string;
  },
): Promise<{ reserved: true } | { reserved: false; existing: IdempotencyRecord }> {
  const inserted = await db.query(
    `INSERT INTO idempotency_keys (merchant_id, livemode, key, request_method, request_path, request_hash,
                                   resource_id)
     VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (merchant_id, livemode, key) DO NOTHING`,
    [r.merchantId, r.livemode, r.key, r.method, r.path, r.requestHash, r.resourceId],
  );
  if (inserted.rowCount) return { reserved: true };
  return { reserved: false, existing: (await findIdempotencyKey(db, r, r.key))! };
}

/** The stored request and answer of a key, if it was used (keys are per merchant and mode). */
export async function findIdempotencyKey(
  db: Queryable,
  owner: { merchantId: string; livemode: boolean },
  key: string,
): Promise<IdempotencyRecord | undefined> {
  const { rows } = await db.query<{
    request_hash: string;
    request_path: string;
    resource_id: string | null;
    response_status: number | null;
    response_body: unknown;
  }>(
    'SELECT request_hash, request_path, resource_id, response_status, response_body FROM idempotency_keys WHERE merchant_id = $1 AND livemode = $2 AND key = $3',
    [owner.merchantId, owner.livemode, key],
  );
  const row = rows[0];
  return (
    row && {
      requestHash: row.request_hash,
      requestPath: row.request_path,
      resourceId: row.resource_id,
      responseStatus: row.response_status,
      responseBody: row.response_body,
    }
  );
}

export async function completeIdempotencyKey(
  db: Queryable,
  r: { merchantId: string; livemode: boolean; key: string; status: number; body: unknown },
): Promise<void> {
  await db.query(
    `UPDATE idempotency_keys SET response_status = $4, response_body = $5, completed_at = now()
      WHERE merchant_id = $1 AND livemode = $2 AND key = $3`,
    [r.merchantId, r.livemode, r.key, r.status, JSON.stringify(r.body)],
  );
}
