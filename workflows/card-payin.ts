import { proxyActivities } from '@temporalio/workflow';
import type { CardActivities } from '../activities/card-activities.js';
import { ACTIVITY_OPTIONS } from './shared.js';

/**
 * A card payin on GIM-UEMOA (docs/cards.md): authorise; approved, capture it by completion advice,
 * then record the success (a capture the switch refuses leaves the payin `unknown` for a person); declined, record the failure; unanswered, reverse it, as many times
 * as it takes for the switch to acknowledge, then record the failure. Each reversal and each
 * advice is one attempt of one activity (the retry policy repeats it, with no end): the workflow
 * survives any crash in between, and a late approval, which matches no request, captures nothing.
 */
const { authoriseCard, recordCardPayinResult } = proxyActivities<CardActivities>(ACTIVITY_OPTIONS);
const { reverseCard, captureCard } = proxyActivities<CardActivities>({
  ...ACTIVITY_OPTIONS,
  // Repeats of a reversal or an advice, until the switch acknowledges: no attempt limit.
  retry: { initialInterval: '2 seconds', backoffCoefficient: 2, maximumInterval: '1 minute' },
});

export async function cardPayin(input: { paymentId: string }): Promise<string> {
  const authorisation = await authoriseCard(input.paymentId);
  if (authorisation.outcome === 'approved') {
    // Captured first, credited after: the merchant is never credited for a charge the switch refused.
    const { code } = await captureCard(input.paymentId);
    if (code !== '00') {
      await recordCardPayinResult(input.paymentId, { result: 'capture_refused', code });
      return `capture_refused_${code}`;
    }
    await recordCardPayinResult(input.paymentId, { result: 'approved' });
    return 'captured';
  }
  if (authorisation.outcome === 'declined') {
    await recordCardPayinResult(input.paymentId, { result: 'declined', failure: authorisation.failure });
    return 'declined';
  }
  await reverseCard(input.paymentId);
  await recordCardPayinResult(input.paymentId, { result: 'reversed' });
  return 'reversed';
}
