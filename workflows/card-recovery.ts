import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import { ParentClosePolicy, proxyActivities, startChild, workflowInfo } from '@temporalio/workflow';
import type { CardActivities } from '../activities/card-activities.js';
import type { ProcessorCardActivities } from '../activities/processor-card-activities.js';
import type { ReconciliationActivities } from '../activities/reconciliation/index.js';
import { reconciliationQueue } from '../lib/task-queues.js';
import { cardRefund } from './card-refund.js';
import { ACTIVITY_OPTIONS } from './shared.js';

/**
 * A card payin whose workflow ended before the payin did (terminated from the UI, timed out, a
 * bug): its card rail may still hold the payer's funds, authorised and never captured. The card
 * sweep (below) finds it once its deadline has passed and starts this workflow, which settles it
 * from what the rail holds (docs/cards.md, "A card payin whose workflow is gone"):
 *
 * - captured already (or its capture under way at the switch): credited, as the payin would have been;
 * - authorised, not captured: reversed at the switch (repeated until acknowledged) or voided at
 *   the processor, and the payin fails: the payer is not charged for an order left behind;
 * - declined, or nothing held: the payin fails.
 */
const gim = proxyActivities<CardActivities>(ACTIVITY_OPTIONS);
const gimUntilAcknowledged = proxyActivities<CardActivities>({
  ...ACTIVITY_OPTIONS,
  retry: { initialInterval: '2 seconds', backoffCoefficient: 2, maximumInterval: '1 minute' },
});
const processor = proxyActivities<ProcessorCardActivities>(ACTIVITY_OPTIONS);
const processorUntilAcknowledged = proxyActivities<ProcessorCardActivities>({
  ...ACTIVITY_OPTIONS,
  retry: { initialInterval: '2 seconds', backoffCoefficient: 2, maximumInterval: '1 minute' },
});

export interface CardRecoveryInput {
  paymentId: string;
  rail: 'gim' | 'processor';
}

export async function cardRecovery(input: CardRecoveryInput): Promise<string> {
  const id = input.paymentId;
  if (input.rail === 'gim') {
    const plan = await gim.planCardRecovery(id);
    switch (plan.action) {
      case 'capture': {
        const { code } = await gimUntilAcknowledged.captureCard(id);
        if (code !== '00') {
          await gim.recordCardPayinResult(id, { result: 'capture_refused', code });
          return `capture_refused_${code}`;
        }
        await gim.recordCardPayinResult(id, { result: 'approved' });
        return 'captured';
      }
      case 'declined':
        await gim.recordCardPayinResult(id, { result: 'declined', failure: plan.failure });
        return 'declined';
      case 'reverse':
        await gimUntilAcknowledged.reverseCard(id);
        await gim.recordCardPayinResult(id, { result: 'reversed' });
        return 'reversed';
    }
  }
  const plan = await processor.planProcessorRecovery(id);
  switch (plan.action) {
    case 'credit':
      await processor.recordProcessorPayinResult(id, { result: 'approved' });
      return 'captured';
    case 'declined':
      await processor.recordProcessorPayinResult(id, {
        result: 'declined',
        responseCode: plan.responseCode,
        ...(plan.declineReason ? { declineReason: plan.declineReason } : {}),
      });
      return 'declined';
    case 'void': {
      // Captured meanwhile (a capture still in flight when its workflow ended): credited.
      const voided = await processorUntilAcknowledged.voidAtProcessor(id);
      if (voided.outcome === 'captured') {
        await processor.recordProcessorPayinResult(id, { result: 'approved' });
        return 'captured';
      }
      await processor.recordProcessorPayinResult(id, { result: 'abandoned' });
      return 'voided';
    }
    case 'nothing_held':
      await processor.recordProcessorPayinResult(id, { result: 'abandoned' });
      return 'abandoned';
  }
}

const sweepActivities = () =>
  proxyActivities<ReconciliationActivities>({
    taskQueue: reconciliationQueue(workflowInfo().taskQueue),
    startToCloseTimeout: '5 minutes',
    retry: {
      initialInterval: '10 seconds',
      backoffCoefficient: 2,
      maximumInterval: '1 minute',
      maximumAttempts: 5,
    },
  });

/**
 * Every few minutes (the `sweep-cards` schedule): the card payins open past their deadline whose
 * workflow no longer runs, each handed to its own `cardRecovery` (one per payin, ever; it
 * outlives the sweep); a card refund in that state gets its own `cardRefund` workflow again.
 */
export async function cardSweep(_input: { triggeredBy?: string } = {}): Promise<{ recoveries: number }> {
  const stalled = await sweepActivities().listStalledCardPayments();
  let recoveries = 0;
  for (const s of stalled) {
    try {
      if (s.kind === 'refund') {
        // A refund the merchant asked for is finished, not undone: its own workflow runs again
        // (the hold is taken once; a message is sent again under the identity it recorded, which
        // the rail recognises).
        await startChild(cardRefund, {
          workflowId: s.workflowId,
          args: [{ paymentId: s.paymentId, rail: s.rail }],
          parentClosePolicy: ParentClosePolicy.ABANDON,
          workflowIdReusePolicy: 'ALLOW_DUPLICATE',
        });
      } else {
        await startChild(cardRecovery, {
          workflowId: `card-recovery-${s.paymentId}`,
          args: [{ paymentId: s.paymentId, rail: s.rail }],
          parentClosePolicy: ParentClosePolicy.ABANDON,
          // Once per payin; again only after a recovery that failed (or was terminated).
          workflowIdReusePolicy: 'ALLOW_DUPLICATE_FAILED_ONLY',
        });
      }
      recoveries++;
    } catch (err) {
      // Running or done (an earlier sweep started it): one recovery per payin.
      if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
    }
  }
  return { recoveries };
}
