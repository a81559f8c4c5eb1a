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

/** Window of the "last hour" gauges: success rates and callback verdicts over it. */
const RECENT = "interval '1 hour'";

/**
 * Payments that reached a final status in the last hour, by kind, operator, status and mode: an
 * operator's success rate is its `succeeded` over the total (alert rules in deploy/prometheus).
 */
export async function recentOutcomes(
  db: Queryable,
): Promise<{ kind: string; operator: string; status: string; livemode: boolean; n: number }[]> {
  const { rows } = await db.query<{
    kind: string;
    operator: string;
    status: string;
    livemode: boolean;
    n: number;
  }>(
    `SELECT p.kind, p.operator, e.to_status AS status, p.livemode, count(*)::int AS n
       FROM payment_events e JOIN payments p ON p.id = e.payment_id
      WHERE e.created_at > now() - ${RECENT}
        AND e.to_status IN ('succeeded', 'failed', 'expired', 'cancelled', 'unknown')
      GROUP BY 1, 2, 3, 4`,
  );
  return rows;
}

/** Operator callbacks received in the last hour, by operator and verdict (`rejected`: forged or broken). */
export async function recentCallbacks(
  db: Queryable,
): Promise<{ operator: string; verdict: string; n: number }[]> {
  const { rows } = await db.query<{ operator: string; verdict: string; n: number }>(
    `SELECT operator, verdict, count(*)::int AS n FROM operator_callbacks
      WHERE received_at > now() - ${RECENT} GROUP BY 1, 2`,
  );
  return rows;
}

/** Reconciliation: discrepancies waiting for a person, and each operator's last run of each kind. */
export async function reconciliationState(db: Queryable): Promise<{
  open: { operator: string; class: string; n: number }[];
  lastRuns: { operator: string; kind: string; status: string; finishedAt: Date | null; startedAt: Date }[];
}> {
  const [open, runs] = await Promise.all([
    db.query<{ operator: string; class: string; n: number }>(
      `SELECT operator, class, count(*)::int AS n FROM reconciliation_discrepancies
        WHERE resolution = 'open' GROUP BY 1, 2`,
    ),
    db.query<{ operator: string; kind: string; status: string; finished_at: Date | null; started_at: Date }>(
      `SELECT DISTINCT ON (operator, kind) operator, kind, status, finished_at, started_at
         FROM reconciliation_runs ORDER BY operator, kind, started_at DESC`,
    ),
  ]);
  return {
    open: open.rows,
    lastRuns: runs.rows.map((r) => ({
      operator: r.operator,
      kind: r.kind,
      status: r.status,
      finishedAt: r.finished_at,
      startedAt: r.started_at,
    })),
  };
}
