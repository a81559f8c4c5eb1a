import type { OperatorStatus, PaymentFailure } from '../../lib/payments.js';
import { PAYMENT_CODE, REGISTRATION } from './protocol.js';

/**
 * PayGateGlobal's words -> ours. Its API uses the same numbers in two enums: payment codes in
 * status answers and callbacks (0 paid, 2 pending, 4 expired, 6 cancelled), registration codes in
 * /pay answers (0 registered, 2 invalid token, 4 invalid parameters, 6 duplicate).
 */

/** Payment code -> ours (the *payment* enum; registration codes are read elsewhere). */
export function mapPaymentCode(code: number): { status: OperatorStatus; failure?: PaymentFailure } {
  switch (code) {
    case PAYMENT_CODE.paid:
      return { status: 'succeeded' };
    case PAYMENT_CODE.pending:
      return { status: 'pending' };
    case PAYMENT_CODE.expired:
      return {
        status: 'expired',
        failure: { code: 'expired', message: 'PayGateGlobal: the payment expired (4)' },
      };
    case PAYMENT_CODE.cancelled:
      return {
        status: 'cancelled',
        failure: { code: 'cancelled', message: 'PayGateGlobal: the payment was cancelled (6)' },
      };
    default:
      return { status: 'unknown' };
  }
}

/** Registration code -> a refusal (0 is not one). */
export function registrationRefusal(code: number): { failure: PaymentFailure; operatorSide: boolean } {
  switch (code) {
    case REGISTRATION.invalidToken:
      return {
        failure: { code: 'operator_authentication_failed', message: 'PayGateGlobal refused our API key (2)' },
        operatorSide: true,
      };
    case REGISTRATION.invalidParameters:
      return {
        failure: { code: 'invalid_request', message: 'PayGateGlobal refused the parameters (4)' },
        operatorSide: false,
      };
    case REGISTRATION.duplicate:
      return {
        failure: { code: 'duplicate_transaction', message: 'PayGateGlobal already has this identifier (6)' },
        operatorSide: false,
      };
    default:
      return {
        failure: { code: 'operator_declined', message: `PayGateGlobal answered status ${code}` },
        operatorSide: false,
      };
  }
}
