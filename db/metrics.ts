import type { Queryable } from './pool.js';

/** Payment statuses an on-call engineer watches: what is still open or needs a person. */
export const WATCHED_STATUSES = ['created', 'pending', 'action_required', 'unknown'] as const;

/** Payments still open or of unknown outcome, by kind, status and operator (a partial index serves it). */
export async function countWatchedPayments(
  db: Queryable,
): Promise<{ kind: string; status: string; operator: string; n: number }[]> {
  const { rows } = await db.query<{ kind: string; status: string; operator: string; n: number }>(
    `SELECT kind, status, operator, count(*)::int AS n FROM payments
      WHERE status = ANY($1::text[]) GROUP BY kind, status, operator`,
    [WATCHED_STATUSES],
  );
  return rows;
}

/** Transfers not finished, by status (`needs_review` is the one to alert on). */
export async function countOpenTransfers(db: Queryable): Promise<{ status: string; n: number }[]> {
  const { rows } = await db.query<{ status: string; n: number }>(
    `SELECT status, count(*)::int AS n FROM transfers
      WHERE status NOT IN ('completed', 'refunded', 'failed') GROUP BY status`,
  );
  return rows;
}
