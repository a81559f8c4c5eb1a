import { ApplicationFailure } from '@temporalio/activity';
import { ApplicationFailureCategory } from '@temporalio/common';
import type { CallbackHint } from '../lib/payment-decisions.js';
import { isDefiniteOperatorStatus, type PaymentFailure, type PaymentStatus } from '../lib/payments.js';
import type { StatusReport } from '../operators/types.js';

/**
 * What a status check of a payin, payout or refund tells the workflow: the operator's answer
 * without its raw body, or that it could not be reached.
 */
export type StatusCheck =
  Extract<StatusReport, { reachable: false }> | Omit<Extract<StatusReport, { reachable: true }>, 'raw'>;

/**
 * What an activity that learns a payment's outcome answers: what the operator said, the end it
 * recorded (with its ledger entry) when that answer was definite, and the callback hints it could
 * not weigh because the operator did not answer. One activity asks, decides, records and settles
 * the callbacks, instead of three activities and three workflow tasks.
 */
export interface Confirmation {
  observation: StatusCheck;
  /** The payment's end as recorded; absent while the operator's answer is not definite. */
  ended?: { status: PaymentStatus; failure?: PaymentFailure };
  undecided: CallbackHint[];
}

/** A confirmation that ended the payment (at the deadline, every confirmation does). */
export type Ending = Confirmation & { ended: NonNullable<Confirmation['ended']> };

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
