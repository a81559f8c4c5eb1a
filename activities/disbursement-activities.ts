import { ApplicationFailure, Context } from '@temporalio/activity';
import { InsufficientBalanceError, capturePosting, holdPosting, post, releasePosting } from '../db/ledger.js';
import {
  applyTransition,
  getPayment,
  recordInitiationAttempt,
  recordRefundOnPayin,
  type PaymentRecord,
  type Transition,
} from '../db/payments.js';
import type { Pool, PoolClient } from '../db/pool.js';
import type { Logger } from '../lib/logger.js';
import type { Network } from '../lib/networks.js';
import type { PaymentFailure, PaymentStatus, PayoutMethod } from '../lib/payments.js';
import type { DisbursementLookup, OperatorAdapter, OperatorName } from '../operators/types.js';
import { callbackUrlFor, definiteOrRetry, type PayinStatusCheck } from './payin-activities.js';

export interface DisbursementActivityDeps {
  pool: Pool;
  operators: Record<OperatorName, OperatorAdapter>;
  publicBaseUrl: string;
  logger: Logger;
}

export interface DisbursementView {
  status: PaymentStatus;
  failure?: PaymentFailure;
}

/** Result of one attempt to send a payout or refund, in the workflow's terms. */
export type DisbursementAttempt =
  | { kind: 'sent' }
  | { kind: 'ended'; status: PaymentStatus; failure?: PaymentFailure }
  /** Nothing reached the operator, or it confirmed it has no such request: sending again is safe. */
  | { kind: 'unreachable'; detail: string }
  /** It may have been executed and the operator cannot tell: never send again (DESIGN.md rule 2). */
  | { kind: 'ambiguous'; detail: string };

function viewOf(p: PaymentRecord): DisbursementView {
  return { status: p.status, ...(p.failure ? { failure: p.failure } : {}) };
}

/** The postings that go with a disbursement's transition, in the same database transaction. */
export function disbursementPostings(to: PaymentStatus) {
  switch (to) {
    case 'succeeded':
      return async (client: PoolClient, payment: PaymentRecord) => {
        await post(client, capturePosting(payment));
        if (payment.kind === 'refund') await recordRefundOnPayin(client, payment);
      };
    case 'failed':
      return async (client: PoolClient, payment: PaymentRecord) => {
        await post(client, releasePosting(payment));
      };
    default:
      // `unknown`: the hold stays until reconciliation settles the outcome.
      return undefined;
  }
}

