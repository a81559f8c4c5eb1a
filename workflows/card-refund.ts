import { proxyActivities } from '@temporalio/workflow';
import type { CardActivities } from '../activities/card-activities.js';
import type { DisbursementActivities } from '../activities/disbursement-activities.js';
import type { ProcessorCardActivities } from '../activities/processor-card-activities.js';
import type { PaymentFailure } from '../lib/payments.js';
import { ACTIVITY_OPTIONS } from './shared.js';

const { holdFunds, settleDisbursement } = proxyActivities<DisbursementActivities>(ACTIVITY_OPTIONS);
const { refundCard } = proxyActivities<CardActivities>(ACTIVITY_OPTIONS);
// Repeated until the rail answers definitely: a reversal until acknowledged, a processor refund
// under its Idempotency-Key until the processor says what became of it.
const untilAnswered = { initialInterval: '2 seconds', backoffCoefficient: 2, maximumInterval: '1 minute' };
const { reverseCard } = proxyActivities<CardActivities>({ ...ACTIVITY_OPTIONS, retry: untilAnswered });
const { refundAtProcessor } = proxyActivities<ProcessorCardActivities>({
  ...ACTIVITY_OPTIONS,
  retry: untilAnswered,
});

export interface CardRefundInput {
  paymentId: string;
  rail: 'gim' | 'processor';
}

/**
 * A refund of a card payin, back to the same card (docs/cards.md): the merchant's balance held,
 * the refund sent on the payin's rail, then the hold captured (refunded) or released (failed).
 * On GIM-UEMOA a refund whose answer never comes is reversed until the switch acknowledges, then
 * failed: the card is never credited without our knowing it.
 */
export async function cardRefund(input: CardRefundInput): Promise<string> {
  const id = input.paymentId;
  const held = await holdFunds(id);
  if (held.status !== 'pending') return held.status;
  const end = (to: 'succeeded' | 'failed', reason: string, failure?: PaymentFailure) =>
    settleDisbursement({
      paymentId: id,
      step: 'final',
      to,
      actor: 'workflow',
      reason,
      ...(failure ? { failure } : {}),
    });
  if (input.rail === 'processor') {
    const result = await refundAtProcessor(id);
    if (result.outcome === 'succeeded') return end('succeeded', 'card refund accepted by the processor');
    return end('failed', 'the processor declined the card refund', result.failure);
  }
  const result = await refundCard(id);
  if (result.outcome === 'approved') return end('succeeded', 'card refund approved by GIM-UEMOA');
  if (result.outcome === 'declined')
    return end('failed', 'GIM-UEMOA declined the card refund', result.failure);
  await reverseCard(id, '0200');
  return end('failed', 'card refund unanswered, reversed', {
    code: 'refund_reversed',
    message: 'GIM-UEMOA did not answer the refund in time: it was reversed, the card is not credited',
  });
}
