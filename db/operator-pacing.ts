import type { Queryable } from './pool.js';

/** The two shares of an operator's rate limit (the operator table's `rateLimit`). */
export type OperatorLane = 'sends' | 'polls';

/** A lane's pacing row and the spacing of its calls: what a statement reserving a slot needs. */
export interface PacedLane {
  /** The pacing row: every worker's calls of that operator's lane share it. */
  lane: string;
  /** Calls of the lane go out this far apart at the fastest (1000 / calls per second). */
  intervalMs: number;
}

/** The pacing row of an operator's lane. */
export function laneOf(operator: string, lane: OperatorLane): string {
  return `${operator}:${lane}`;
}

/**
 * A common table expression, `slot`, that reserves the next slot of the lane named by parameter
 * `$<laneParam>` (calls `$<intervalParam>` ms apart) and yields `wait_ms`, how long to wait for
 * it (0 when the lane is idle). One row locked for the statement, timed by the database's clock:
 * calls from any number of workers are spaced by the interval. A reservation whose call is never
 * made (its worker died, or its statement found nothing to send) only leaves its slot unused.
 * Statements that need the payment anyway start with it (db/payments.ts), saving a round trip.
 */
export function reserveSlotCte(laneParam: number, intervalParam: number): string {
  const interval = `$${intervalParam}::double precision * interval '1 millisecond'`;
  return `slot AS (
       INSERT INTO operator_call_pacing AS p (lane, next_slot_at)
            VALUES ($${laneParam}, clock_timestamp() + ${interval})
       ON CONFLICT (lane) DO UPDATE
            SET next_slot_at = GREATEST(p.next_slot_at + ${interval}, EXCLUDED.next_slot_at)
       RETURNING GREATEST(0, EXTRACT(EPOCH FROM p.next_slot_at - clock_timestamp()) * 1000
                             - $${intervalParam}::double precision)::float8 AS wait_ms)`;
}

/** Reserves the next slot of a lane on its own, and answers how long to wait for it. */
export async function reserveOperatorSlot(db: Queryable, lane: string, intervalMs: number): Promise<number> {
  const { rows } = await db.query<{ wait_ms: number }>(
    `WITH ${reserveSlotCte(1, 2)} SELECT wait_ms FROM slot`,
    [lane, intervalMs],
  );
  return rows[0]!.wait_ms;
}
