import type { OperatorStatus, PaymentFailure } from '../../lib/payments.js';

/**
 * MTN's transaction status and failure reason -> ours. The reasons are those MTN's API
 * description lists (ErrorReason codes); an unknown one is a decline in its own words.
 */
export function mapMtnStatus(
  status: string,
  reason: string | undefined,
): { status: OperatorStatus; failure?: PaymentFailure } {
  switch (status.trim().toUpperCase()) {
    case 'SUCCESSFUL':
      return { status: 'succeeded' };
    case 'PENDING':
    case 'CREATED':
    case 'ONGOING':
      return { status: 'pending' };
    case 'FAILED':
    case 'REJECTED':
    case 'TIMEOUT':
      return mapMtnReason(reason ?? status);
    default:
      return { status: 'unknown' };
  }
}

export function mapMtnReason(reason: string): { status: OperatorStatus; failure: PaymentFailure } {
  const said = `MTN MoMo: ${reason}`;
  switch (reason.trim().toUpperCase()) {
    case 'APPROVAL_REJECTED':
    case 'REJECTED':
    case 'TRANSACTION_CANCELED':
      return { status: 'cancelled', failure: { code: 'cancelled', message: `${said} (the payer refused)` } };
    case 'EXPIRED':
    case 'TIMEOUT':
      return { status: 'expired', failure: { code: 'expired', message: `${said} (not approved in time)` } };
    case 'NOT_ENOUGH_FUNDS':
      return { status: 'failed', failure: { code: 'insufficient_funds', message: said } };
    case 'PAYER_NOT_FOUND':
    case 'PAYEE_NOT_FOUND':
      return {
        status: 'failed',
        failure: { code: 'recipient_unknown', message: `${said} (no MTN MoMo wallet)` },
      };
    case 'PAYER_LIMIT_REACHED':
    case 'PAYEE_LIMIT_REACHED':
      return { status: 'failed', failure: { code: 'limit_reached', message: `${said} (wallet limit)` } };
    case 'NOT_ALLOWED':
    case 'NOT_ALLOWED_TARGET_ENVIRONMENT':
    case 'INVALID_CALLBACK_URL_HOST':
    case 'INVALID_CURRENCY':
    case 'PAYEE_NOT_ALLOWED_TO_RECEIVE':
      return { status: 'failed', failure: { code: 'operator_configuration', message: said } };
    case 'INTERNAL_PROCESSING_ERROR':
    case 'SERVICE_UNAVAILABLE':
    case 'COULD_NOT_PERFORM_TRANSACTION':
      return { status: 'failed', failure: { code: 'operator_processing_failed', message: said } };
    default:
      return { status: 'failed', failure: { code: 'operator_declined', message: said } };
  }
}

/** An error answer to requesttopay or transfer (4xx) -> a refusal. */
export function mtnRefusal(
  httpStatus: number,
  code: string | undefined,
  message: string | undefined,
): { failure: PaymentFailure; operatorSide: boolean } {
  const said = `${code ?? `HTTP ${httpStatus}`}${message ? `: ${message}` : ''}`;
  if (httpStatus === 401 || httpStatus === 403) {
    return {
      failure: {
        code: 'operator_authentication_failed',
        message: `MTN MoMo refused our credentials (${said})`,
      },
      operatorSide: true,
    };
  }
  return {
    failure: { code: 'invalid_request', message: `MTN MoMo refused the request (${said})` },
    operatorSide: false,
  };
}
