import { createHash } from 'node:crypto';
import { ApplicationFailure, Context } from '@temporalio/activity';
import { applyTransition, getPayment, insertPayment, restartDeadline } from '../db/payments.js';
import type { Pool } from '../db/pool.js';
import { getTransfer, listTransferLegs, setTransferStatus, type TransferStatus } from '../db/transfers.js';
import type { OperatorTiming } from '../lib/operators.js';
import type { Logger } from '../lib/logger.js';
import type { PaymentFailure, PaymentStatus } from '../lib/payments.js';
import {
  disbursementWorkflowInput,
  paymentDeadline,
  workflowIdFor,
  type DisbursementWorkflowInput,
} from '../lib/payment-workflows.js';

export interface TransferActivityDeps {
  pool: Pool;
  logger: Logger;
  timingFor: (operator: string) => OperatorTiming;
}

const BASE32 = 'abcdefghijklmnopqrstuvwxyz234567';

/** The id of a transfer's n-th refund: derived, so that a re-run activity finds the same refund. */
export function transferRefundId(transferId: string, attempt: number): string {
  const digest = createHash('sha256').update(`${transferId}:refund:${attempt}`).digest();
  let id = 'pay_';
  for (let i = 0; i < 24; i++) id += BASE32[digest[i]! & 31];
  return id;
}

export function createTransferActivities(deps: TransferActivityDeps) {
  const { pool } = deps;

  function log(transferId: string) {
    return deps.logger.child({
      transferId,
      workflowId: Context.current().info.workflowExecution?.workflowId,
    });
  }

  return {
    async markTransfer(t: {
      transferId: string;
      step: string;
      to: TransferStatus;
      reason: string;
      failure?: PaymentFailure;
    }) {
      const status = await setTransferStatus(pool, t);
      log(t.transferId).info({ status, step: t.step, reason: t.reason }, 'transfer status');
      return status;
    },

    /** The disbursement leg, its deadline counted from now (it waited for the collection). */
    async prepareDisbursement(paymentId: string): Promise<DisbursementWorkflowInput> {
      const payment = await getPayment(pool, paymentId);
      if (!payment?.transferId)
        throw ApplicationFailure.nonRetryable(`${paymentId} is not a transfer leg`, 'NotATransferLeg');
      const timing = deps.timingFor(payment.operator);
      if (payment.status === 'created') {
        await restartDeadline(pool, paymentId, timing.payoutDeadlineSeconds);
      }
      return disbursementWorkflowInput((await getPayment(pool, paymentId))!, timing);
    },

    /** Where a leg stands in our books (its workflow failed or was terminated: the row tells). */
    async legStatus(paymentId: string): Promise<PaymentStatus> {
      const payment = await getPayment(pool, paymentId);
      if (!payment)
        throw ApplicationFailure.nonRetryable(`payment ${paymentId} not found`, 'PaymentNotFound');
      return payment.status;
    },

    /** A leg that will never be sent (the collection did not succeed). */
    async cancelLeg(paymentId: string, reason: string): Promise<void> {
      await applyTransition(pool, { paymentId, step: 'cancel', to: 'cancelled', actor: 'workflow', reason });
    },

    /**
     * The n-th refund of the sender: the collected amount back to the sender's number through the
     * collecting operator (the sender ends whole). Idempotent per (transfer, attempt).
     */
    async createTransferRefund(transferId: string, attempt: number): Promise<DisbursementWorkflowInput> {
      const transfer = await getTransfer(pool, transferId);
      if (!transfer)
        throw ApplicationFailure.nonRetryable(`transfer ${transferId} not found`, 'TransferNotFound');
      const legs = await listTransferLegs(pool, transferId);
      const collection = (await getPayment(pool, legs.find((l) => l.kind === 'payin')!.id))!;
      const refundId = transferRefundId(transferId, attempt);
      const timing = deps.timingFor(collection.operator);
      await insertPayment(pool, {
        id: refundId,
        merchantId: transfer.merchantId,
        livemode: collection.livemode,
        kind: 'refund',
        parentPaymentId: collection.id,
        transferId,
        amount: collection.amount,
        currency: collection.currency,
        feeAmount: 0,
        operator: collection.operator,
        network: transfer.sender.network,
        mode: 'mobile_money',
        // The sender's number as the vault holds it (the collection's token).
        customer: {
          phoneToken: collection.customer.phoneToken,
          phoneMasked: collection.customer.phoneMasked,
        },
        description: `Refund of transfer ${transferId} (attempt ${attempt})`,
        metadata: { transfer_id: transferId, attempt: String(attempt) },
        deadlineAt: paymentDeadline(timing, 'refund'),
        workflowId: workflowIdFor('refund', refundId),
      });
      return disbursementWorkflowInput((await getPayment(pool, refundId))!, timing);
    },

    /** Nobody could bring the money back: an alert (logs, and the needs_review gauge on /metrics). */
    alertNeedsReview(transferId: string, reason: string): Promise<void> {
      log(transferId).error(
        { alert: 'transfer_needs_review', reason },
        'TRANSFER NEEDS REVIEW: money held in transit',
      );
      return Promise.resolve();
    },
  };
}

export type TransferActivities = ReturnType<typeof createTransferActivities>;
