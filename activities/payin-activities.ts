import type { OperatorAdapters } from '../operators/registry.js';
import { ApplicationFailure } from '@temporalio/activity';
import { latestTrustedCallback } from '../db/callbacks.js';
import { circuitOf } from '../db/operator-health.js';
import {
  applyTransition,
  forgetPayinOtp,
  getPaymentWithSlot,
  rememberPayerPhone,
  switchPaymentOperator,
  recordInitiationAttempt,
  type ClaimedSend,
  type PaymentRecord,
  type Transition,
} from '../db/payments.js';
import type { Pool } from '../db/pool.js';
import type { KeyRing } from '../lib/card-vault.js';
import { operatorRequestId } from '../lib/ids.js';
import type { Logger } from '../lib/logger.js';
import type { Network } from '../lib/networks.js';
import { type NextAction, type PaymentFailure, type PaymentStatus, type PayinMode } from '../lib/payments.js';
import { payinSucceededPosting, post } from '../db/ledger.js';
import { callbackUrlFor, checkoutUrlFor } from '../lib/urls.js';
import type { ParsedCallback } from '../operators/types.js';
import { paymentAccess, recordSendOutcome, refsOf } from './payment-access.js';
import { sendLeasesByCircuit, withClaimedSend, type HeldLease } from './send-lease.js';
import type { OperatorPacer } from './operator-pacing.js';
import { definiteOrRetry, scrubUrls, type Confirmation, type StatusCheck } from './status-checks.js';
import { settleWeighedCallbacks } from './callback-activities.js';
import {
  decideAtDeadline,
  decideFromStatus,
  weighCallbacks,
  type CallbackHint,
  type OutcomeDecision,
} from '../lib/payment-decisions.js';

export interface PayinActivityDeps {
  pool: Pool;
  operators: OperatorAdapters;
  /** Base URL operators use to reach our callback endpoints. */
  publicBaseUrl: string;
  logger: Logger;
  /** The vault's key ring: payers' numbers and OTPs are opened from it for the send alone. */
  vault: KeyRing;
  /** Route health: failures in a row that open an operator's circuit, and for how long. */
  circuit: { threshold: number; cooldownSeconds: number };
  /** Added to an operator's worst-case send for its send lease (SEND_LEASE_MARGIN_MS). */
  sendLeaseMarginMs: number;
  /** Each operator's rate limit, shared by every worker (activities/operator-pacing.ts). */
  pacer: OperatorPacer;
}

/** Result of one initiation attempt, in the workflow's terms. */
export type InitiationAttempt =
  | {
      kind: 'initiated';
      status: PaymentStatus;
      nextAction: NextAction;
      failure?: PaymentFailure;
      /** Nothing sent yet: the payer gives their number on our page first (`payerDetailsUpdate`). */
      awaitingPayer?: boolean;
    }
  | { kind: 'unreachable' | 'ambiguous'; detail: string }
  /** Nothing was sent: the operator's circuit is open, or it refused for reasons of its own. Another route may take it. */
  | { kind: 'route_down' | 'route_failed'; detail: string };

function nextActionForHistory(a: NextAction | null): NextAction {
  if (!a) return { type: 'none' };
  switch (a.type) {
    case 'redirect':
      return { type: 'redirect', url: '[in the payment record]' };
    case 'form_post':
      return {
        type: 'form_post',
        url: '[in the payment record]',
        fields: {},
        redirect_url: '[in the payment record]',
      };
    default:
      return a;
  }
}

function viewOf(p: PaymentRecord): Extract<InitiationAttempt, { kind: 'initiated' }> {
  return {
    kind: 'initiated',
    status: p.status,
    nextAction: nextActionForHistory(p.nextAction),
    ...(p.failure ? { failure: { code: p.failure.code, message: scrubUrls(p.failure.message) } } : {}),
  };
}

