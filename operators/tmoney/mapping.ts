import type { OperatorStatus, PaymentFailure } from '../../lib/payments.js';

/**
 * TMoney's words -> ours: the notification's status/error (document, "notification url") and
 * MBANKING's `code`/`statut` (our reading, docs/tmoney.md).
 */
const NOTIFICATION_ERRORS: Record<string, { status: OperatorStatus; failure: PaymentFailure }> = {
  CANCEL: {
    status: 'cancelled',
    failure: { code: 'cancelled', message: 'The payer cancelled on the TMoney page (CANCEL)' },
  },
  AUTHENTICATION: {
    status: 'failed',
    failure: {
      code: 'payer_authentication_failed',
      message: 'The payer failed TMoney authentication (AUTHENTICATION)',
    },
  },
  PAYMENT_FAILED: {
    status: 'failed',
    failure: { code: 'operator_declined', message: 'TMoney refused the payment (PAYMENT_FAILED)' },
  },
  EXPIRED_SESSION: {
    status: 'expired',
    failure: { code: 'expired', message: 'The TMoney session expired (EXPIRED_SESSION)' },
  },
};

export function mapNotification(
  status: string,
  error: string | undefined,
): { status: OperatorStatus; failure?: PaymentFailure } {
  const word = status.trim().toUpperCase();
  if (word === 'OK' && !error) return { status: 'succeeded' };
  if (word === 'NOK') {
    const known = NOTIFICATION_ERRORS[(error ?? '').trim().toUpperCase()];
    return (
      known ?? {
        status: 'failed',
        failure: { code: 'operator_declined', message: `TMoney refused the payment (${error || 'NOK'})` },
      }
    );
  }
  return { status: 'unknown' };
}

/** Session answers: `NOK:<reason>` is a refusal; UNKNOWN_MERCHANT is about our configuration. */
export function sessionRefusal(reason: string): { failure: PaymentFailure; operatorSide: boolean } {
  const r = reason.trim().toUpperCase();
  if (r === 'UNKNOWN_MERCHANT') {
    return {
      failure: {
        code: 'operator_configuration',
        message: 'TMoney does not know our merchant id (UNKNOWN_MERCHANT)',
      },
      operatorSide: true,
    };
  }
  return {
    failure: { code: 'operator_declined', message: `TMoney refused the session (${reason})` },
    operatorSide: true,
  };
}

/** MBANKING `code`: "0" accepted; the others are refusals (our reading). */
export const MBANKING_CODES: Record<string, { failure: PaymentFailure; operatorSide: boolean }> = {
  '401': {
    failure: { code: 'operator_authentication_failed', message: 'TMoney refused our token' },
    operatorSide: true,
  },
  '402': {
    failure: { code: 'operator_balance_low', message: 'Our TMoney partner account balance is too low' },
    operatorSide: true,
  },
  '404': {
    failure: { code: 'transaction_not_found', message: 'TMoney has no such transaction' },
    operatorSide: false,
  },
  '410': {
    failure: { code: 'recipient_unknown', message: 'The number has no TMoney account' },
    operatorSide: false,
  },
  '420': {
    failure: { code: 'amount_out_of_range', message: 'TMoney refused the amount' },
    operatorSide: false,
  },
  '409': {
    failure: { code: 'duplicate_transaction', message: 'TMoney already has this refCommande' },
    operatorSide: false,
  },
};

export function mbankingRefusal(
  code: string,
  message: string | undefined,
): { failure: PaymentFailure; operatorSide: boolean } {
  const known = MBANKING_CODES[code];
  const words = message ? ` (${message})` : '';
  if (known)
    return {
      failure: { code: known.failure.code, message: `${known.failure.message}${words}` },
      operatorSide: known.operatorSide,
    };
  return {
    failure: { code: 'operator_declined', message: `TMoney refused the request: code ${code}${words}` },
    operatorSide: false,
  };
}

/** check-transaction `statut` -> ours. */
export function mapMbankingStatut(
  statut: string | undefined,
  message?: string,
): { status: OperatorStatus; failure?: PaymentFailure } {
  switch ((statut ?? '').trim().toUpperCase()) {
    case 'SUCCES':
    case 'SUCCESS':
      return { status: 'succeeded' };
    case 'EN_ATTENTE':
    case 'EN_COURS':
    case 'PENDING':
      return { status: 'pending' };
    case 'ANNULE':
      return {
        status: 'cancelled',
        failure: { code: 'cancelled', message: message || 'The payer declined the USSD request' },
      };
    case 'EXPIRE':
      return {
        status: 'expired',
        failure: { code: 'expired', message: message || 'The payer did not answer the USSD request' },
      };
    case 'ECHEC':
    case 'ECHOUE':
      return {
        status: 'failed',
        failure: { code: 'operator_declined', message: message || 'TMoney refused the transaction' },
      };
    default:
      return { status: 'unknown' };
  }
}
