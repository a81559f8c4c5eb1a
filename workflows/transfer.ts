import {
  CancellationScope,
  ChildWorkflowCancellationType,
  ParentClosePolicy,
  condition,
  executeChild,
  isCancellation,
  log,
  patched,
  proxyActivities,
  setHandler,
  sleep,
  workflowInfo,
} from '@temporalio/workflow';
import type { DisbursementActivities } from '../activities/disbursement-activities.js';
import type { TransferActivities } from '../activities/transfer-activities.js';
import type { TransferStatus } from '../db/transfers.js';
import { operatorPollingQueue } from '../lib/task-queues.js';
import type { PaymentFailure, PaymentStatus } from '../lib/payments.js';
import { payin } from './payin.js';
import { payout } from './payout.js';
import { refund } from './refund.js';
import { mirror } from './search.js';
import {
  ACTIVITY_OPTIONS,
  ACTIVITY_TIMEOUTS,
  initiationUpdate,
  legInitiatedSignal,
  transferStateQuery,
  type InitiationView,
} from './shared.js';
import {
  SA,
  paymentWorkflowStart,
  type DisbursementWorkflowInput,
  type TransferWorkflowInput,
} from '../lib/payment-workflows.js';

const { markTransfer, prepareDisbursement, cancelLeg, createTransferRefund, alertNeedsReview, legStatus } =
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
    // The Temporal UI shows the transfer's own status, as it does a payment's.
    if (patched('mirror-transfer-status')) mirror([{ key: SA.status, value: state.status }]);
    return { status: to, failure };
  };
  const leg = (kind: 'payin' | 'payout' | 'refund', paymentId: string, amount: number, operator: string) => ({
    ...paymentWorkflowStart({ kind, paymentId, merchantId: input.merchantId, operator, amount, transferId }),
    // A leg outlives its transfer: closing or cancelling the transfer never stops money in flight.
    parentClosePolicy: ParentClosePolicy.ABANDON,
    cancellationType: ChildWorkflowCancellationType.ABANDON,
  });

  try {
    return await saga();
  } catch (err) {
    if (!isCancellation(err)) throw err;
    // Cancelled from the UI or the API: the legs go on (ABANDON); the money's state is for a
    // person, recorded before the cancellation ends this workflow.
    await CancellationScope.nonCancellable(async () => {
      await alertNeedsReview(transferId, 'transfer workflow cancelled; its legs went on');
      await mark('needs_review', 'the transfer workflow was cancelled; its legs were left running', {
        code: 'transfer_cancelled',
        message: 'The transfer was cancelled while its legs ran; the money is reviewed by a person',
      });
    });
    throw err;
  }

  async function saga(): Promise<TransferOutcome> {
    // 1. Collect from the sender.
    await mark('collecting', 'collection started');
    const c = input.collection;
    let collected: PaymentStatus;
    let collectionFailure: PaymentFailure | undefined;
    try {
      const outcome = await executeChild(payin, {
        args: [c],
        ...leg('payin', c.paymentId, c.amount, c.operator),
      });
      collected = outcome.status;
      collectionFailure = outcome.failure;
    } catch (err) {
      if (isCancellation(err)) throw err;
      // The leg failed or was terminated: its row says how far the money went.
      log.warn('collection leg failed', { transferId, error: String(err) });
      collected = await legStatus(c.paymentId);
    }
    collectionView ??= { status: collected, nextAction: { type: 'none' }, failure: collectionFailure };
    if (collected !== 'succeeded') {
      await cancelLeg(input.disbursementPaymentId, `collection ended ${collected}`);
      if (!['failed', 'cancelled', 'expired'].includes(collected)) {
        await alertNeedsReview(transferId, `collection outcome ${collected}`);
        return mark('needs_review', `the collection outcome is ${collected}`, collectionFailure);
      }
      return mark(
        'failed',
        `collection ${collected}: nothing was paid out`,
        collectionFailure ?? { code: 'collection_failed', message: `Collection ${collected}` },
      );
    }

    // 2. Pay the recipient.
    await mark('disbursing', 'collected; paying the recipient');
    const payoutInput = await prepareDisbursement(input.disbursementPaymentId);
    let paid = await runLeg('payout', payoutInput);
    if (paid === 'unknown') {
      await mark('awaiting_resolution', 'payout outcome unknown: looking it up before deciding');
      paid = await resolveLeg(payoutInput, input);
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
      if (refunded === 'unknown') refunded = await resolveLeg(refundInput, input);
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
  }

  /**
   * Runs a payout or refund leg. A leg whose workflow fails or is terminated has an outcome
   * nobody decided: `unknown`, looked up before anything is decided on it (never compensated blindly).
   */
  async function runLeg(
    kind: 'payout' | 'refund',
    legInput: DisbursementWorkflowInput,
  ): Promise<PaymentStatus> {
    let status: PaymentStatus;
    try {
      const outcome = await executeChild(kind === 'payout' ? payout : refund, {
        args: [legInput],
        ...leg(kind, legInput.paymentId, legInput.amount, legInput.operator),
      });
      status = outcome.status;
    } catch (err) {
      if (isCancellation(err)) throw err;
      log.warn('transfer leg failed', {
        transferId,
        kind,
        paymentId: legInput.paymentId,
        error: String(err),
      });
      status = 'unknown';
    }
    log.info('transfer leg ended', { transferId, kind, paymentId: legInput.paymentId, status });
    return status;
  }
}

/**
 * Looks a leg of unknown outcome up until it is settled, or for at most `maxWaitSeconds`: as the
 * retries of one activity (no history event per look), so that a week of looks every five
 * minutes stays a few events instead of thousands (docs/transfers.md).
 */
async function resolveLeg(
  leg: { paymentId: string; operator: string },
  input: TransferWorkflowInput,
): Promise<PaymentStatus> {
  const { paymentId } = leg;
  if (patched('resolve-leg-by-activity-retries')) {
    try {
      return await proxyActivities<Pick<DisbursementActivities, 'resolveUnknownDisbursementUntilSettled'>>({
        ...ACTIVITY_TIMEOUTS,
        // Each look asks the leg's operator: under its polling rate limit.
        taskQueue: operatorPollingQueue(workflowInfo().taskQueue, leg.operator),
        scheduleToCloseTimeout: `${input.resolution.maxWaitSeconds} seconds`,
        retry: {
          initialInterval: `${input.resolution.everySeconds} seconds`,
          backoffCoefficient: 1,
          maximumInterval: `${input.resolution.everySeconds} seconds`,
        },
      }).resolveUnknownDisbursementUntilSettled(paymentId);
    } catch (err) {
      if (isCancellation(err)) throw err;
      return 'unknown';
    }
  }
  // Histories recorded before the change replay with a timer per look.
  const until = Date.now() + input.resolution.maxWaitSeconds * 1000;
  for (;;) {
    const status = await resolveUnknownDisbursement(paymentId);
    if (status === 'succeeded' || status === 'failed') return status;
    if (Date.now() >= until) return 'unknown';
    await sleep(`${input.resolution.everySeconds} seconds`);
  }
}