export function createDisbursementActivities(deps: DisbursementActivityDeps) {
  const { pool, operators } = deps;

  async function load(paymentId: string): Promise<PaymentRecord> {
    const payment = await getPayment(pool, paymentId);
    if (!payment) throw ApplicationFailure.nonRetryable(`payment ${paymentId} not found`, 'PaymentNotFound');
    return payment;
  }

  function adapterFor(payment: PaymentRecord): OperatorAdapter {
    const op = operators[payment.operator as OperatorName];
    if (!op) throw ApplicationFailure.nonRetryable(`no adapter for ${payment.operator}`, 'UnknownOperator');
    return op;
  }

  function log(payment: PaymentRecord) {
    const info = Context.current().info;
    return deps.logger.child({ paymentId: payment.id, workflowId: info.workflowExecution?.workflowId });
  }

  async function recordFound(payment: PaymentRecord, lookup: Extract<DisbursementLookup, { kind: 'found' }>) {
    await applyTransition(pool, {
      paymentId: payment.id,
      step: 'initiate',
      to: 'pending',
      actor: 'workflow',
      reason: 'the operator already holds this disbursement (found by our reference)',
      operatorReference: lookup.operatorReference,
      operatorStatus: lookup.report.operatorStatus,
      operatorMessage: lookup.report.operatorMessage,
    });
  }

  async function checkDisbursementStatus(paymentId: string): Promise<PayinStatusCheck> {
    const payment = await load(paymentId);
    if (!payment.operatorReference) return { reachable: false, detail: 'no operator reference yet' };
    const report = await adapterFor(payment).checkPayoutStatus(
      { paymentId, operatorReference: payment.operatorReference },
      payment.mode as PayoutMethod,
    );
    if (!report.reachable) {
      log(payment).warn({ detail: report.detail }, 'disbursement status check failed');
      return report;
    }
    const { raw: _raw, payerPhone: _payer, ...rest } = report;
    return rest;
  }

  return {
    /** Moves the amount and fee from available to held; refuses when the balance is too low. */
    async holdFunds(paymentId: string): Promise<DisbursementView> {
      const payment = await load(paymentId);
      if (payment.status !== 'created') return viewOf(payment);
      try {
        const held = await applyTransition(
          pool,
          {
            paymentId,
            step: 'hold',
            to: 'pending',
            actor: 'workflow',
            reason: 'funds held on the merchant balance',
          },
          async (client, p) => {
            await post(client, holdPosting(p));
          },
        );
        return viewOf(held.payment);
      } catch (err) {
        if (!(err instanceof InsufficientBalanceError)) throw err;
        const refused = await applyTransition(pool, {
          paymentId,
          step: 'hold',
          to: 'failed',
          actor: 'workflow',
          reason: 'merchant balance too low',
          failure: {
            code: 'insufficient_balance',
            message: `Available balance too low for ${payment.amount + payment.feeAmount} ${payment.currency} (amount and fee)`,
          },
        });
        return viewOf(refused.payment);
      }
    },

    /**
     * Sends the payout once (DESIGN.md rule 2). A re-run whose attempt may already have gone out,
     * and a send whose outcome is unclear, first ask the operator about our reference; only an
     * operator that confirms it has no such request lets us send again.
     */
    async initiateDisbursement(paymentId: string, attempt: number): Promise<DisbursementAttempt> {
      const payment = await load(paymentId);
      if (payment.operatorReference) return { kind: 'sent' };
      if (payment.status !== 'pending') return { kind: 'ended', ...viewOf(payment) };
      const adapter = adapterFor(payment);

      const firstSend = await recordInitiationAttempt(pool, paymentId, attempt);
      if (!firstSend) {
        const lookup = await adapter.findPayoutByReference(paymentId, payment.mode as PayoutMethod);
        log(payment).warn(
          { attempt, lookup: lookup.kind },
          'payout attempt re-run: asked the operator first',
        );
        if (lookup.kind === 'found') {
          await recordFound(payment, lookup);
          return { kind: 'sent' };
        }
        if (lookup.kind === 'cannot_tell')
          return { kind: 'ambiguous', detail: `re-run of attempt ${attempt}: ${lookup.detail}` };
      }

      const outcome = await adapter.initiatePayout({
        paymentId,
        amount: { amount: payment.amount, currency: payment.currency },
        method: payment.mode as PayoutMethod,
        recipientPhone: (payment.customer.phone ?? '').replace(/^\+/, ''),
        network: (payment.network ?? undefined) as Network | undefined,
        description: payment.description ?? `${payment.kind} ${paymentId}`,
        callbackUrl: callbackUrlFor(deps.publicBaseUrl, payment.operator),
      });
      log(payment).info({ attempt, outcome: outcome.kind }, 'disbursement sent');
      switch (outcome.kind) {
        case 'accepted':
          await applyTransition(pool, {
            paymentId,
            step: 'initiate',
            to: 'pending',
            actor: 'workflow',
            reason: 'operator accepted the disbursement',
            operatorReference: outcome.operatorReference,
            operatorStatus: outcome.operatorStatus,
            operatorMessage: outcome.operatorMessage,
            operatorData: outcome.raw,
          });
          return { kind: 'sent' };
        case 'rejected': {
          const refused = await applyTransition(
            pool,
            {
              paymentId,
              step: 'final',
              to: 'failed',
              actor: 'workflow',
              reason: 'operator refused the disbursement',
              failure: outcome.failure,
              operatorStatus: outcome.operatorStatus,
              operatorMessage: outcome.operatorMessage,
              operatorData: outcome.raw,
            },
            disbursementPostings('failed'),
          );
          return { kind: 'ended', ...viewOf(refused.payment) };
        }
        case 'unreachable':
          return outcome;
        case 'ambiguous': {
          const lookup = await adapter.findPayoutByReference(paymentId, payment.mode as PayoutMethod);
          if (lookup.kind === 'found') {
            await recordFound(payment, lookup);
            return { kind: 'sent' };
          }
          if (lookup.kind === 'absent')
            return { kind: 'unreachable', detail: `${outcome.detail}; operator has no such request` };
          return { kind: 'ambiguous', detail: `${outcome.detail}; ${lookup.detail}` };
        }
      }
    },

    checkDisbursementStatus,

    /** One poll of a disbursement in flight, retried by the server until definite (see pollPayinUntilDefinite). */
    async pollDisbursementUntilDefinite(paymentId: string): Promise<PayinStatusCheck> {
      return definiteOrRetry(await checkDisbursementStatus(paymentId));
    },

    /**
     * Looks again at a disbursement of unknown outcome: settled meanwhile (reconciliation), or the
     * operator now says executed (capture) or absent / failed (release). Otherwise still unknown.
     */
    async resolveUnknownDisbursement(paymentId: string): Promise<PaymentStatus> {
      const payment = await load(paymentId);
      if (payment.status !== 'unknown' && payment.status !== 'pending') return payment.status;
      const adapter = adapterFor(payment);
      const method = payment.mode as PayoutMethod;
      let verdict:
        | { to: 'succeeded' | 'failed'; reason: string; failure?: PaymentFailure; operatorStatus?: string }
        | undefined;
      if (payment.operatorReference) {
        const report = await adapter.checkPayoutStatus(
          { paymentId, operatorReference: payment.operatorReference },
          method,
        );
        if (report.reachable && (report.status === 'succeeded' || report.status === 'failed')) {
          verdict = {
            to: report.status,
            reason: `status API says ${report.operatorStatus}`,
            failure: report.failure,
            operatorStatus: report.operatorStatus,
          };
        }
      } else {
        const lookup = await adapter.findPayoutByReference(paymentId, method);
        if (lookup.kind === 'absent') {
          verdict = {
            to: 'failed',
            reason: 'the operator has no such request: it was never executed',
            failure: {
              code: 'not_executed',
              message: 'The operator confirms it never executed this disbursement',
            },
          };
        } else if (
          lookup.kind === 'found' &&
          (lookup.report.status === 'succeeded' || lookup.report.status === 'failed')
        ) {
          verdict = {
            to: lookup.report.status,
            reason: `found at the operator: ${lookup.report.operatorStatus}`,
            failure: lookup.report.failure,
            operatorStatus: lookup.report.operatorStatus,
          };
        }
      }
      if (!verdict) return payment.status;
      log(payment).info({ to: verdict.to, reason: verdict.reason }, 'unknown disbursement resolved');
      const result = await applyTransition(
        pool,
        {
          paymentId,
          step: 'resolved',
          to: verdict.to,
          actor: 'status_check',
          reason: verdict.reason,
          failure: verdict.failure,
          operatorStatus: verdict.operatorStatus,
        },
        disbursementPostings(verdict.to),
      );
      return result.payment.status;
    },

    /** Ends a disbursement: success captures the hold, failure releases it, unknown keeps it. */
    async settleDisbursement(t: Transition): Promise<PaymentStatus> {
      const result = await applyTransition(pool, t, disbursementPostings(t.to));
      if (!result.applied && result.reason === 'not_allowed') {
        log(result.payment).error(
          { from: result.payment.status, to: t.to, step: t.step },
          'transition refused',
        );
      }
      return result.payment.status;
    },
  };
}

export type DisbursementActivities = ReturnType<typeof createDisbursementActivities>;
