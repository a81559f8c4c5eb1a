import type { DisbursementWorkflowInput } from '../lib/payment-workflows.js';
import { runDisbursement, type DisbursementOutcome } from './disbursement.js';

/**
 * A refund is a payout to the payer through the payin's operator, with its own hold on the
 * merchant's balance and the same never-twice rule; its success also moves the payin to
 * `partially_refunded` or `refunded` (in the same database transaction as the capture).
 */
export async function refund(input: DisbursementWorkflowInput): Promise<DisbursementOutcome> {
  return runDisbursement(input);
}
