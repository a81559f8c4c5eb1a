import { randomUUID } from 'node:crypto';
import { ApplicationFailure, Context } from '@temporalio/activity';
import { ApplicationFailureCategory } from '@temporalio/common';
import { circuitOf } from '../db/operator-health.js';
import { acquireSendLease, claimSend, releaseSendLease, type ClaimedSend } from '../db/payments.js';
import type { Pool } from '../db/pool.js';
import type { KeyRing } from '../lib/card-vault.js';
import { sendLeaseMs } from '../lib/timeouts.js';
import type { OperatorAdapters } from '../operators/registry.js';
import type { PacedLane } from '../db/operator-pacing.js';
import type { OperatorPacer } from './operator-pacing.js';

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
  leaseMs: number,
  send: () => Promise<T>,
): Promise<T> {
  const owner = leaseOwner();
  if (!(await acquireSendLease(pool, paymentId, owner, leaseMs))) throw sendInFlight(paymentId);
  try {
    return await send();
  } finally {
    await releaseSendLease(pool, paymentId, owner).catch(() => undefined);
  }
}

/** The send lease a withClaimedSend holds: a transition given `owner` gives it back (`givenBack`). */
export interface HeldLease {
  owner: string;
  /** Set once a transition gave the lease back (db/payments.ts `releaseLeaseOf`): no release after. */
  givenBack: boolean;
}

/**
 * withSendLease for a send that reads the payment, its OTP, its payer's number (both opened from
 * the vault) and its operator's circuit: taken and read in one statement (db/payments.ts
 * claimSend), the row read being the one under the lease. With `slot` (a local activity, which no
 * task queue paces), the same statement reserves the call's slot in its operator's lane, and the
 * send waits for it before it goes out. The transition that records the send's answer may give
 * the lease back itself, which saves the release's round trip.
 */
export async function withClaimedSend<T>(
  pool: Pool,
  vault: KeyRing,
  paymentId: string,
  leaseMs: Record<string, number>,
  send: (claimed: ClaimedSend, lease: HeldLease) => Promise<T>,
  pacing?: { slot: PacedLane; pacer: OperatorPacer },
): Promise<T> {
  const lease: HeldLease = { owner: leaseOwner(), givenBack: false };
  const claimed = await claimSend(pool, paymentId, lease.owner, leaseMs, vault, pacing?.slot);
  if (claimed === 'absent')
    throw ApplicationFailure.nonRetryable(`payment ${paymentId} not found`, 'PaymentNotFound');
  if (claimed === 'held') throw sendInFlight(paymentId);
  try {
    if (pacing) await pacing.pacer.waitForSlot(claimed.slotWaitMs);
    return await send(claimed, lease);
  } finally {
    if (!lease.givenBack) await releaseSendLease(pool, paymentId, lease.owner).catch(() => undefined);
  }
}

/** Each operator circuit's send lease (db/operator-health.ts circuitOf), for withClaimedSend. */
export function sendLeasesByCircuit(operators: OperatorAdapters, marginMs: number): Record<string, number> {
  const leases: Record<string, number> = {};
  for (const [livemode, adapters] of [
    [true, operators.live],
    [false, operators.test],
  ] as const) {
    for (const adapter of Object.values(adapters)) {
      leases[circuitOf(adapter.name, livemode)] = sendLeaseMs(adapter.worstCaseCallMs, marginMs);
    }
  }
  return leases;
}

/** This worker process, in the lease owners of its local activities (leaseOwner). */
const THIS_PROCESS = randomUUID().slice(0, 8);

/**
 * One activity attempt: a retry of the same attempt (after its worker died) is the same owner.
 * A local activity is run again with the same id and attempt by the next worker when its own
 * died or was cut off (its workflow task timed out): that is another owner, which waits for the
 * lease like any retry, since the first may still be talking to the operator.
 */
function leaseOwner(): string {
  const info = Context.current().info;
  const owner = `${info.workflowExecution?.runId ?? '-'}:${info.activityId}:${info.attempt}`;
  return info.isLocal ? `${owner}:${THIS_PROCESS}` : owner;
}

function sendInFlight(paymentId: string): ApplicationFailure {
  return ApplicationFailure.create({
    type: 'SendInFlight',
    message: `an earlier attempt to send ${paymentId} may still be in flight`,
    category: ApplicationFailureCategory.BENIGN,
  });
}
