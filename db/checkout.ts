import type { CountryCode } from '../lib/networks.js';
import type { PoolClient, Queryable } from './pool.js';

/*
 * The hosted checkout's records (docs/checkout.md): the page's token of a hosted payin, and its
 * attempts (payins whose `attempt_of` names it).
 */

/** The page token of a hosted payin: the one given, or the one it already has. */
export async function openCheckoutSession(
  client: PoolClient,
  s: { token: string; paymentId: string; country?: CountryCode },
): Promise<string> {
  const { rows } = await client.query<{ token: string }>(
    `INSERT INTO checkout_sessions (token, payment_id, country) VALUES ($1, $2, $3)
     ON CONFLICT (payment_id) DO UPDATE SET payment_id = EXCLUDED.payment_id
     RETURNING token`,
    [s.token, s.paymentId, s.country ?? null],
  );
  return rows[0]!.token;
}

export async function findCheckoutSession(
  db: Queryable,
  token: string,
): Promise<{ paymentId: string; country?: CountryCode } | undefined> {
  const { rows } = await db.query<{ payment_id: string; country: CountryCode | null }>(
    'SELECT payment_id, country FROM checkout_sessions WHERE token = $1',
    [token],
  );
  const row = rows[0];
  return row && { paymentId: row.payment_id, ...(row.country ? { country: row.country } : {}) };
}

/** Attempts of a hosted payin that have not ended. */
export async function countOpenAttempts(db: Queryable, intentId: string): Promise<number> {
  const { rows } = await db.query<{ open: number }>(
    `SELECT count(*)::int AS open FROM payments
      WHERE attempt_of = $1 AND status IN ('created', 'pending', 'action_required')`,
    [intentId],
  );
  return rows[0]!.open;
}

/**
 * Hosted payins still open past their deadline (and a minute's grace for their workflow to end
 * them): the sweep looks whether their workflow still runs.
 */
export async function listStalledHostedPayins(
  db: Queryable,
  q: { lookbackDays: number; limit: number },
): Promise<{ id: string; workflowId: string }[]> {
  const { rows } = await db.query<{ id: string; workflow_id: string }>(
    `SELECT id, workflow_id FROM payments
      WHERE kind = 'payin' AND mode = 'hosted' AND status = 'action_required'
        AND deadline_at < now() - interval '1 minute'
        AND created_at > now() - make_interval(days => $1)
      ORDER BY deadline_at LIMIT $2`,
    [q.lookbackDays, q.limit],
  );
  return rows.map((r) => ({ id: r.id, workflowId: r.workflow_id }));
}
