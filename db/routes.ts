import type { Queryable } from './pool.js';

/** The merchant's configured routes for a network and kind, or undefined (default table). */
export async function merchantRoutes(
  db: Queryable,
  merchantId: string,
  network: string,
  kind: 'payin' | 'payout',
): Promise<string[] | undefined> {
  const { rows } = await db.query<{ operators: string[] }>(
    'SELECT operators FROM merchant_routes WHERE merchant_id = $1 AND network = $2 AND kind = $3',
    [merchantId, network, kind],
  );
  return rows[0]?.operators;
}

export async function setMerchantRoutes(
  db: Queryable,
  r: { merchantId: string; network: string; kind: 'payin' | 'payout'; operators: string[] },
): Promise<void> {
  await db.query(
    `INSERT INTO merchant_routes (merchant_id, network, kind, operators) VALUES ($1, $2, $3, $4)
     ON CONFLICT (merchant_id, network, kind) DO UPDATE SET operators = EXCLUDED.operators, updated_at = now()`,
    [r.merchantId, r.network, r.kind, r.operators],
  );
}

export async function clearMerchantRoutes(
  db: Queryable,
  merchantId: string,
  network: string,
  kind: 'payin' | 'payout',
): Promise<void> {
  await db.query('DELETE FROM merchant_routes WHERE merchant_id = $1 AND network = $2 AND kind = $3', [
    merchantId,
    network,
    kind,
  ]);
}