export function createPayinActivities(deps: PayinActivityDeps) {
  const { pool } = deps;

  const { loadPayment, adapterFor: operatorFor, paymentLog: log } = paymentAccess(deps);
  const sendLeases = sendLeasesByCircuit(deps.operators, deps.sendLeaseMarginMs);

  /**
   * Asks the operator where the payin stands: the status API is the truth (DESIGN.md rule 1).
   * For an operator without one (TMoney online), the verified notification is the answer.
   */
  async function checkPayinStatus(paymentId: string): Promise<StatusCheck> {
    return observePayin(await loadPayment(paymentId));
  }

  async function observePayin(payment: PaymentRecord): Promise<StatusCheck> {
    const paymentId = payment.id;
    const adapter = operatorFor(payment);
    if (adapter.payinConfirmation(payment.mode as PayinMode) === 'callback') {
      return outcomeFromCallback(await latestTrustedCallback(pool, paymentId));
    }
    // Nothing reached the operator yet (the payer has not given their number on our page):
    // nothing can have been paid.
    if (!payment.operatorReference) {
      return { reachable: true, status: 'pending', operatorStatus: 'not sent to the operator yet' };
    }
    const report = await adapter.checkPayinStatus(refsOf(payment));
    if (!report.reachable) {
      log(payment).warn({ detail: report.detail }, 'payin status check failed');
      return report;
    }
    // The payer's number stays out of workflow histories: it goes straight to the payment.
    const { raw: _raw, payerPhone, ...rest } = report;
    if (payerPhone && !payment.customer.phoneToken)
      await rememberPayerPhone(pool, deps.vault, paymentId, payerPhone);
    return rest.operatorMessage ? { ...rest, operatorMessage: scrubUrls(rest.operatorMessage) } : rest;
  }

  /** Sends a payin the activity holds the send lease of (claimed: its row read under the lease). */
  async function sendPayin(
    { payment, otp: pendingOtp, phone, circuitOpen }: ClaimedSend,
    lease: HeldLease,
    attempt: number,
    options: { canFailOver?: boolean; payerGiven?: boolean },
  ): Promise<InitiationAttempt> {
    const paymentId = payment.id;
    // The send after the payer gave their number on our page: only while nothing was sent yet.
    const afterPayer = options.payerGiven === true;
    const sendable = afterPayer
      ? payment.status === 'action_required' && !payment.operatorReference
      : payment.status === 'created';
    if (!sendable) return viewOf(payment);
    const operator = operatorFor(payment);
    if (circuitOpen) {
      return { kind: 'route_down', detail: `${payment.operator} is marked down (circuit open)` };
    }
    const firstSend = await recordInitiationAttempt(pool, paymentId, attempt);
    if (!firstSend && payment.mode === 'direct') {
      return {
        kind: 'ambiguous',
        detail: `attempt ${attempt} may already have reached ${payment.operator}`,
      };
    }
    const otp = payment.mode === 'direct' ? pendingOtp : undefined;
    const outcome = await operator.initiatePayin({
      paymentId,
      requestId: operatorRequestId(paymentId, attempt),
      amount: { amount: payment.amount, currency: payment.currency },
      mode: payment.mode as PayinMode,
      network: (payment.network ?? undefined) as Network | undefined,
      customer: {
        phone: phone?.replace(/^\+/, ''),
        firstName: payment.customer.firstName,
        lastName: payment.customer.lastName,
        email: payment.customer.email,
        language: payment.customer.language,
      },
      otp,
      description: payment.description ?? `Payment ${paymentId}`,
      returnUrl: payment.returnUrl ?? undefined,
      cancelUrl: payment.cancelUrl ?? undefined,
      callbackUrl: callbackUrlFor(deps.publicBaseUrl, payment.operator),
      checkoutUrl: checkoutUrlFor(deps.publicBaseUrl, paymentId),
    });
    log(payment).info({ attempt, outcome: outcome.kind }, 'payin initiation answered');
    await recordSendOutcome(pool, circuitOf(payment.operator, payment.livemode), outcome, deps.circuit);
    if (outcome.kind === 'unreachable' || outcome.kind === 'ambiguous') return outcome;
    if (outcome.kind === 'rejected' && outcome.operatorSide && options.canFailOver) {
      return { kind: 'route_failed', detail: `${payment.operator}: ${outcome.failure.message}` };
    }
    const step = afterPayer ? 'initiate:payer' : 'initiate';
    if (outcome.kind === 'awaiting_payer') {
      if (afterPayer)
        throw ApplicationFailure.nonRetryable('the payer gave no usable number', 'NoPayerNumber');
      const waiting = await applyTransition(pool, {
        paymentId,
        step,
        to: 'action_required',
        actor: 'workflow',
        reason: 'waiting for the payer to give their number on our page',
        nextAction: outcome.nextAction,
        releaseLeaseOf: lease.owner,
      });
      lease.givenBack = waiting.applied;
      return { ...viewOf(waiting.payment), awaitingPayer: true };
    }

    const transition: Transition =
      outcome.kind === 'accepted'
        ? {
            paymentId,
            step,
            to: outcome.status,
            actor: 'workflow',
            reason: 'operator accepted the payin',
            operatorReference: outcome.operatorReference,
            nextAction: outcome.nextAction,
            operatorStatus: outcome.operatorStatus,
            operatorMessage: outcome.operatorMessage,
            operatorData: outcome.raw,
            callbackSecret: outcome.callbackSecret,
          }
        : {
            paymentId,
            step,
            to: 'failed',
            actor: 'workflow',
            reason: 'operator refused the payin',
            failure: outcome.failure,
            operatorStatus: outcome.operatorStatus,
            operatorMessage: outcome.operatorMessage,
            operatorData: outcome.raw,
          };
    // The answer recorded ends the send: the same statement gives the lease back.
    const result = await applyTransition(pool, { ...transition, releaseLeaseOf: lease.owner });
    lease.givenBack = result.applied;
    if (otp) await forgetPayinOtp(pool, paymentId);
    return viewOf(result.payment);
  }

  async function initiatePayin(
    paymentId: string,
    attempt: number,
    options: { canFailOver?: boolean; payerGiven?: boolean } = {},
  ): Promise<InitiationAttempt> {
    return withClaimedSend(pool, deps.vault, paymentId, sendLeases, (claimed, lease) =>
      sendPayin(claimed, lease, attempt, options),
    );
  }

  async function confirmPayinOutcome(
    paymentId: string,
    hints: CallbackHint[],
    options: { atDeadline?: boolean } = {},
  ): Promise<Confirmation> {
    return confirmWith(await loadPayment(paymentId), hints, options);
  }

  async function confirmWith(
    payment: PaymentRecord,
    hints: CallbackHint[],
    options: { atDeadline?: boolean },
  ): Promise<Confirmation> {
    const observation = await observePayin(payment);
    const decision = options.atDeadline
      ? decideAtDeadline(observation, payment.amount)
      : decideFromStatus(observation, payment.amount);
    return concludePayin(payment, observation, decision, hints);
  }

  return {
    /**
     * Sends the payin to the operator once and records its answer. Safe to re-run: an answer
     * already recorded is returned as is, and a direct payin whose attempt may already have gone
     * out is reported ambiguous instead of being sent again (the payer could be charged twice).
     */
    initiatePayin,

    /**
     * initiatePayin run as a local activity (shape 3 payins), which no task queue holds to the
     * operator's limit: the statement that claims the send lease also reserves the call's slot in
     * the operator's sends lane, and the lease covers the wait for it. The operator is the
     * workflow's: the one the payin is routed to now.
     */
    async initiatePayinLocally(
      operator: string,
      paymentId: string,
      attempt: number,
      options: { canFailOver?: boolean; payerGiven?: boolean } = {},
    ): Promise<InitiationAttempt> {
      return withClaimedSend(
        pool,
        deps.vault,
        paymentId,
        sendLeases,
        (claimed, lease) => sendPayin(claimed, lease, attempt, options),
        { slot: deps.pacer.laneFor(operator, 'sends'), pacer: deps.pacer },
      );
    },

    checkPayinStatus,

    /**
     * One poll of a payin waiting for its payer, run by the server's retry policy: answers only
     * when the operator's answer is definite, and otherwise fails (benign, not logged as an
     * error) so that the server runs it again at the next backoff. Waiting this way costs no
     * workflow task and no history event per poll (Temporal's "infrequent polling" pattern), so
     * thousands of payins can wait at once on a small worker.
     */
    async pollPayinUntilDefinite(paymentId: string): Promise<StatusCheck> {
      return definiteOrRetry(await checkPayinStatus(paymentId));
    },

    /** Moves a payin not yet sent anywhere to the next route (failover), with an event saying why. */
    async switchPayinRoute(paymentId: string, operator: string, reason: string): Promise<boolean> {
      return switchPaymentOperator(pool, paymentId, operator, reason);
    },

    recordPayinTransition,

    /**
     * Asks the operator where the payin stands, weighs the callback hints against the answer and,
     * when it is definite (or the deadline has passed), records the end with its ledger entry:
     * what checkPayinStatus, settleOperatorCallbacks and recordPayinTransition did as three
     * activities. Safe to re-run: the end is recorded once per payment (step `final`).
     */
    confirmPayinOutcome,

    /** confirmPayinOutcome run as a local activity (shape 3 payins), paced like initiatePayinLocally. */
    async confirmPayinOutcomeLocally(
      operator: string,
      paymentId: string,
      hints: CallbackHint[],
      options: { atDeadline?: boolean } = {},
    ): Promise<Confirmation> {
      const found = await getPaymentWithSlot(pool, paymentId, deps.pacer.laneFor(operator, 'sends'));
      if (!found) throw ApplicationFailure.nonRetryable(`payment ${paymentId} not found`, 'PaymentNotFound');
      await deps.pacer.waitForSlot(found.waitMs);
      return confirmWith(found.payment, hints, options);
    },

    /**
     * One poll of a waiting payin, run by the server's retry policy until the operator's answer
     * is definite (see pollPayinUntilDefinite); the definite answer is recorded as the end here,
     * so that the workflow only mirrors it.
     */
    async pollPayinUntilEnded(paymentId: string): Promise<Confirmation> {
      const payment = await loadPayment(paymentId);
      const observation = definiteOrRetry(await observePayin(payment));
      return concludePayin(payment, observation, decideFromStatus(observation, payment.amount), []);
    },
  };

  /**
   * Records a transition decided by the workflow (idempotent per step); a success is posted to
   * the ledger in the same database transaction.
   */
  async function recordPayinTransition(t: Transition): Promise<PaymentStatus> {
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
  }

  /** Records a definite decision as the payin's end, then the callbacks' verdicts. */
  async function concludePayin(
    payment: PaymentRecord,
    observation: StatusCheck,
    decision: OutcomeDecision,
    hints: CallbackHint[],
  ): Promise<Confirmation> {
    const weighed = weighCallbacks(hints, observation, payment.amount);
    let ended: Confirmation['ended'];
    if (decision.final) {
      const observed = observation.reachable ? observation : undefined;
      const status = await recordPayinTransition({
        paymentId: payment.id,
        step: 'final',
        to: decision.status,
        actor: 'status_check',
        reason: decision.reason,
        failure: decision.failure,
        operatorStatus: observed?.operatorStatus,
        operatorMessage: observed?.operatorMessage,
        operatorData: observed ? { status: observed.status, amount: observed.amount } : undefined,
      });
      ended = decision.failure ? { status, failure: decision.failure } : { status };
    }
    await settleWeighedCallbacks(pool, weighed);
    return { observation, ...(ended ? { ended } : {}), undecided: weighed.undecided };
  }
}

export type PayinActivities = ReturnType<typeof createPayinActivities>;

/** A verified callback read as a status answer (operators without a status API). */
function outcomeFromCallback(row: { id: number; parsed: unknown } | undefined): StatusCheck {
  if (!row) return { reachable: true, status: 'pending', operatorStatus: 'no notification yet' };
  const cb = row.parsed as ParsedCallback;
  return {
    reachable: true,
    status: cb.reportedStatus,
    operatorStatus: cb.operatorStatus,
    operatorMessage: cb.operatorMessage,
    amount: cb.amount,
    failure: cb.failure,
  };
}
