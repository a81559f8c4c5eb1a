import type { DisbursementWorkflowInput } from '../lib/payment-workflows.js';
import { runDisbursement, type DisbursementOutcome } from './disbursement.js';

/** A payout to a customer's mobile money, from the merchant's balance. */
export async function payout(input: DisbursementWorkflowInput): Promise<DisbursementOutcome> {
  return runDisbursement(input);
}
