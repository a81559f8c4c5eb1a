import type { KeyRing } from '../lib/card-vault.js';
import { openPhone } from '../db/personal-vault.js';
import type { OperatorAdapters } from '../operators/registry.js';
import { ApplicationFailure } from '@temporalio/activity';
import { ApplicationFailureCategory } from '@temporalio/common';
import { InsufficientBalanceError, capturePosting, holdPosting, post, releasePosting } from '../db/ledger.js';
import {
  acquireSendLease,
  applyTransition,
  recordInitiationAttempt,
  recordRefundOnPayin,
  releaseSendLease,
  type PaymentRecord,
  type Transition,
} from '../db/payments.js';
import type { Pool, PoolClient } from '../db/pool.js';
import { unconfirmedAmount } from '../lib/amount-check.js';
import { operatorRequestId } from '../lib/ids.js';
import { sendLeaseMs } from '../lib/timeouts.js';
import type { Logger } from '../lib/logger.js';
import type { Network } from '../lib/networks.js';
import type { PaymentFailure, PaymentStatus, PayoutMethod } from '../lib/payments.js';
import type { DisbursementLookup, OperatorAdapter } from '../operators/types.js';
import { callbackUrlFor } from '../lib/urls.js';
import { circuitOf } from '../db/operator-health.js';
import { lookupOf, paymentAccess, recordSendOutcome, refsOf } from './payment-access.js';
import { definiteOrRetry, scrubUrls, type StatusCheck } from './status-checks.js';
import { withSendLease } from './send-lease.js';

