import { settleSignalledCallbacks } from '../db/callbacks.js';
import type { Pool } from '../db/pool.js';
import type { weighCallbacks } from '../lib/payment-decisions.js';

/** Records the verdicts of callbacks weighed against a status answer (confirmed, then rejected). */
export async function settleWeighedCallbacks(
  pool: Pool,
  weighed: Pick<ReturnType<typeof weighCallbacks>, 'confirmed' | 'rejected'>,
): Promise<void> {
  await settleSignalledCallbacks(pool, weighed.confirmed, 'confirmed');
  await settleSignalledCallbacks(
    pool,
    weighed.rejected,
    'rejected',
    'not confirmed by the operator status API',
  );
}

/** The activities about operator callbacks that every payment workflow (payin, payout, refund) uses. */
export function createCallbackActivities(deps: { pool: Pool }) {
  /** Marks callbacks handed to a workflow as confirmed or contradicted by the operator's status API. */
  async function settleOperatorCallbacks(
    ids: number[],
    verdict: 'confirmed' | 'rejected',
    reason?: string,
  ): Promise<void> {
    await settleSignalledCallbacks(deps.pool, ids, verdict, reason);
  }
  return {
    settleOperatorCallbacks,
    /** Its former name, still scheduled by histories recorded before the rename (workflows/await-outcome.ts). */
    settleCallbacks: settleOperatorCallbacks,
  };
}

export type CallbackActivities = ReturnType<typeof createCallbackActivities>;
