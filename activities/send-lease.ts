import { ApplicationFailure, Context } from '@temporalio/activity';
import { ApplicationFailureCategory } from '@temporalio/common';
import { acquireSendLease, releaseSendLease } from '../db/payments.js';
import type { Pool } from '../db/pool.js';
import { sendLeaseMs } from '../lib/timeouts.js';

/**
 * Runs one send of a payment to its operator under a database lease, so that two attempts of
 * the send activity never talk to the operator at once: a retry started while a timed-out
 * attempt may still be in flight fails (benign, retried on the backoff) until that attempt ends
 * or its lease runs out (the operator calls' worst case, plus a margin: a worker that died
 * mid-send holds it no longer than its calls could have lasted). DESIGN.md rule 2.
 */
export async function withSendLease<T>(
  pool: Pool,
  paymentId: string,
  worstCaseCallMs: number,
  send: () => Promise<T>,
): Promise<T> {
  const info = Context.current().info;
  const owner = `${info.workflowExecution?.runId ?? '-'}:${info.activityId}:${info.attempt}`;
  const forMs = sendLeaseMs(worstCaseCallMs);
  if (!(await acquireSendLease(pool, paymentId, owner, forMs))) {
    throw ApplicationFailure.create({
      type: 'SendInFlight',
      message: `an earlier attempt to send ${paymentId} may still be in flight`,
      category: ApplicationFailureCategory.BENIGN,
    });
  }
  try {
    return await send();
  } finally {
    await releaseSendLease(pool, paymentId, owner).catch(() => undefined);
  }
}
