import type { PaymentFailure } from './payments.js';

/** What an operator said about a transaction's amount (pure: workflow code imports it). */
export interface AmountStatement {
  /** The amount the operator states, in minor units. */
  amount?: number;
  /** The operator stated an amount we could not read ("1 000"): never taken as "no amount". */
  amountUnreadable?: string;
  /**
   * The transaction was registered by our own server-to-server request at our amount, and the
   * answer is about that registration: the operator holds it at our amount though it does not
   * repeat it (docs/payin-lifecycle.md, "Amounts").
   */
  amountFixedByRequest?: boolean;
}

/**
 * Whether a success states our amount (DESIGN.md rule 9): an amount we cannot confirm never
 * credits. Returns the reason it does not, or undefined when it does.
 */
export function unconfirmedAmount(
  obs: AmountStatement,
  expectedAmount: number,
): { status: 'unknown'; reason: string; failure: PaymentFailure } | undefined {
  if (obs.amountUnreadable !== undefined) {
    return {
      status: 'unknown',
      reason: `operator reports success with an amount we cannot read (${obs.amountUnreadable})`,
      failure: {
        code: 'amount_unreadable',
        message: `The operator states an amount we cannot read (${obs.amountUnreadable}); left for review`,
      },
    };
  }
  if (obs.amount !== undefined && obs.amount !== expectedAmount) {
    return {
      status: 'unknown',
      reason: `operator reports success for ${obs.amount}, expected ${expectedAmount}`,
      failure: {
        code: 'amount_mismatch',
        message: `The operator reports ${obs.amount} paid instead of ${expectedAmount}; left for review`,
      },
    };
  }
  if (obs.amount === undefined && !obs.amountFixedByRequest) {
    return {
      status: 'unknown',
      reason: 'operator reports success without stating the amount paid',
      failure: {
        code: 'amount_unconfirmed',
        message:
          'The operator confirms a payment but not its amount; it is credited once its settlement report states our amount',
      },
    };
  }
  return undefined;
}