export interface DisbursementActivityDeps {
  pool: Pool;
  operators: OperatorAdapters;
  publicBaseUrl: string;
  logger: Logger;
  /** The vault's key ring: a recipient's number is opened from it for the send alone. */
  vault: KeyRing;
  /** Route health: failures in a row that open an operator's circuit, and for how long. */
  circuit: { threshold: number; cooldownSeconds: number };
  /** Added to an operator's worst-case send for its send lease (SEND_LEASE_MARGIN_MS). */
  sendLeaseMarginMs: number;
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

/** Failures that leave a disbursement `unknown` for a person: no automatic path captures it. */
export const FOR_REVIEW_FAILURES: ReadonlySet<string> = new Set(['amount_mismatch', 'amount_unreadable']);

export interface DisbursementVerdict {
  to: 'succeeded' | 'failed';
  reason: string;
  failure?: PaymentFailure;
  operatorStatus?: string;
}

/**
 * What the operator now says of a disbursement whose outcome we do not know: executed at our
 * amount, or definitely not executed; undefined while it cannot tell, and always for one left
 * `unknown` because of its amount (rule 9: a person decides). Shared by the workflow's look-ups
 * and the sweep.
 */
export async function readDisbursementOutcome(
  adapter: OperatorAdapter,
  payment: PaymentRecord,
): Promise<DisbursementVerdict | undefined> {
  if (payment.failure && FOR_REVIEW_FAILURES.has(payment.failure.code)) return undefined;
  const method = payment.mode as PayoutMethod;
  let report: Extract<DisbursementLookup, { kind: 'found' }>['report'] | undefined;
  if (payment.operatorReference) {
    const answer = await adapter.checkPayoutStatus(refsOf(payment), method);
    if (answer.reachable) report = answer;
  } else {
    const lookup = await adapter.findPayoutByReference(lookupOf(payment), method);
    if (lookup.kind === 'absent') {
      return {
        to: 'failed',
        reason: 'the operator has no such request: it was never executed',
        failure: {
          code: 'not_executed',
          message: 'The operator confirms it never executed this disbursement',
        },
      };
    }
    if (lookup.kind === 'found') report = lookup.report;
  }
  if (!report) return undefined;
  if (report.status === 'succeeded') {
    // We sent our amount; an operator stating another (or an unreadable one) leaves it unknown.
    if (unconfirmedAmount({ ...report, amountFixedByRequest: true }, payment.amount)) return undefined;
    return {
      to: 'succeeded',
      reason: `the operator says ${report.operatorStatus}`,
      operatorStatus: report.operatorStatus,
    };
  }
  if (report.status === 'failed') {
    return {
      to: 'failed',
      reason: `the operator says ${report.operatorStatus}`,
      failure: report.failure,
      operatorStatus: report.operatorStatus,
    };
  }
  return undefined;
}

export function createDisbursementActivities(deps: DisbursementActivityDeps) {
  const { pool } = deps;

  async function load(paymentId: string): Promise<PaymentRecord> {
    const payment = await loadPayment(paymentId);
    return payment;
  }

  const { loadPayment, adapterFor, paymentLog: log } = paymentAccess(deps);

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

  async function checkDisbursementStatus(paymentId: string): Promise<StatusCheck> {
    const payment = await load(paymentId);
    if (!payment.operatorReference) return { reachable: false, detail: 'no operator reference yet' };
    const report = await adapterFor(payment).checkPayoutStatus(refsOf(payment), payment.mode as PayoutMethod);
    if (!report.reachable) {
      log(payment).warn({ detail: report.detail }, 'disbursement status check failed');
      return report;
    }
    const { raw: _raw, payerPhone: _payer, ...rest } = report;
    return rest.operatorMessage ? { ...rest, operatorMessage: scrubUrls(rest.operatorMessage) } : rest;
  }

  async function sendDisbursement(paymentId: string, attempt: number): Promise<DisbursementAttempt> {
    const payment = await load(paymentId);
    if (payment.operatorReference) return { kind: 'sent' };
    if (payment.status !== 'pending') return { kind: 'ended', ...viewOf(payment) };
    const adapter = adapterFor(payment);

    const firstSend = await recordInitiationAttempt(pool, paymentId, attempt);
    if (!firstSend) {
      const lookup = await adapter.findPayoutByReference(lookupOf(payment), payment.mode as PayoutMethod);
      log(payment).warn({ attempt, lookup: lookup.kind }, 'payout attempt re-run: asked the operator first');
      if (lookup.kind === 'found') {
        await recordFound(payment, lookup);
        return { kind: 'sent' };
      }
      if (lookup.kind === 'cannot_tell')
        return { kind: 'ambiguous', detail: `re-run of attempt ${attempt}: ${lookup.detail}` };
    }

    // A refund names the payin it gives back: operators with a refund call of their own (Orange) use it.
    const parent =
      payment.kind === 'refund' && payment.parentPaymentId ? await load(payment.parentPaymentId) : undefined;
    const recipient = payment.customer.phoneToken
      ? await openPhone(pool, deps.vault, payment.customer.phoneToken)
      : undefined;
    const outcome = await adapter.initiatePayout({
      ...(parent
        ? {
            refundOf: {
              paymentId: parent.id,
              operatorReference: parent.operatorReference,
              amount: { amount: parent.amount, currency: parent.currency },
            },
          }
        : {}),
      paymentId,
      requestId: operatorRequestId(paymentId, attempt),
      amount: { amount: payment.amount, currency: payment.currency },
      method: payment.mode as PayoutMethod,
      recipientPhone: (recipient ?? '').replace(/^\+/, ''),
      network: (payment.network ?? undefined) as Network | undefined,
      description: payment.description ?? `${payment.kind} ${paymentId}`,
      callbackUrl: callbackUrlFor(deps.publicBaseUrl, payment.operator),
    });
    log(payment).info({ attempt, outcome: outcome.kind }, 'disbursement sent');
    // The operator's health counts its payouts too: a refused key or an outage on /disburse is
    // the operator's, and payins then go to the next route (the same key often serves both).
    await recordSendOutcome(pool, circuitOf(payment.operator, payment.livemode), outcome, deps.circuit);
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
          callbackSecret: outcome.callbackSecret,
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
      case 'awaiting_payer':
        throw ApplicationFailure.nonRetryable(
          `${payment.operator} asked a payer for a disbursement`,
          'BadAdapter',
        );
      case 'ambiguous': {
        const lookup = await adapter.findPayoutByReference(lookupOf(payment), payment.mode as PayoutMethod);
        if (lookup.kind === 'found') {
          await recordFound(payment, lookup);
          return { kind: 'sent' };
        }
        if (lookup.kind === 'absent')
          return { kind: 'unreachable', detail: `${outcome.detail}; operator has no such request` };
        return { kind: 'ambiguous', detail: `${outcome.detail}; ${lookup.detail}` };
      }
    }
  }

