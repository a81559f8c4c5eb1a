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
