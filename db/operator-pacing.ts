import type { Queryable } from './pool.js';

/** The two shares of an operator's rate limit (the operator table's `rateLimit`). */
export type OperatorLane = 'sends' | 'polls';

/** The pacing row of an operator's lane: every worker's calls of that lane share it. */
export function laneOf(operator: string, lane: OperatorLane): string {
  return `${operator}:${lane}`;
}

/**
 * Reserves the next slot of a lane whose calls go out `intervalMs` apart at the fastest, and
 * answers how long to wait for it (0 when the lane is idle). One statement on one row, timed by
 * the database's clock: calls from any number of workers are spaced by the interval, so no
 * second holds more than the limit's calls. A reservation whose call is never made (its worker
 * died) only leaves its slot unused.
 */
export async function reserveOperatorSlot(db: Queryable, lane: string, intervalMs: number): Promise<number> {
  const { rows } = await db.query<{ wait_ms: number }>(
    `INSERT INTO operator_call_pacing AS p (lane, next_slot_at)
          VALUES ($1, clock_timestamp() + $2 * interval '1 millisecond')
     ON CONFLICT (lane) DO UPDATE
          SET next_slot_at = GREATEST(p.next_slot_at + $2 * interval '1 millisecond', EXCLUDED.next_slot_at)
     RETURNING GREATEST(0, EXTRACT(EPOCH FROM p.next_slot_at - clock_timestamp()) * 1000 - $2)::float8 AS wait_ms`,
    [lane, intervalMs],
  );
  return rows[0]!.wait_ms;
}
