/**
 * Our payment vocabulary, shared by the API, the workflows and the adapters. Pure: no I/O, so
 * workflow code may import it.
 */
export const PAYMENT_STATUSES = [
  'created',
  'pending',
  'action_required',
  'succeeded',
  'failed',
  'expired',
  'cancelled',
  'unknown',
  'refunded',
  'partially_refunded',
] as const;
export type PaymentStatus = (typeof PAYMENT_STATUSES)[number];

/** What an operator can tell us about one of its transactions, in our words. */
export type OperatorStatus =
  'pending' | 'action_required' | 'succeeded' | 'failed' | 'expired' | 'cancelled' | 'unknown';

/** An operator's answer that ends the wait: the payer paid, or definitely did not. */
export function isDefiniteOperatorStatus(status: OperatorStatus | undefined): boolean {
  return status === 'succeeded' || status === 'failed' || status === 'expired' || status === 'cancelled';
}

export type PaymentKind = 'payin' | 'payout' | 'refund';

/** States a payment never leaves by itself (refunds of a payin are the only way on). */
export const FINAL_STATUSES: ReadonlySet<PaymentStatus> = new Set([
  'succeeded',
  'failed',
  'expired',
  'cancelled',
  'refunded',
  'partially_refunded',
]);

export function isFinal(status: PaymentStatus): boolean {
  return FINAL_STATUSES.has(status);
}

/** Allowed transitions of a payin; anything else is a bug or a forged message and is refused. */
const PAYIN_TRANSITIONS: Record<PaymentStatus, readonly PaymentStatus[]> = {
  created: ['pending', 'action_required', 'succeeded', 'failed', 'expired', 'cancelled', 'unknown'],
  pending: ['action_required', 'succeeded', 'failed', 'expired', 'cancelled', 'unknown'],
  action_required: ['pending', 'succeeded', 'failed', 'expired', 'cancelled', 'unknown'],
  // `unknown` is settled by a later status check or by reconciliation.
  unknown: ['succeeded', 'failed', 'expired', 'cancelled'],
  succeeded: ['partially_refunded', 'refunded'],
  partially_refunded: ['partially_refunded', 'refunded'],
  // Only reconciliation takes these: an operator reports paid what we had ended (late success,
  // DESIGN.md rule 5). The workflows never ask for them.
  failed: ['succeeded'],
  expired: ['succeeded'],
  cancelled: ['succeeded'],
  refunded: [],
};

/**
 * Payouts and refunds: a failed one has had its hold released, so it never turns into a success
 * by itself (a late execution is a discrepancy for a person, not a capture); a success is final.
 */
const DISBURSEMENT_TRANSITIONS: Record<PaymentStatus, readonly PaymentStatus[]> = {
  // `cancelled`: a transfer's payout leg whose collection failed is never started.
  created: ['pending', 'failed', 'unknown', 'cancelled'],
  pending: ['succeeded', 'failed', 'unknown'],
  action_required: [],
  unknown: ['succeeded', 'failed'],
  succeeded: [],
  partially_refunded: [],
  failed: [],
  expired: [],
  cancelled: [],
  refunded: [],
};

export function canTransition(from: PaymentStatus, to: PaymentStatus, kind: PaymentKind = 'payin'): boolean {
  return (kind === 'payin' ? PAYIN_TRANSITIONS : DISBURSEMENT_TRANSITIONS)[from].includes(to);
}

/** What the customer must do next, handed to the merchant when the payin is created. */
export type NextAction =
  | { type: 'redirect'; url: string }
  /**
   * The payer's browser must POST these fields to `url` (TMoney's order form); `redirect_url` is
   * our page that does it for the payer (auto-submitting form).
   */
  | {
      type: 'form_post';
      url: string;
      fields: Record<string, string>;
      redirect_url: string;
      /**
       * The field that carries the payer's number, left out of `fields`: the number is in the
       * vault alone (docs/cards.md), and our page that posts the form adds it.
       */
      payer_number_field?: string;
    }
  | { type: 'approve_on_phone'; message: string }
  | { type: 'wait'; message: string }
  | { type: 'none' };

export type PayinMode = 'redirect' | 'direct';

/**
 * How a payout reaches the recipient: `mobile_money` to any mobile money number; `wallet` and
 * `wallet_to_mobile_money` through the recipient's operator wallet (LigdiCash account).
 */
export const PAYOUT_METHODS = ['mobile_money', 'wallet', 'wallet_to_mobile_money'] as const;
export type PayoutMethod = (typeof PAYOUT_METHODS)[number];

/** A failure in our words, with the operator's own words beside it. */
export interface PaymentFailure {
  code: string;
  message: string;
}

/** Payment ids are `pay_` + 24 lowercase base32 characters; workflow ids derive from them. */
export const PAYMENT_ID_PATTERN = /^pay_[a-z2-7]{24}$/;

/** Languages a payer's pages may be shown in (TMoney's page offers these two: "fr", "en"). */
export const PAYER_LANGUAGES = ['fr', 'en'] as const;
export type PayerLanguage = (typeof PAYER_LANGUAGES)[number];

/** The fields a form_post next action posts, with the payer's number (opened from the vault) where it goes. */
export function formPostFields(
  action: Extract<NextAction, { type: 'form_post' }>,
  payerNumber: string | undefined,
): Record<string, string> {
  return action.payer_number_field && payerNumber
    ? { ...action.fields, [action.payer_number_field]: payerNumber }
    : action.fields;
}
