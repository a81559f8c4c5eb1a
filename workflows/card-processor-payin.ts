import { condition, defineSignal, proxyActivities, setHandler } from '@temporalio/workflow';
import type { ProcessorCardActivities } from '../activities/processor-card-activities.js';
import { ACTIVITY_OPTIONS } from './shared.js';

/** The issuer's challenge ended (the processor's RReq, or the payer's browser back with the CRes): a hint. */
export const threeDSResultSignal = defineSignal('threeDSResult');

const { authenticateCard3ds, confirmAuthentication, authoriseAtProcessor, recordProcessorPayinResult } =
  proxyActivities<ProcessorCardActivities>(ACTIVITY_OPTIONS);
const { captureAtProcessor, voidAtProcessor } = proxyActivities<ProcessorCardActivities>({
  ...ACTIVITY_OPTIONS,
  // A capture or a void is repeated under its Idempotency-Key until the processor answers: no end.
  retry: { initialInterval: '2 seconds', backoffCoefficient: 2, maximumInterval: '1 minute' },
});

/** Between two looks at a challenge still open when no hint came (the RReq lost, the payer gone). */
const CHALLENGE_LOOK_MS = 30_000;

/**
 * A card payin through the Visa/Mastercard processor with EMV 3-D Secure 2 (docs/cards.md):
 * authenticate (frictionless Y/A, or the issuer's challenge, waited for until its deadline and
 * confirmed with the processor whatever the hints say; N/R/U fail), authorise with the
 * authentication's ECI and value, capture, then credit. A capture the processor declines voids the
 * authorisation, so the payer's funds are released, and the payin fails.
 */
export async function cardProcessorPayin(input: {
  paymentId: string;
  challengeSeconds: number;
}): Promise<string> {
  const id = input.paymentId;
  let hinted = false;
  setHandler(threeDSResultSignal, () => {
    hinted = true;
  });
  let result = await authenticateCard3ds(id);
  if (result.transStatus === 'C') {
    const until = Date.now() + input.challengeSeconds * 1000;
    while (result.transStatus === 'C' && Date.now() < until) {
      await condition(() => hinted, Math.min(CHALLENGE_LOOK_MS, Math.max(1, until - Date.now())));
      hinted = false;
      result = await confirmAuthentication(id);
    }
    if (result.transStatus === 'C') {
      await recordProcessorPayinResult(id, { result: 'challenge_abandoned' });
      return 'challenge_abandoned';
    }
  }
  if (result.transStatus !== 'Y' && result.transStatus !== 'A') {
    await recordProcessorPayinResult(id, {
      result: 'not_authenticated',
      transStatus: result.transStatus,
      ...(result.reason ? { reason: result.reason } : {}),
    });
    return `not_authenticated_${result.transStatus}`;
  }
  const authorisation = await authoriseAtProcessor(id);
  if (authorisation.outcome === 'declined') {
    await recordProcessorPayinResult(id, { result: 'declined', ...authorisation });
    return 'declined';
  }
  const capture = await captureAtProcessor(id);
  if (!capture.captured) {
    // Captured at the processor after all (the void refused): credited, never left uncredited.
    // Histories from before the void answered anything replay with no result: the void path.
    const voided = (await voidAtProcessor(id)) as { outcome: 'voided' | 'captured' } | undefined;
    if (voided?.outcome === 'captured') {
      await recordProcessorPayinResult(id, { result: 'approved' });
      return 'captured';
    }
    await recordProcessorPayinResult(id, {
      result: 'capture_declined',
      ...(capture.declineReason ? { declineReason: capture.declineReason } : {}),
    });
    return 'voided';
  }
  await recordProcessorPayinResult(id, { result: 'approved' });
  return 'captured';
}
