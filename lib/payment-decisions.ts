import { unconfirmedAmount, type AmountStatement } from './amount-check.js';
import type { OperatorStatus, PaymentFailure, PaymentStatus } from './payments.js';

/**
 * Pure decisions about a payment's outcome (payin, payout, refund), kept apart so that each rule
 * is tested case by case. Workflow code and the activities that learn an outcome share them: the
 * activity that asks the operator also decides and records the end (one step instead of three).
 */

/** A verified callback, handed to the workflow as a hint to check the status API now. */
export interface CallbackHint {
  callbackId: number;
  reportedStatus: OperatorStatus;
  amount?: number;
}

export interface StatusObservation extends AmountStatement {
  reachable: boolean;
  status?: OperatorStatus;
  operatorStatus?: string;
  operatorMessage?: string;
  failure?: PaymentFailure;
}

export type OutcomeDecision =
  { final: false } | { final: true; status: PaymentStatus; reason: string; failure?: PaymentFailure };

/** Turns one status answer into a decision; only definite operator answers end the payin. */
export function decideFromStatus(obs: StatusObservation, expectedAmount: number): OutcomeDecision {
  if (!obs.reachable || !obs.status) return { final: false };
  switch (obs.status) {
    case 'succeeded': {
      // The operator must state our amount before we call it a success (rules 1 and 9).
      const unconfirmed = unconfirmedAmount(obs, expectedAmount);
      if (unconfirmed) return { final: true, ...unconfirmed };
      return { final: true, status: 'succeeded', reason: 'confirmed by the operator status API' };
    }
    case 'failed':
    case 'cancelled':
    case 'expired':
      return {
        final: true,
        status: obs.status,
        reason: `operator status API says ${obs.operatorStatus ?? obs.status}`,
        failure: obs.failure ?? { code: obs.status, message: obs.operatorMessage ?? `Payment ${obs.status}` },
      };
    default:
      return { final: false };
  }
}

/**
 * The decision when the deadline has passed and the last check was not definite. A payin whose
 * operator did not answer at all may have been paid: `unknown`, for reconciliation, never
 * `expired`.
 */
export function decideAtDeadline(
  obs: StatusObservation,
  expectedAmount: number,
): Extract<OutcomeDecision, { final: true }> {
  const decision = decideFromStatus(obs, expectedAmount);
  if (decision.final) return decision;
  if (!obs.reachable) {
    return {
      final: true,
      status: 'unknown',
      reason: 'deadline passed and the operator status API did not answer: the payer may have paid',
      failure: {
        code: 'operator_outcome_unknown',
        message: 'The operator could not be asked at the deadline; reconciliation settles the payment',
      },
    };
  }
  return {
    final: true,
    status: 'expired',
    reason: `deadline passed while the operator said ${obs.operatorStatus ?? 'pending'}`,
    failure: { code: 'expired', message: 'The payer did not complete the payment in time' },
  };
}

/**
 * Splits callbacks into those the status answer confirms and those it contradicts. A callback
 * claiming an outcome the operator's status API does not show is rejected (forged or wrong).
 */
export function weighCallbacks(
  hints: CallbackHint[],
  obs: StatusObservation,
  expectedAmount: number,
): { confirmed: number[]; rejected: number[]; undecided: CallbackHint[] } {
  if (!obs.reachable || !obs.status) return { confirmed: [], rejected: [], undecided: hints };
  const confirmed: number[] = [];
  const rejected: number[] = [];
  for (const hint of hints) {
    const sameOutcome = hint.reportedStatus === obs.status;
    const amountAgrees = hint.amount === undefined || hint.amount === expectedAmount;
    if (sameOutcome && amountAgrees) confirmed.push(hint.callbackId);
    else if (hint.reportedStatus === 'pending' && obs.status !== 'pending') confirmed.push(hint.callbackId);
    else rejected.push(hint.callbackId);
  }
  return { confirmed, rejected, undecided: [] };
}

/** Exponential backoff between status checks, capped. */
export function nextPollDelay(currentSeconds: number, maxSeconds: number): number {
  return Math.min(currentSeconds * 2, maxSeconds);
}

/**
 * A payout's or refund's status answer. Money that may have left cannot be "expired": a payout
 * still open at the deadline is `unknown`, its hold kept, for reconciliation to settle.
 */
export function decideDisbursement(obs: StatusObservation, expectedAmount: number): OutcomeDecision {
  if (!obs.reachable || !obs.status) return { final: false };
  switch (obs.status) {
    case 'succeeded': {
      // We sent the amount ourselves (server to server): it stands unless the operator states
      // another, or one we cannot read; then a person looks (hold kept).
      const unconfirmed = unconfirmedAmount({ ...obs, amountFixedByRequest: true }, expectedAmount);
      if (unconfirmed) {
        return {
          final: true,
          status: 'unknown',
          reason: unconfirmed.reason,
          failure: unconfirmed.failure,
        };
      }
      return { final: true, status: 'succeeded', reason: 'confirmed by the operator status API' };
    }
    case 'failed':
    case 'cancelled':
    case 'expired':
      return {
        final: true,
        status: 'failed',
        reason: `operator status API says ${obs.operatorStatus ?? obs.status}`,
        failure: obs.failure ?? {
          code: 'operator_declined',
          message: obs.operatorMessage ?? 'Disbursement failed',
        },
      };
    default:
      return { final: false };
  }
}

export function decideDisbursementAtDeadline(
  obs: StatusObservation,
  expectedAmount: number,
): Extract<OutcomeDecision, { final: true }> {
  const decision = decideDisbursement(obs, expectedAmount);
  if (decision.final) return decision;
  return {
    final: true,
    status: 'unknown',
    reason: 'deadline passed without a definite answer from the operator; hold kept for reconciliation',
    failure: { code: 'operator_outcome_unknown', message: 'The operator has not confirmed the outcome yet' },
  };
}
