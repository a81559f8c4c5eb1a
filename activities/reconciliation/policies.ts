import { feeReturnPosting, payinSucceededPosting, post } from '../../db/ledger.js';
import { lateSuccessPolicy } from '../../db/merchants.js';
import {
  applyTransition,
  getPayment,
  hostedPayinFollowsAttempt,
  insertPayment,
  type PaymentRecord,
} from '../../db/payments.js';
import {
  listPolicyCandidates,
  missingFromEarlierReport,
  noteDiscrepancy,
  resolveDiscrepancy,
  type Discrepancy,
} from '../../db/reconciliation.js';
import { derivedId } from '../../lib/ids.js';
import {
  disbursementWorkflowInput,
  paymentDeadline,
  workflowIdFor,
  type DisbursementWorkflowInput,
} from '../../lib/payment-workflows.js';
import type { PaymentStatus } from '../../lib/payments.js';
import { parseMsisdn } from '../../lib/phone.js';
import { openPhone } from '../../db/personal-vault.js';
import {
  FOR_REVIEW_FAILURES,
  disbursementPostings,
  readDisbursementOutcome,
} from '../disbursement-activities.js';
import { paymentAccess } from '../payment-access.js';
import type { ReconciliationDeps } from './index.js';

/** Marks the refunds that the late-success policy creates (the sweep starts them if need be). */
export const LATE_REFUND_REASON = 'late_success_policy';

/** Our ending for a payin the operator's report shows ended without payment; undefined if it shows it open. */
function payinEndFrom(theirStatus: string | null): 'failed' | 'cancelled' | 'expired' | undefined {
  return theirStatus === 'failed' || theirStatus === 'cancelled' || theirStatus === 'expired'
    ? theirStatus
    : undefined;
}

/**
 * What reconciliation may decide by itself about a payment the operator sees otherwise than we
 * do (late success, unknown outcomes settled); everything else stays open for a person.
 */
