import type { Network } from '../../lib/networks.js';
import type { OperatorStatus, PaymentFailure } from '../../lib/payments.js';

/**
 * LigdiCash's words mapped to ours. Kept as tables so that each case is read and tested alone.
 */

/** Error sub-codes carried in `response_text` as "Echec (CodeXX)"; pattern from operators-facts.md. */
const SUB_CODE = /Code\s*(\d{2,3}[a-z]?)/i;

export function parseSubCode(text: string | undefined): string | undefined {
  if (!text) return undefined;
  return SUB_CODE.exec(text)?.[1]?.toLowerCase();
}

/** Payin sub-codes, from the official JS SDK `src/wiki.ts` (operators-facts.md). */
export const PAYIN_SUB_CODES: Record<string, PaymentFailure> = {
  '00': { code: 'operator_authentication_failed', message: 'LigdiCash refused our API key or token' },
  '01': { code: 'operator_payin_disabled', message: 'Payins are disabled for this LigdiCash application' },
  '02': { code: 'invalid_amount', message: 'LigdiCash refused the amount' },
  '03': { code: 'operator_ip_denied', message: 'LigdiCash refused our source address' },
  '04': {
    code: 'operator_processing_failed',
    message: 'LigdiCash or the mobile operator could not process the payment',
  },
  '05': {
    code: 'operator_sending_failed',
    message: 'LigdiCash could not send the request to the mobile operator',
  },
  '06': {
    code: 'operator_sending_failed',
    message: 'LigdiCash could not send the request to the mobile operator',
  },
  '07': { code: 'network_not_configured', message: 'No LigdiCash configuration for this network' },
  '08': { code: 'invalid_request', message: 'LigdiCash refused the request fields' },
  '09': { code: 'operator_api_error', message: 'LigdiCash API error' },
  '10': { code: 'operator_hash_missing', message: 'LigdiCash expected a hash' },
  '11': { code: 'operator_hash_invalid', message: 'LigdiCash refused the hash' },
  '12': { code: 'operator_method_invalid', message: 'Payment method invalid at LigdiCash' },
  '13': {
    code: 'operator_method_not_allowed',
    message: 'Payment method not allowed for this LigdiCash application',
  },
};

/**
 * Payin refusals about LigdiCash itself (our credentials, its configuration, its link to the
 * mobile operator), as opposed to the payment (amount, input, the payer's authorisation): with
 * those, another route may still take the payin.
 */
const OPERATOR_SIDE_PAYIN_CODES = new Set(['00', '01', '03', '05', '06', '07', '09', '10', '11', '12', '13']);

export function isOperatorSidePayinCode(responseText: string | undefined): boolean {
  const sub = parseSubCode(responseText);
  return sub !== undefined && OPERATOR_SIDE_PAYIN_CODES.has(sub);
}

export function payinFailure(
  responseText: string | undefined,
  description: string | undefined,
): PaymentFailure {
  const sub = parseSubCode(responseText);
  const known = sub ? PAYIN_SUB_CODES[sub] : undefined;
  const words = [responseText, description].filter(Boolean).join(' — ');
  if (known) return { code: known.code, message: words ? `${known.message} (${words})` : known.message };
  return { code: 'operator_declined', message: words || 'LigdiCash declined the payment' };
}

/**
 * Payout sub-codes: the client and the merchant payout use the same numbers for different things
 * (official JS SDK `src/wiki.ts`, operators-facts.md), so they are two tables.
 */
export const CLIENT_PAYOUT_SUB_CODES: Record<string, PaymentFailure> = {
  '02': { code: 'recipient_unknown', message: 'The recipient has no LigdiCash account' },
  '03a': {
    code: 'recipient_payout_pending',
    message: 'A payout to this recipient is already pending (last 24 h)',
  },
  '03b': {
    code: 'recipient_no_recent_deposit',
    message: 'The recipient made no deposit in the last 3 months',
  },
  '04': { code: 'operator_balance_low', message: 'Our LigdiCash balance is too low for this payout' },
  '05': { code: 'amount_out_of_range', message: 'LigdiCash refused the amount' },
  '06': { code: 'operator_ip_denied', message: 'LigdiCash refused our source address' },
  '07': { code: 'duplicate_transaction', message: 'LigdiCash already has this transaction' },
};

export const MERCHANT_PAYOUT_SUB_CODES: Record<string, PaymentFailure> = {
  '02': { code: 'amount_out_of_range', message: 'LigdiCash refused the amount' },
  '04': {
    code: 'recipient_payout_pending',
    message: 'A payout to this recipient is already pending (last 24 h)',
  },
  '05': {
    code: 'recipient_network_unknown',
    message: "LigdiCash could not identify the recipient's operator",
  },
  '08': { code: 'operator_balance_low', message: 'Our LigdiCash balance is too low for this payout' },
  '13': { code: 'currency_conversion_not_allowed', message: 'LigdiCash refused the currency conversion' },
  '14': { code: 'operator_ip_denied', message: 'LigdiCash refused our source address' },
};

