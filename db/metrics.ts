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

/** The outbox and webhooks at a glance: what an on-call engineer alerts on when it grows. */
export async function webhookBacklog(
  db: Queryable,
): Promise<{ unpublished: number; pending: number; undispatched: number; disabledEndpoints: number }> {
  const { rows } = await db.query<{
    unpublished: number;
    pending: number;
    undispatched: number;
    disabled: number;
  }>(
    `SELECT (SELECT count(*) FROM events WHERE position IS NULL)::int AS unpublished,
            (SELECT count(*) FROM webhook_deliveries WHERE status = 'pending')::int AS pending,
            (SELECT count(*) FROM webhook_deliveries WHERE dispatched_at IS NULL)::int AS undispatched,
            (SELECT count(*) FROM webhook_endpoints WHERE NOT enabled AND deleted_at IS NULL)::int AS disabled`,
  );
  const r = rows[0]!;
  return {
    unpublished: r.unpublished,
    pending: r.pending,
    undispatched: r.undispatched,
    disabledEndpoints: r.disabled,
  };
}