export function createReconciliationPolicies(deps: ReconciliationDeps) {
  const { pool } = deps;
  const { adapterFor } = paymentAccess(deps);
  const log = deps.logger.child({ component: 'reconciliation' });

  /**
   * A payin the operator reports paid after we ended it: credit the merchant (late posting), and
   * refund the payer at once when the merchant's policy says so. The credit, the return of our
   * fee and the refund's record are one database transaction, so that a crash cannot credit
   * without the refund it owes; the refund's workflow is started after, as a child of the
   * reconciliation workflow (and by the sweep if it never started). Idempotent (one step per payment).
   */
  async function lateSuccess(
    payment: PaymentRecord,
    reason: string,
  ): Promise<{ action: string; note?: string; refund?: DisbursementWorkflowInput }> {
    const postingStep = payment.status === 'unknown' ? 'payin_succeeded' : 'late_payin_succeeded';
    // An attempt of a hosted payin that had already succeeded through another: the payer paid
    // twice, and this one goes back whatever the merchant's policy (docs/checkout.md).
    const intent = payment.attemptOf ? await getPayment(pool, payment.attemptOf) : undefined;
    const paidThroughAnother =
      intent !== undefined &&
      intent.operatorReference !== null &&
      intent.operatorReference !== payment.id &&
      ['succeeded', 'partially_refunded', 'refunded'].includes(intent.status);
    const wantsRefund =
      paidThroughAnother ||
      ((await lateSuccessPolicy(pool, payment.merchantId)) === 'refund' && payment.status !== 'unknown');
    const phone = payment.customer.phoneToken
      ? await openPhone(pool, deps.vault, payment.customer.phoneToken)
      : undefined;
    const number = phone ? parseMsisdn(phone) : undefined;
    const refundTo = wantsRefund && number?.ok && number.value.network ? number.value : undefined;
    const refundId = derivedId('pay', `late-refund:${payment.id}`);
    const timing = deps.timingFor(payment.operator);
    const deadlineAt = paymentDeadline(timing, 'refund');
    await applyTransition(
      pool,
      {
        paymentId: payment.id,
        step: 'reconciliation:late_success',
        to: 'succeeded',
        actor: 'reconciliation',
        reason,
      },
      async (client, p) => {
        await post(client, payinSucceededPosting(p, postingStep));
        // Its hosted payin, ended unpaid, is paid after all through this attempt.
        if (!refundTo) {
          await hostedPayinFollowsAttempt(client, p, {
            to: 'succeeded',
            step: `reconciliation:attempt:${p.id}`,
            actor: 'reconciliation',
            reason: `its attempt ${p.id} was paid after all (${reason})`,
            only: 'any',
          });
          return;
        }
        // The payer gets back all they paid and the merchant ends where it was: our fee on a
        // payment refunded by policy goes back to the merchant, and the refund carries none.
        await post(client, feeReturnPosting(p));
        await insertPayment(client, {
          id: refundId,
          merchantId: p.merchantId,
          livemode: p.livemode,
          kind: 'refund',
          parentPaymentId: p.id,
          amount: p.amount,
          currency: p.currency,
          operator: p.operator,
          network: refundTo.network,
          mode: 'mobile_money',
          // The payer's number as the vault holds it: the refund shares its token.
          customer: { phoneToken: payment.customer.phoneToken, phoneMasked: payment.customer.phoneMasked },
          description: `Automatic refund of late payment ${p.id}`,
          metadata: { reason: LATE_REFUND_REASON },
          deadlineAt,
          workflowId: workflowIdFor('refund', refundId),
        });
      },
    );
    if (!wantsRefund) return { action: 'late_credit' };
    if (!refundTo) {
      return {
        action: 'late_credit',
        note: 'refund policy, but the payer number is unknown: refund by hand',
      };
    }
    const refund = await getPayment(pool, refundId);
    if (!refund) return { action: 'late_credit', note: 'credited earlier without a refund: refund by hand' };
    return {
      action: 'late_credit_and_refund',
      note: `refund ${refundId}`,
      refund: lateRefundInput(refund),
    };
  }

  /** The workflow input of a refund decided by the late-success policy (started by the reconciliation workflow). */
  function lateRefundInput(refund: PaymentRecord): DisbursementWorkflowInput {
    return disbursementWorkflowInput(
      {
        ...refund,
        deadlineAt: refund.deadlineAt ?? paymentDeadline(deps.timingFor(refund.operator), 'refund'),
      },
      deps.timingFor(refund.operator),
    );
  }

  /** A payin left `unknown` that the operator says ended without payment (or never saw). */
  async function endUnknownPayin(
    payment: PaymentRecord,
    to: 'failed' | 'cancelled' | 'expired',
    reason: string,
  ): Promise<void> {
    await applyTransition(
      pool,
      {
        paymentId: payment.id,
        step: 'reconciliation:end_unknown',
        to,
        actor: 'reconciliation',
        reason,
        failure: {
          code: to === 'failed' ? 'not_paid' : to,
          message: `The operator reports no payment (${reason})`,
        },
      },
      // A hosted payin left `unknown` by this attempt ends with it.
      async (client, p) => {
        await hostedPayinFollowsAttempt(client, p, {
          to,
          step: `reconciliation:attempt:${p.id}`,
          actor: 'reconciliation',
          reason: `its attempt ${p.id} ended ${to} (${reason})`,
          only: 'any',
        });
      },
    );
  }

  /** Reconciliation settles a payout or refund of unknown outcome: executed (capture) or not (release). */
  async function settleDisbursement(
    payment: PaymentRecord,
    to: 'succeeded' | 'failed',
    reason: string,
  ): Promise<PaymentStatus> {
    const result = await applyTransition(
      pool,
      {
        paymentId: payment.id,
        step: 'reconciliation:settle',
        to,
        actor: 'reconciliation',
        reason,
        ...(to === 'failed'
          ? { failure: { code: 'not_executed', message: 'The operator did not execute it (reconciliation)' } }
          : {}),
      },
      disbursementPostings(to),
    );
    return result.payment.status;
  }

  /**
   * A payout or refund of unknown outcome that a report lists or does not list. Listed executed
   * at our amount: captured; listed failed: released. Absent: never released from one report
   * alone (a payout sent at 23:59:59 and executed at 00:00:02 is on the next day's report): it
   * must be absent from the report of the day after its own too, and the operator must confirm
   * by its own call that it never executed it. One left unknown for its amount waits for a person.
   */
  async function settleUnknownDisbursement(
    payment: PaymentRecord,
    d: Discrepancy,
    runId: string,
    periodStart: Date,
  ): Promise<{ action?: string; note?: string }> {
    if (payment.failure && FOR_REVIEW_FAILURES.has(payment.failure.code)) {
      return { note: `left for review: ${payment.failure.message}` };
    }
    if (d.class === 'status_mismatch' && d.theirStatus === 'succeeded') {
      // The report states our amount (the classification compares it).
      await settleDisbursement(payment, 'succeeded', `operator report (${runId}) shows it executed`);
      return { action: 'capture' };
    }
    if (d.class === 'status_mismatch') {
      await settleDisbursement(payment, 'failed', `operator report (${runId}) says ${d.theirStatus}`);
      return { action: 'release' };
    }
    const dayAfterItsOwn = Date.parse(payment.createdAt.toISOString().slice(0, 10)) + 86_400_000;
    if (periodStart.getTime() < dayAfterItsOwn) {
      return { note: "absent from this report; the next day's report and the operator decide" };
    }
    if (!(await missingFromEarlierReport(pool, { paymentId: payment.id, runId, before: periodStart }))) {
      return { note: "absent from this report, but its own day's report was not reconciled: waiting for it" };
    }
    const verdict = await readDisbursementOutcome(adapterFor(payment), payment);
    if (!verdict) {
      return {
        note: "absent from two days' reports, but the operator cannot confirm it never executed it: for review",
      };
    }
    await settleDisbursement(
      payment,
      verdict.to,
      `absent from the reports of two days (run ${runId}); the operator says: ${verdict.reason}`,
    );
    return { action: verdict.to === 'succeeded' ? 'capture' : 'release' };
  }

  /** The discrepancies a policy may resolve, a page at a time (a report may produce many). */
  async function* policyCandidates(runId: string): AsyncGenerator<Discrepancy> {
    // A discrepancy a person already closed (carried from an earlier run) is theirs: no policy acts on it.
    let afterId: number | undefined;
    for (;;) {
      const page = await listPolicyCandidates(pool, { runId, limit: 1000, afterId });
      if (page.length === 0) break;
      yield* page;
      afterId = page[page.length - 1]!.id;
    }
  }

  /** The automatic resolutions a run's discrepancies call for; everything else stays open for review. */
  async function applyPolicies(
    runId: string,
    periodStart: Date,
  ): Promise<{ done: Record<string, number>; refunds: DisbursementWorkflowInput[] }> {
    const done: Record<string, number> = {};
    const refunds: DisbursementWorkflowInput[] = [];
    for await (const d of policyCandidates(runId)) {
      const payment = d.paymentId ? await getPayment(pool, d.paymentId) : undefined;
      if (!payment || payment.transferId) continue; // transfer legs: their transfer decides, or a person
      let action: string | undefined;
      let note: string | undefined;
      if (payment.kind === 'payin' && d.class === 'status_mismatch' && d.theirStatus === 'succeeded') {
        if (['expired', 'failed', 'cancelled', 'unknown'].includes(payment.status)) {
          const late = await lateSuccess(payment, `operator report (${runId}) shows it paid`);
          ({ action, note } = late);
          if (late.refund) refunds.push(late.refund);
        }
      } else if (payment.kind === 'payin' && payment.status === 'unknown') {
        // A payin whose initiation may or may not have reached the operator: the day's report says.
        const to = d.class === 'status_mismatch' ? payinEndFrom(d.theirStatus) : 'failed';
        if (to) {
          await endUnknownPayin(
            payment,
            to,
            d.class === 'missing_on_operator_side'
              ? `operator report (${runId}) does not list it: it never reached the operator`
              : `operator report (${runId}) says ${d.theirStatus}`,
          );
          action = `end_${to}`;
        }
      } else if (payment.kind !== 'payin' && payment.status === 'unknown') {
        ({ action, note } = await settleUnknownDisbursement(payment, d, runId, periodStart));
      }
      if (action) {
        await resolveDiscrepancy(pool, d.id, action, note ?? `applied by reconciliation run ${runId}`);
        done[action] = (done[action] ?? 0) + 1;
        log.info({ runId, paymentId: payment.id, action }, 'reconciliation resolved a discrepancy');
      } else if (note) {
        await noteDiscrepancy(pool, d.id, note);
      }
    }
    return { done, refunds };
  }

  return { lateSuccess, lateRefundInput, endUnknownPayin, settleDisbursement, applyPolicies };
}