  async function resolveUnknownDisbursement(paymentId: string): Promise<PaymentStatus> {
    const payment = await load(paymentId);
    if (payment.status !== 'unknown' && payment.status !== 'pending') return payment.status;
    const verdict = await readDisbursementOutcome(adapterFor(payment), payment);
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
      return withSendLease(
        pool,
        paymentId,
        sendLeaseMs(adapterFor(payment).worstCaseCallMs, deps.sendLeaseMarginMs),
        () => sendDisbursement(paymentId, attempt),
      );
    },

    checkDisbursementStatus,

    /** One poll of a disbursement in flight, retried by the server until definite (see pollPayinUntilDefinite). */
    async pollDisbursementUntilDefinite(paymentId: string): Promise<StatusCheck> {
      return definiteOrRetry(await checkDisbursementStatus(paymentId));
    },

    /**
     * Looks again at a disbursement of unknown outcome: settled meanwhile (reconciliation), or the
     * operator now says executed at our amount (capture) or not executed (release). Otherwise
     * still unknown; one left unknown for its amount waits for a person.
     */
    resolveUnknownDisbursement,

    /**
     * A transfer's look-up of a leg of unknown outcome, as the retries of this one activity
     * (benign failures until settled), so that its wait costs no history event per look.
     */
    async resolveUnknownDisbursementUntilSettled(paymentId: string): Promise<PaymentStatus> {
      const status = await resolveUnknownDisbursement(paymentId);
      if (status === 'succeeded' || status === 'failed') return status;
      throw ApplicationFailure.create({
        type: 'StillUnknown',
        message: `the outcome of ${paymentId} is not known yet`,
        category: ApplicationFailureCategory.BENIGN,
      });
    },

    /**
     * The workflow was cancelled (from the UI or the API): nothing held, it is cancelled; held but
     * never sent, the hold is released; possibly sent, it stays `unknown` with its hold, for the
     * sweep and reconciliation. Never leaves a hold without a payment that accounts for it.
     */
    async abandonDisbursement(paymentId: string, reason: string): Promise<PaymentStatus> {
      // The send activity learns of the cancellation only at its next heartbeat: it may still be
      // about to send. Deciding under the send lease closes that gap: while a send holds it the
      // payout may go out (`unknown`, hold kept); once we hold it, a send that starts later finds
      // the payment no longer pending and sends nothing.
      const owner = `abandon:${paymentId}`;
      const first = await load(paymentId);
      const leased = await acquireSendLease(
        pool,
        paymentId,
        owner,
        sendLeaseMs(adapterFor(first).worstCaseCallMs, deps.sendLeaseMarginMs),
      );
      try {
        for (let tries = 0; tries < 2; tries++) {
          const payment = await load(paymentId);
          const neverSent = leased && payment.initiationAttempts === 0 && !payment.operatorReference;
          const to: PaymentStatus | undefined =
            payment.status === 'created'
              ? 'cancelled'
              : payment.status === 'pending'
                ? neverSent
                  ? 'failed'
                  : 'unknown'
                : undefined;
          if (!to) return payment.status;
          const result = await applyTransition(
            pool,
            {
              paymentId,
              step: 'abandoned',
              to,
              actor: 'workflow',
              reason: `workflow cancelled: ${reason}`,
              failure:
                to === 'unknown'
                  ? {
                      code: 'operator_outcome_unknown',
                      message: 'Cancelled after it may have been sent; the hold is kept',
                    }
                  : { code: 'cancelled', message: 'Cancelled before anything was sent' },
            },
            disbursementPostings(to),
          );
          // Refused: the payment moved meanwhile (its hold was just placed); decide again.
          if (!result.applied && result.reason === 'not_allowed') continue;
          log(result.payment).warn({ to: result.payment.status }, 'disbursement workflow cancelled');
          return result.payment.status;
        }
        return (await load(paymentId)).status;
      } finally {
        if (leased) await releaseSendLease(pool, paymentId, owner).catch(() => undefined);
      }
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
