import {
  ParentClosePolicy,
  condition,
  executeChild,
  log,
  proxyActivities,
  setHandler,
  sleep,
} from '@temporalio/workflow';
import type { DisbursementActivities } from '../activities/disbursement-activities.js';
import type { TransferActivities } from '../activities/transfer-activities.js';
import type { TransferStatus } from '../db/transfers.js';
import type { PaymentFailure, PaymentStatus } from '../lib/payments.js';
import type { PayinOutcome } from './payin.js';
import type { DisbursementOutcome } from './payout.js';
import {
  ACTIVITY_OPTIONS,
  SA,
  initiationUpdate,
  legInitiatedSignal,
  transferStateQuery,
  workflowIdFor,
  type DisbursementWorkflowInput,
  type InitiationView,
  type TransferWorkflowInput,
} from './shared.js';

const { markTransfer, prepareDisbursement, cancelLeg, createTransferRefund, alertNeedsReview } =
  proxyActivities<TransferActivities>(ACTIVITY_OPTIONS);
const { resolveUnknownDisbursement } =
  proxyActivities<Pick<DisbursementActivities, 'resolveUnknownDisbursement'>>(ACTIVITY_OPTIONS);

export interface TransferOutcome {
  status: TransferStatus;
  failure?: PaymentFailure;
}

/**
 * A cross-operator transfer, the saga the engine exists for: collect from the sender (a payin,
 * as a child workflow), pay the recipient (a payout, child), and if the payout fails definitively
 * refund the sender through the collecting operator (a refund, child), retried on a durable
 * schedule, then left for review. An unknown payout is never compensated blindly: it is looked
 * up until it is settled. Money sent arrives, or comes back: never both, never neither.
 */
export async function transfer(input: TransferWorkflowInput): Promise<TransferOutcome> {
  const { transferId } = input;
  let collectionView: InitiationView | undefined = undefined;
  const state = {
    status: 'created' as string,
    collection: input.collection.paymentId,
    disbursement: input.disbursementPaymentId,
    refunds: [] as string[],
  };

  setHandler(initiationUpdate, async () => {
    await condition(() => collectionView !== undefined);
    return collectionView!;
  });
  setHandler(legInitiatedSignal, (view) => {
    collectionView ??= view;
  });
  setHandler(transferStateQuery, () => state);

  let step = 0;
  const mark = async (
    to: TransferStatus,
    reason: string,
    failure?: PaymentFailure,
  ): Promise<TransferOutcome> => {
    state.status = await markTransfer({ transferId, step: `${++step}:${to}`, to, reason, failure });
    return { status: to, failure };
  };
  const leg = (kind: 'payin' | 'payout' | 'refund', paymentId: string, amount: number, operator: string) => ({
    workflowId: workflowIdFor(kind, paymentId),
    parentClosePolicy: ParentClosePolicy.ABANDON,
    typedSearchAttributes: [
      { key: SA.paymentId, value: paymentId },
      { key: SA.merchantId, value: input.merchantId },
      { key: SA.kind, value: kind },
      { key: SA.operator, value: operator },
      { key: SA.status, value: 'created' },
      { key: SA.amount, value: amount },
      { key: SA.transferId, value: transferId },
    ],
  });

  // 1. Collect from the sender.
  await mark('collecting', 'collection started');
  const c = input.collection;
  const collected = await executeChild<(i: typeof c) => Promise<PayinOutcome>>('payin', {
    args: [c],
    ...leg('payin', c.paymentId, c.amount, c.operator),
  });
  collectionView ??= { status: collected.status, nextAction: { type: 'none' }, failure: collected.failure };
  if (collected.status !== 'succeeded') {
    await cancelLeg(input.disbursementPaymentId, `collection ended ${collected.status}`);
    if (collected.status === 'unknown') {
      await alertNeedsReview(transferId, 'collection outcome unknown');
      return mark('needs_review', 'the collection outcome is unknown', collected.failure);
    }
    return mark(
      'failed',
      `collection ${collected.status}: nothing was paid out`,
      collected.failure ?? { code: 'collection_failed', message: `Collection ${collected.status}` },
    );
  }

  // 2. Pay the recipient.
  await mark('disbursing', 'collected; paying the recipient');
  const payoutInput = await prepareDisbursement(input.disbursementPaymentId);
  let paid = await runLeg('payout', payoutInput);
  if (paid === 'unknown') {
    await mark('awaiting_resolution', 'payout outcome unknown: looking it up before deciding');
    paid = await resolveLeg(input.disbursementPaymentId, input);
    if (paid === 'unknown') {
      await alertNeedsReview(transferId, 'payout outcome still unknown');
      return mark('needs_review', 'the payout outcome could not be established', {
        code: 'payout_outcome_unknown',
        message: 'The payout may or may not have been executed; the money stays in transit until reviewed',
      });
    }
  }
  if (paid === 'succeeded') return mark('completed', 'the recipient was paid');

  // 3. Compensate: refund the sender, retrying on a durable schedule.
  await mark('refunding', 'payout failed definitively; refunding the sender');
  const attempts = input.refundRetrySeconds.length + 1;
  for (let attempt = 1; attempt <= attempts; attempt++) {
    const refundInput = await createTransferRefund(transferId, attempt);
    state.refunds.push(refundInput.paymentId);
    let refunded = await runLeg('refund', refundInput);
    if (refunded === 'unknown') refunded = await resolveLeg(refundInput.paymentId, input);
    if (refunded === 'succeeded') return mark('refunded', `the sender was refunded (attempt ${attempt})`);
    if (refunded === 'unknown') break;
    if (attempt < attempts) await sleep(`${input.refundRetrySeconds[attempt - 1]} seconds`);
  }
  await alertNeedsReview(transferId, 'refund of the sender failed on every attempt');
  return mark('needs_review', 'the sender could not be refunded', {
    code: 'refund_failed',
    message:
      'The payout failed and every refund of the sender failed; the money stays in transit until reviewed',
  });

  async function runLeg(
    kind: 'payout' | 'refund',
    legInput: DisbursementWorkflowInput,
  ): Promise<PaymentStatus> {
    const outcome = await executeChild<(i: DisbursementWorkflowInput) => Promise<DisbursementOutcome>>(kind, {
      args: [legInput],
      ...leg(kind, legInput.paymentId, legInput.amount, legInput.operator),
    });
    log.info('transfer leg ended', {
      transferId,
      kind,
      paymentId: legInput.paymentId,
      status: outcome.status,
    });
    return outcome.status;
  }
}

/** Looks a leg of unknown outcome up until it is settled, or for at most `maxWaitSeconds`. */
async function resolveLeg(paymentId: string, input: TransferWorkflowInput): Promise<PaymentStatus> {
  const until = Date.now() + input.resolution.maxWaitSeconds * 1000;
  for (;;) {
    const status = await resolveUnknownDisbursement(paymentId);
    if (status === 'succeeded' || status === 'failed') return status;
    if (Date.now() >= until) return 'unknown';
    await sleep(`${input.resolution.everySeconds} seconds`);
  }
}
