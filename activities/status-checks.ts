import { ApplicationFailure } from '@temporalio/activity';
import { ApplicationFailureCategory } from '@temporalio/common';
import { isDefiniteOperatorStatus } from '../lib/payments.js';
import type { StatusReport } from '../operators/types.js';

/**
 * What a status check of a payin, payout or refund tells the workflow: the operator's answer
 * without its raw body, or that it could not be reached.
 */
export type StatusCheck =
  Extract<StatusReport, { reachable: false }> | Omit<Extract<StatusReport, { reachable: true }>, 'raw'>;

/**
 * The answer of a polling activity: the observation when the operator's answer is definite;
 * otherwise a benign failure, so that the server retries the activity on its backoff.
 */
export function definiteOrRetry(observation: StatusCheck): StatusCheck {
  if (observation.reachable && isDefiniteOperatorStatus(observation.status)) return observation;
  throw ApplicationFailure.create({
    type: 'StillOpen',
    message: observation.reachable
      ? `operator still says ${observation.operatorStatus ?? observation.status ?? 'nothing definite'}`
      : observation.detail,
    category: ApplicationFailureCategory.BENIGN,
  });
}

/**
 * What goes into a workflow history is scrubbed of URLs: an operator's page URL carries its
 * invoice token, and a message may quote one. The payment record keeps them; the API reads them
 * from there (the history only needs to know what kind of action the payer has).
 */
export function scrubUrls(text: string): string {
  return text.replace(/https?:\/\/\S+/g, '[url]');
}
