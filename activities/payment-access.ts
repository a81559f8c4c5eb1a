import { ApplicationFailure, Context } from '@temporalio/activity';
import { recordOperatorOutcome } from '../db/operator-health.js';
import { getPayment, type PaymentRecord } from '../db/payments.js';
import type { Pool } from '../db/pool.js';
import type { Logger } from '../lib/logger.js';
import { isOperatorName } from '../lib/operators.js';
import type { OperatorAdapters } from '../operators/registry.js';
import type { InitiationOutcome, OperatorAdapter, PaymentLookup, PaymentRefs } from '../operators/types.js';

/**
 * What every activity needs to act on a payment: its row, its operator's adapter, and a logger
 * that names it and the workflow asking. Failures a retry cannot cure are non-retryable.
 */
export function paymentAccess(deps: { pool: Pool; operators: OperatorAdapters; logger: Logger }) {
  async function loadPayment(paymentId: string): Promise<PaymentRecord> {
    const payment = await getPayment(deps.pool, paymentId);
    if (!payment) throw ApplicationFailure.nonRetryable(`payment ${paymentId} not found`, 'PaymentNotFound');
    return payment;
  }

  /**
   * The adapter of a payment's operator in the payment's mode (a test payment's is the sandbox's),
   * or of an operator by name in live mode.
   */
  function adapterFor(of: { operator: string; livemode: boolean } | string): OperatorAdapter {
    const name = typeof of === 'string' ? of : of.operator;
    if (!isOperatorName(name)) {
      throw ApplicationFailure.nonRetryable(`no adapter for ${name}`, 'UnknownOperator');
    }
    return typeof of === 'string' || of.livemode ? deps.operators.live[name] : deps.operators.test[name];
  }

  function paymentLog(payment: { id: string }): Logger {
    const workflowId = Context.current().info.workflowExecution?.workflowId;
    return deps.logger.child({ paymentId: payment.id, workflowId });
  }

  return { loadPayment, adapterFor, paymentLog };
}

/** How the operator knows a payment (status calls), from its row. */
export function refsOf(payment: PaymentRecord): PaymentRefs {
  return { ...lookupOf(payment), operatorReference: payment.operatorReference };
}

/** A payment as it is looked up by our own reference alone. */
export function lookupOf(payment: PaymentRecord): PaymentLookup {
  return {
    paymentId: payment.id,
    amount: { amount: payment.amount, currency: payment.currency },
    network: payment.network,
  };
}

/**
 * An operator's answer to a send, counted in its health (its circuit): no answer, an unclear one,
 * or a refusal about the operator itself (credentials, configuration, outage) is its fault; an
 * answer about the payment is not.
 */
export async function recordSendOutcome(
  pool: Pool,
  /** The operator's circuit in the payment's mode (db/operator-health.ts circuitOf). */
  operator: string,
  outcome: InitiationOutcome,
  circuit: { threshold: number; cooldownSeconds: number },
): Promise<void> {
  const operatorFault =
    outcome.kind === 'unreachable' ||
    outcome.kind === 'ambiguous' ||
    (outcome.kind === 'rejected' && outcome.operatorSide === true);
  await recordOperatorOutcome(pool, {
    operator,
    ok: !operatorFault,
    detail:
      outcome.kind === 'rejected'
        ? outcome.failure.message
        : 'detail' in outcome
          ? outcome.detail
          : undefined,
    ...circuit,
  });
}
