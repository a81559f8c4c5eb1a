import type { Queryable } from './pool.js';

/**
 * The circuit an operator's health is counted in, per mode: failures at the sandbox (a test key's
 * scenario numbers fail on purpose) never mark the live operator down, nor the reverse.
 */
export function circuitOf(operator: string, livemode: boolean): string {
  return livemode ? operator : `${operator}:test`;
}

/** Whether the operator's circuit is open (too many recent operator-side failures). */
export async function isOperatorDown(db: Queryable, operator: string): Promise<boolean> {
  const { rows } = await db.query<{ down: boolean }>(
    'SELECT open_until IS NOT NULL AND open_until > now() AS down FROM operator_health WHERE operator = $1',
    [operator],
  );
  return rows[0]?.down ?? false;
}

/** Operators among `operators` whose circuit of the given mode is open now. */
export async function operatorsDown(
  db: Queryable,
  operators: string[],
  livemode: boolean,
): Promise<Set<string>> {
  const { rows } = await db.query<{ operator: string }>(
    'SELECT operator FROM operator_health WHERE operator = ANY($1::text[]) AND open_until > now()',
    [operators.map((o) => circuitOf(o, livemode))],
  );
  const down = new Set(rows.map((r) => r.operator));
  return new Set(operators.filter((o) => down.has(circuitOf(o, livemode))));
}

/**
 * Counts an operator-side failure (nothing answered, 5xx, a refusal about the operator itself) or
 * a success (which closes the circuit). `threshold` failures in a row open it for `cooldownSeconds`.
 */
export async function recordOperatorOutcome(
  db: Queryable,
  o: { operator: string; ok: boolean; detail?: string; threshold: number; cooldownSeconds: number },
): Promise<void> {
  if (o.ok) {
    // A healthy operator's row is left alone (an absent row is a closed circuit): every payin of
    // every merchant answers here, and a write each would queue them all on one row lock.
    await db.query(
      `UPDATE operator_health SET consecutive_failures = 0, open_until = NULL, updated_at = now()
        WHERE operator = $1 AND (consecutive_failures <> 0 OR open_until IS NOT NULL)`,
      [o.operator],
    );
    return;
  }
  await db.query(
    `INSERT INTO operator_health (operator, consecutive_failures, last_failure, open_until)
     VALUES ($1, 1, $2, CASE WHEN 1 >= $3 THEN now() + make_interval(secs => $4) END)
     ON CONFLICT (operator) DO UPDATE SET
       consecutive_failures = operator_health.consecutive_failures + 1,
       last_failure = EXCLUDED.last_failure,
       open_until = CASE WHEN operator_health.consecutive_failures + 1 >= $3
                         THEN now() + make_interval(secs => $4) ELSE operator_health.open_until END,
       updated_at = now()`,
    [o.operator, o.detail ?? null, o.threshold, o.cooldownSeconds],
  );
}

export interface OperatorHealth {
  operator: string;
  consecutiveFailures: number;
  openUntil: Date | null;
  lastFailure: string | null;
}

export async function listOperatorHealth(db: Queryable): Promise<OperatorHealth[]> {
  const { rows } = await db.query<{
    operator: string;
    consecutive_failures: number;
    open_until: Date | null;
    last_failure: string | null;
  }>(
    'SELECT operator, consecutive_failures, open_until, last_failure FROM operator_health ORDER BY operator',
  );
  return rows.map((r) => ({
    operator: r.operator,
    consecutiveFailures: r.consecutive_failures,
    openUntil: r.open_until,
    lastFailure: r.last_failure,
  }));
}