export function payoutFailure(
  client: boolean,
  responseText: string | undefined,
  description: string | undefined,
): PaymentFailure {
  const sub = parseSubCode(responseText);
  const known = sub ? (client ? CLIENT_PAYOUT_SUB_CODES : MERCHANT_PAYOUT_SUB_CODES)[sub] : undefined;
  const words = [responseText, description].filter(Boolean).join(' — ');
  if (known) return { code: known.code, message: words ? `${known.message} (${words})` : known.message };
  return { code: 'operator_declined', message: words || 'LigdiCash declined the payout' };
}

/**
 * Payout status word -> ours. The guide lists `pending` and `completed` only; any failure word
 * (`notcompleted`, `nocompleted`, `failed`, ...) ends the payout `failed`: a payout is not cancelled.
 */
export function mapPayoutStatus(
  status: string | undefined,
  client: boolean,
  responseText: string | undefined,
  description?: string,
): { status: OperatorStatus; failure?: PaymentFailure } {
  switch ((status ?? '').trim().toLowerCase()) {
    case 'completed':
      return { status: 'succeeded' };
    case 'pending':
      return { status: 'pending' };
    case 'notcompleted':
    case 'nocompleted':
    case 'failed':
    case 'cancelled':
    case 'canceled':
      return { status: 'failed', failure: payoutFailure(client, responseText, description) };
    default:
      return { status: 'unknown' };
  }
}

/**
 * `top_up_wallet` for a client payout. The complement says 0 leaves the money in the recipient's
 * LigdiCash wallet and 1 forwards it to their mobile money; operators-facts.md (from the SDKs)
 * says the opposite. We follow the document merchants were given; see docs/ligdicash.md.
 */
export function topUpWalletFlag(method: 'wallet' | 'wallet_to_mobile_money'): 0 | 1 {
  return method === 'wallet' ? 0 : 1;
}

/** LigdiCash's payout limits in XOF (guide §1.1.7, complement: "MIN 500"). */
export const PAYOUT_LIMITS = { min: 500, merchantMax: 1_000_000 } as const;

/**
 * Status word of `confirm` and callbacks -> ours. The guide defines `notcompleted` as "annulée"
 * (cancelled); the JS SDK spells it `nocompleted`. We read it as `failed` when LigdiCash gives an
 * error sub-code, and as `cancelled` when it gives none.
 */
export function mapPayinStatus(
  status: string | undefined,
  responseText: string | undefined,
  description?: string,
): { status: OperatorStatus; failure?: PaymentFailure } {
  switch ((status ?? '').trim().toLowerCase()) {
    case 'completed':
      return { status: 'succeeded' };
    case 'pending':
      return { status: 'pending' };
    case 'notcompleted':
    case 'nocompleted':
      return parseSubCode(responseText)
        ? { status: 'failed', failure: payinFailure(responseText, description) }
        : {
            status: 'cancelled',
            failure: { code: 'cancelled', message: responseText || description || 'Payment not completed' },
          };
    default:
      return { status: 'unknown' };
  }
}

/**
 * Networks LigdiCash collects from without redirection (operators-facts.md, `operator_id`), with
 * how the customer authorises the payment and the operator's amount limits in XOF. Only Orange
 * Burkina's range (10 to 2,000,000) and Moov Burkina's minimum (100) are documented; the other
 * limits are our assumption until LigdiCash confirms them.
 */
export const DIRECT_PAYIN_NETWORKS: Partial<
  Record<
    Network,
    { operatorId: string; authorisation: 'otp' | 'approval' | 'operator_redirect'; min: number; max: number }
  >
> = {
  orange_bf: { operatorId: '11', authorisation: 'otp', min: 10, max: 2_000_000 },
  moov_bf: { operatorId: '12', authorisation: 'approval', min: 100, max: 2_000_000 },
  orange_ci: { operatorId: '16', authorisation: 'operator_redirect', min: 100, max: 2_000_000 },
  moov_ci: { operatorId: '14', authorisation: 'approval', min: 100, max: 2_000_000 },
  mtn_ci: { operatorId: '15', authorisation: 'approval', min: 100, max: 2_000_000 },
  mtn_bj: { operatorId: '1', authorisation: 'approval', min: 100, max: 2_000_000 },
  moov_bj: { operatorId: '2', authorisation: 'approval', min: 100, max: 2_000_000 },
  orange_ml: { operatorId: '18', authorisation: 'approval', min: 100, max: 2_000_000 },
};
