import { ApplicationFailure, Context } from '@temporalio/activity';
import { feeReturnPosting, post } from '../db/ledger.js';
import { applyTransition, getPayment, insertPayment } from '../db/payments.js';
import { inTransaction, type Pool } from '../db/pool.js';
import { derivedId } from '../lib/ids.js';
import type { Logger } from '../lib/logger.js';
import type { OperatorTiming } from '../lib/operators.js';
import type { PaymentFailure, PaymentStatus } from '../lib/payments.js';
import {
  disbursementWorkflowInput,
  paymentDeadline,
  workflowIdFor,
  type DisbursementWorkflowInput,
} from '../lib/payment-workflows.js';

export interface CheckoutActivityDeps {
  pool: Pool;
  logger: Logger;
  timingFor: (operator: string) => OperatorTiming;
}

/** The refund of an attempt that succeeded after another had: derived, so a re-run finds the same one. */
export function duplicateAttemptRefundId(attemptId: string): string {
  return derivedId('pay', `duplicate-attempt-refund:${attemptId}`);
}

/**
 * An attempt that succeeded after another attempt of the same payin had: the payer paid
 * twice. Its money goes back through its own operator, in full: its credit stays, our fee on
 * it is returned to the merchant, and a refund is recorded in the same transaction (the caller
 * starts it). Idempotent per attempt. The hosted payin's workflow calls it, and the sweep for a
 * hosted payin whose workflow is gone.
 */
export async function recordDuplicateAttemptRefund(
  deps: CheckoutActivityDeps,
  attemptId: string,
): Promise<DisbursementWorkflowInput> {
  const { pool } = deps;
  const attempt = await getPayment(pool, attemptId);
  if (!attempt?.attemptOf) {
    throw ApplicationFailure.nonRetryable(`${attemptId} is not an attempt`, 'NotAnAttempt');
  }
  if (!attempt.customer.phoneToken) {
    throw ApplicationFailure.nonRetryable(`${attemptId} has no payer number`, 'NoPayerNumber');
  }
  const refundId = duplicateAttemptRefundId(attemptId);
  const timing = deps.timingFor(attempt.operator);
  await inTransaction(pool, async (client) => {
    const inserted = await insertPayment(client, {
      id: refundId,
      merchantId: attempt.merchantId,
      livemode: attempt.livemode,
      kind: 'refund',
      parentPaymentId: attempt.id,
      amount: attempt.amount,
      currency: attempt.currency,
      feeAmount: 0,
      operator: attempt.operator,
      network: attempt.network ?? undefined,
      mode: 'mobile_money',
      customer: { phoneToken: attempt.customer.phoneToken, phoneMasked: attempt.customer.phoneMasked },
      description: `Automatic refund: payin ${attempt.attemptOf} was already paid by another attempt`,
      metadata: { reason: 'duplicate_attempt', payin: attempt.attemptOf! },
      deadlineAt: paymentDeadline(timing, 'refund'),
      workflowId: workflowIdFor('refund', refundId),
    });
    const feeBack = feeReturnPosting(attempt);
    if (inserted && feeBack) await post(client, feeBack);
  });
  deps.logger.warn(
    { paymentId: attempt.attemptOf, attemptId, refundId },
    'a second attempt succeeded: refunding it to the payer',
  );
  return disbursementWorkflowInput((await getPayment(pool, refundId))!, timing);
}

/**
 * The hosted checkout's steps (workflows/hosted-payin.ts): how the merchant's payin ends, and the
 * refund of an attempt that succeeded when the payin already had.
 */
export function createCheckoutActivities(deps: CheckoutActivityDeps) {
  const { pool } = deps;
  const log = (paymentId: string) =>
    deps.logger.child({ paymentId, workflowId: Context.current().info.workflowExecution?.workflowId });

  return {
    /**
     * Ends the hosted payin (never moves money: its attempts do). `succeeded` names the attempt
     * through which the payer paid. Idempotent: one step per outcome.
     */
    async recordCheckoutOutcome(o: {
      paymentId: string;
      to: Extract<PaymentStatus, 'succeeded' | 'expired' | 'cancelled' | 'unknown' | 'failed'>;
      attemptId?: string;
      reason: string;
      failure?: PaymentFailure;
    }): Promise<PaymentStatus> {
      const attempt = o.attemptId ? await getPayment(pool, o.attemptId) : undefined;
      const result = await applyTransition(pool, {
        paymentId: o.paymentId,
        step: `checkout:${o.to}`,
        to: o.to,
        actor: 'workflow',
        reason: o.reason,
        operatorReference: attempt?.id,
        operatorStatus: attempt
          ? `${attempt.operator}:${attempt.operatorStatus ?? attempt.status}`
          : undefined,
        failure: o.failure,
      });
      log(o.paymentId).info(
        { to: o.to, attemptId: o.attemptId, applied: result.applied },
        'hosted payin ended',
      );
      return result.payment.status;
    },

    /**
     * An attempt that succeeded after another attempt of the same payin had: the payer paid
     * twice. Its money goes back through its own operator, in full: its credit stays, our fee on
     * it is returned to the merchant, and a refund is recorded in the same transaction (the
     * workflow starts it). Idempotent per attempt.
     */
    createDuplicateAttemptRefund(attemptId: string): Promise<DisbursementWorkflowInput> {
      return recordDuplicateAttemptRefund(deps, attemptId);
    },

    /** Where an attempt stands in our books (its workflow failed or was terminated: the row tells). */
    async attemptStatus(attemptId: string): Promise<PaymentStatus> {
      const attempt = await getPayment(pool, attemptId);
      if (!attempt) throw ApplicationFailure.nonRetryable(`${attemptId} not found`, 'PaymentNotFound');
      return attempt.status;
    },
  };
}

export type CheckoutActivities = ReturnType<typeof createCheckoutActivities>;
