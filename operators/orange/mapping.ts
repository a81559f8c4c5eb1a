import type { OperatorStatus, PaymentFailure } from '../../lib/payments.js';

/** Orange's transactionstatus words -> ours. */
export function mapOrangeStatus(word: string): { status: OperatorStatus; failure?: PaymentFailure } {
  switch (word.trim().toUpperCase()) {
    case 'SUCCESS':
      return { status: 'succeeded' };
    case 'INITIATED':
    case 'PENDING':
      return { status: 'pending' };
    case 'EXPIRED':
      return {
        status: 'expired',
        failure: { code: 'expired', message: 'Orange Money: the payer did not pay in time (EXPIRED)' },
      };
    case 'FAILED':
      return {
        status: 'failed',
        failure: { code: 'operator_declined', message: 'Orange Money: the transaction failed (FAILED)' },
      };
    default:
      return { status: 'unknown' };
  }
}

/** An error answer to a create call (webpayment, cash-in, refund) -> a refusal. */
export function orangeRefusal(
  httpStatus: number,
  code: string | undefined,
  message: string | undefined,
): { failure: PaymentFailure; operatorSide: boolean } {
  const said = `${code ?? `HTTP ${httpStatus}`}${message ? `: ${message}` : ''}`;
  if (httpStatus === 401 || httpStatus === 403 || code === 'invalid_merchant_key' || code === '42') {
    return {
      failure: {
        code: 'operator_authentication_failed',
        message: `Orange Money refused our credentials (${said})`,
      },
      operatorSide: true,
    };
  }
  if (code === 'duplicate_order_id' || httpStatus === 409) {
    return {
      failure: { code: 'duplicate_transaction', message: `Orange Money already has this order id (${said})` },
      operatorSide: false,
    };
  }
  if (code === 'insufficient_balance') {
    return {
      failure: { code: 'operator_balance_low', message: `Orange Money: our balance is too low (${said})` },
      operatorSide: true,
    };
  }
  if (code === 'refund_not_allowed') {
    return {
      failure: { code: 'refund_not_allowed', message: `Orange Money refused the refund (${said})` },
      operatorSide: false,
    };
  }
  return {
    failure: { code: 'operator_declined', message: `Orange Money refused the request (${said})` },
    operatorSide: false,
  };
}
