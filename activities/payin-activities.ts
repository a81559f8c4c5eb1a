import { ApplicationFailure, Context } from '@temporalio/activity';
import { settleSignalledCallbacks } from '../db/callbacks.js';
import {
  applyTransition,
  forgetPayinOtp,
  rememberPayerPhone,
  getPayment,
  readPayinOtp,
  recordInitiationAttempt,
  type PaymentRecord,
  type Transition,
} from '../db/payments.js';
import type { Pool } from '../db/pool.js';
import type { Logger } from '../lib/logger.js';
import type { Network } from '../lib/networks.js';
import type { NextAction, PaymentFailure, PaymentStatus, PayinMode } from '../lib/payments.js';
import { payinSucceededPosting, post } from '../db/ledger.js';
import type { OperatorAdapter, OperatorName, StatusReport } from '../operators/types.js';

export interface PayinActivityDeps {
  pool: Pool;
  operators: Record<OperatorName, OperatorAdapter>;
  /** Base URL operators use to reach our callback endpoints. */
  publicBaseUrl: string;
  logger: Logger;
}

/** Result of one initiation attempt, in the workflow's terms. */
export type InitiationAttempt =
  | { kind: 'initiated'; status: PaymentStatus; nextAction: NextAction; failure?: PaymentFailure }
  | { kind: 'unreachable' | 'ambiguous'; detail: string };

export type PayinStatusCheck =
  Extract<StatusReport, { reachable: false }> | Omit<Extract<StatusReport, { reachable: true }>, 'raw'>;

export function callbackUrlFor(publicBaseUrl: string, operator: string): string {
  return new URL(`/v1/callbacks/${operator}`, publicBaseUrl).toString();
}

function viewOf(p: PaymentRecord): Extract<InitiationAttempt, { kind: 'initiated' }> {
  return {
    kind: 'initiated',
    status: p.status,
    nextAction: p.nextAction ?? { type: 'none' },
    ...(p.failure ? { failure: p.failure } : {}),
  };
}

export function createPayinActivities(deps: PayinActivityDeps) {
  const { pool, operators } = deps;

  async function loadPayment(paymentId: string): Promise<PaymentRecord> {
    const payment = await getPayment(pool, paymentId);
    if (!payment) throw ApplicationFailure.nonRetryable(`payment ${paymentId} not found`, 'PaymentNotFound');
    return payment;
  }

  function operatorFor(payment: PaymentRecord): OperatorAdapter {
    const op = operators[payment.operator as OperatorName];
    if (!op) throw ApplicationFailure.nonRetryable(`no adapter for ${payment.operator}`, 'UnknownOperator');
    return op;
  }

  function log(payment: PaymentRecord) {
    const info = Context.current().info;
    return deps.logger.child({ paymentId: payment.id, workflowId: info.workflowExecution?.workflowId });
  }

  return {
    /**
     * Sends the payin to the operator once and records its answer. Safe to re-run: an answer
     * already recorded is returned as is, and a direct payin whose attempt may already have gone
     * out is reported ambiguous instead of being sent again (the payer could be charged twice).
     */
    async initiatePayin(paymentId: string, attempt: number): Promise<InitiationAttempt> {
      const payment = await loadPayment(paymentId);
      if (payment.status !== 'created') return viewOf(payment);
      const operator = operatorFor(payment);
      const firstSend = await recordInitiationAttempt(pool, paymentId, attempt);
      if (!firstSend && payment.mode === 'direct') {
        return {
          kind: 'ambiguous',
          detail: `attempt ${attempt} may already have reached ${payment.operator}`,
        };
      }
      const otp = payment.mode === 'direct' ? await readPayinOtp(pool, paymentId) : undefined;
      const outcome = await operator.initiatePayin({
        paymentId,
        amount: { amount: payment.amount, currency: payment.currency },
        mode: payment.mode as PayinMode,
        network: (payment.network ?? undefined) as Network | undefined,
        customer: {
          phone: payment.customer.phone?.replace(/^\+/, ''),
          firstName: payment.customer.firstName,
          lastName: payment.customer.lastName,
          email: payment.customer.email,
        },
        otp,
        description: payment.description ?? `Payment ${paymentId}`,
        returnUrl: payment.returnUrl ?? undefined,
        cancelUrl: payment.cancelUrl ?? undefined,
        callbackUrl: callbackUrlFor(deps.publicBaseUrl, payment.operator),
      });
      log(payment).info({ attempt, outcome: outcome.kind }, 'payin initiation answered');
      if (outcome.kind === 'unreachable' || outcome.kind === 'ambiguous') return outcome;

      const transition: Transition =
        outcome.kind === 'accepted'
          ? {
              paymentId,
              step: 'initiate',
              to: outcome.status,
              actor: 'workflow',
              reason: 'operator accepted the payin',
              operatorReference: outcome.operatorReference,
              nextAction: outcome.nextAction,
              operatorStatus: outcome.operatorStatus,
              operatorMessage: outcome.operatorMessage,
              operatorData: outcome.raw,
            }
          : {
              paymentId,
              step: 'initiate',
              to: 'failed',
              actor: 'workflow',
              reason: 'operator refused the payin',
              failure: outcome.failure,
              operatorStatus: outcome.operatorStatus,
              operatorMessage: outcome.operatorMessage,
              operatorData: outcome.raw,
            };
      const result = await applyTransition(pool, transition);
      if (otp) await forgetPayinOtp(pool, paymentId);
      return viewOf(result.payment);
    },

    /** Asks the operator where the payin stands: the status API is the truth (DESIGN.md rule 1). */
    async checkPayinStatus(paymentId: string): Promise<PayinStatusCheck> {
      const payment = await loadPayment(paymentId);
      if (!payment.operatorReference) return { reachable: false, detail: 'no operator reference yet' };
      const report = await operatorFor(payment).checkPayinStatus(payment.operatorReference);
      if (!report.reachable) {
        log(payment).warn({ detail: report.detail }, 'payin status check failed');
        return report;
      }
      // The payer's number stays out of workflow histories: it goes straight to the payment.
      const { raw: _raw, payerPhone, ...rest } = report;
      if (payerPhone) await rememberPayerPhone(pool, paymentId, payerPhone);
      return rest;
    },

    /**
     * Records a transition decided by the workflow (idempotent per step); a success is posted to
     * the ledger in the same database transaction.
     */
    async recordPayinTransition(t: Transition): Promise<PaymentStatus> {
      const result = await applyTransition(
        pool,
        t,
        t.to === 'succeeded'
          ? (client, payment) => post(client, payinSucceededPosting(payment)).then(() => undefined)
          : undefined,
      );
      if (!result.applied && result.reason === 'not_allowed') {
        log(result.payment).error(
          { from: result.payment.status, to: t.to, step: t.step },
          'transition refused',
        );
      }
      if (t.step === 'initiate') await forgetPayinOtp(pool, t.paymentId);
      return result.payment.status;
    },

    /** Marks callbacks as confirmed or contradicted by the status API. */
    async settleCallbacks(ids: number[], verdict: 'confirmed' | 'rejected', reason?: string): Promise<void> {
      await settleSignalledCallbacks(pool, ids, verdict, reason);
    },
  };
}

export type PayinActivities = ReturnType<typeof createPayinActivities>;
