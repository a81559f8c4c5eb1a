import { Context } from '@temporalio/activity';
import { WorkflowNotFoundError } from '@temporalio/client';
import { latestTrustedCallback } from '../../db/callbacks.js';
import { applyTransition, getPayment, listAttemptsOf, type PaymentRecord } from '../../db/payments.js';
import { listStalledHostedPayins } from '../../db/checkout.js';
import { recordDuplicateAttemptRefund } from '../checkout-activities.js';
import {
  claimDisbursementsToSweep,
  claimPayinsToSweep,
  finishRun,
  insertDiscrepancy,
  startRun,
} from '../../db/reconciliation.js';
import { listStalledTransfers, setTransferStatus } from '../../db/transfers.js';
import { unconfirmedAmount, type AmountStatement } from '../../lib/amount-check.js';
import { errorSummary, type Logger } from '../../lib/logger.js';
import type { DisbursementWorkflowInput } from '../../lib/payment-workflows.js';
import type { PayinMode } from '../../lib/payments.js';
import type { ParsedCallback } from '../../operators/types.js';
import { readDisbursementOutcome } from '../disbursement-activities.js';
import { paymentAccess, refsOf } from '../payment-access.js';
import type { ReconciliationDeps, RunSummary } from './index.js';
import { LATE_REFUND_REASON, type createReconciliationPolicies } from './policies.js';

export function createSweep(
  deps: ReconciliationDeps,
  policies: ReturnType<typeof createReconciliationPolicies>,
) {
  const { pool } = deps;
  const { adapterFor } = paymentAccess(deps);
  const log = deps.logger.child({ component: 'reconciliation' });

  /**
   * The frequent sweep: payments left open or unknown past their deadline are looked at again
   * through the operator (status API, lookup by our reference, or a verified late notification)
   * and settled; stuck ones whose workflow is gone are ended.
   */
  async function sweepOperator(r: {
    runId: string;
    operator: string;
    triggeredBy: string;
    workflowId?: string;
  }): Promise<RunSummary> {
    await startRun(pool, {
      id: r.runId,
      operator: r.operator,
      kind: 'sweep',
      triggeredBy: r.triggeredBy,
      workflowId: r.workflowId,
    });
    const refundsToStart: DisbursementWorkflowInput[] = [];
    const summary: Record<string, number> = { payins_checked: 0, disbursements_checked: 0 };
    const count = (k: string) => (summary[k] = (summary[k] ?? 0) + 1);
    const record = async (payment: PaymentRecord, action: string, reason: string, theirStatus: string) => {
      await insertDiscrepancy(pool, {
        runId: r.runId,
        operator: r.operator,
        class: 'status_mismatch',
        paymentId: payment.id,
        merchantId: payment.merchantId,
        ourReference: payment.id,
        operatorReference: payment.operatorReference,
        lineNo: null,
        ourAmount: payment.amount,
        theirAmount: null,
        ourStatus: payment.status,
        theirStatus,
        resolution: 'auto_resolved',
        action,
        actionReason: reason,
      });
      count(action);
    };

    // Payins ended (or left unknown) while the operator may have been paid after all.
    const window = { operator: r.operator, ...deps.sweep };
    for (const id of await claimPayinsToSweep(pool, window)) {
      const payment = (await getPayment(pool, id))!;
      count('payins_checked');
      const open = ['created', 'pending', 'action_required'].includes(payment.status);
      // Only a workflow Temporal says it does not have is not running; "cannot tell" (Temporal
      // unavailable, throttled) leaves the payment alone until the next sweep.
      if (open && (await workflowState(payment.workflowId)) !== 'not_found') continue;
      let paid: (AmountStatement & { word: string }) | undefined;
      let ended: { status: 'failed' | 'cancelled' | 'expired'; word: string } | undefined;
      // The payment's own mode's operator: a test payment is asked of the sandbox.
      const op = adapterFor(payment);
      if (op.payinConfirmation(payment.mode as PayinMode) === 'callback') {
        const cb = (await latestTrustedCallback(pool, id))?.parsed as ParsedCallback | undefined;
        if (cb?.reportedStatus === 'succeeded') paid = { amount: cb.amount, word: cb.operatorStatus };
      } else if (payment.operatorReference) {
        const report = await op.checkPayinStatus(refsOf(payment));
        if (report.reachable && report.status === 'succeeded')
          paid = {
            amount: report.amount,
            amountUnreadable: report.amountUnreadable,
            amountFixedByRequest: report.amountFixedByRequest,
            word: report.operatorStatus,
          };
        if (
          report.reachable &&
          (report.status === 'failed' || report.status === 'cancelled' || report.status === 'expired')
        ) {
          ended = { status: report.status, word: report.operatorStatus };
        }
      }
      // Paid, at an amount the operator states as ours (rule 9); otherwise the settlement
      // report, which states every amount, decides.
      if (paid && !unconfirmedAmount(paid, payment.amount)) {
        const { action, note, refund } = await policies.lateSuccess(
          payment,
          `the operator says ${paid.word} (sweep ${r.runId})`,
        );
        if (refund) refundsToStart.push(refund);
        await record(payment, action, note ?? `operator says ${paid.word}`, 'succeeded');
      } else if (payment.status === 'unknown' && ended) {
        await policies.endUnknownPayin(
          payment,
          ended.status,
          `sweep ${r.runId}: the operator says ${ended.word}`,
        );
        await record(payment, `end_${ended.status}`, `operator says ${ended.word}`, ended.status);
      } else if (open) {
        // The workflow is gone and the deadline passed: end it on what the operator says.
        const to = ended?.status ?? 'expired';
        await applyTransition(pool, {
          paymentId: id,
          step: 'reconciliation:sweep_end',
          to,
          actor: 'reconciliation',
          reason: `sweep ${r.runId}: deadline passed, no workflow running; operator says ${ended?.word ?? 'nothing definite'}`,
          failure: { code: to, message: `Ended by the sweep (${ended?.word ?? 'deadline passed'})` },
        });
        await record(payment, `end_${to}`, 'deadline passed and no workflow running', ended?.word ?? 'none');
      }
    }

    // Payouts and refunds whose outcome is unknown, and those left open by a workflow that no
    // longer runs (terminated, cancelled, never started): ask the operator again. Each sweep
    // takes the ones looked at longest ago, so that a large backlog is worked through in turn.
    for (const id of await claimDisbursementsToSweep(pool, window)) {
      const payment = (await getPayment(pool, id))!;
      count('disbursements_checked');
      if (payment.status !== 'unknown') {
        const state = await workflowState(payment.workflowId);
        if (state === 'running' || state === 'cannot_tell') continue;
        if (
          payment.status === 'created' &&
          payment.metadata.reason === LATE_REFUND_REASON &&
          state === 'not_found'
        ) {
          // Owed to a payer by the late-success policy: started, never dropped.
          refundsToStart.push(policies.lateRefundInput(payment));
          await record(payment, 'start_late_refund', 'its workflow had not been started', 'none');
          continue;
        }
        if (payment.status === 'created') {
          // Recorded, never started (or stopped before its hold): nothing was held or sent.
          await applyTransition(pool, {
            paymentId: id,
            step: 'reconciliation:not_started',
            to: 'failed',
            actor: 'reconciliation',
            reason: `sweep ${r.runId}: the ${payment.kind} was recorded but its workflow never ran; nothing was held or sent`,
            failure: {
              code: 'not_started',
              message: `The ${payment.kind} was never started; nothing was paid out`,
            },
          });
          await record(payment, 'end_not_started', 'no workflow ran', 'none');
          continue;
        }
      }
      const verdict = await readDisbursementOutcome(adapterFor(payment), payment);
      if (verdict) {
        await policies.settleDisbursement(payment, verdict.to, `sweep ${r.runId}: ${verdict.reason}`);
        await record(
          payment,
          verdict.to === 'succeeded' ? 'capture' : 'release',
          'settled by the sweep',
          verdict.to,
        );
      } else if (payment.status === 'pending') {
        // Its workflow is gone and the operator cannot tell yet: the hold stays, as `unknown`.
        await applyTransition(pool, {
          paymentId: id,
          step: 'reconciliation:orphaned',
          to: 'unknown',
          actor: 'reconciliation',
          reason: `sweep ${r.runId}: its workflow no longer runs and the operator cannot tell the outcome yet; hold kept`,
          failure: {
            code: 'operator_outcome_unknown',
            message: 'The outcome is not known yet; the hold is kept',
          },
        });
        await record(payment, 'keep_unknown', 'workflow gone, outcome not known', 'none');
      }
    }
    // Transfers collected through this operator whose workflow no longer runs (terminated,
    // reset away, never started): their money is somewhere between the legs; a person decides.
    const stalled = await listStalledTransfers(pool, {
      operator: r.operator,
      lookbackDays: deps.sweep.lookbackDays,
      limit: deps.sweep.batch,
    });
    for (const t of stalled) {
      count('transfers_checked');
      const state = await workflowState(t.workflowId);
      if (state === 'running' || state === 'cannot_tell') continue;
      await setTransferStatus(pool, {
        transferId: t.id,
        step: 'reconciliation:orphaned',
        to: 'needs_review',
        reason: `sweep ${r.runId}: the transfer workflow is ${state === 'closed' ? 'closed' : 'gone'} but the transfer is not finished`,
        failure: {
          code: 'transfer_workflow_gone',
          message: 'The transfer stopped between its legs; the money is reviewed by a person',
        },
      });
      log.error({ transferId: t.id, runId: r.runId }, 'TRANSFER NEEDS REVIEW: its workflow no longer runs');
      count('transfers_to_review');
    }

    // Hosted payins past their deadline whose workflow no longer runs (terminated from the UI,
    // reset away): settled from their attempts, as their workflow would have (docs/checkout.md).
    // Any operator's sweep does it; each hosted payin is ended once (one step).
    for (const h of await listStalledHostedPayins(pool, {
      lookbackDays: deps.sweep.lookbackDays,
      limit: deps.sweep.batch,
    })) {
      const state = await workflowState(h.workflowId);
      if (state === 'running' || state === 'cannot_tell') continue;
      count('hosted_payins_checked');
      const attempts = await listAttemptsOf(pool, h.id);
      const paid = attempts.filter((a) => ['succeeded', 'partially_refunded', 'refunded'].includes(a.status));
      // An attempt still running ends by itself: the next sweep looks again.
      if (attempts.some((a) => ['created', 'pending', 'action_required'].includes(a.status))) continue;
      const open = attempts.some((a) => a.status === 'unknown');
      const last = attempts.at(-1);
      const ending = paid[0]
        ? ({ to: 'succeeded', operatorReference: paid[0].id } as const)
        : open
          ? ({ to: 'unknown' } as const)
          : ({
              to: 'expired',
              failure: last?.failure ?? {
                code: 'checkout_expired',
                message: 'The payer did not pay before the deadline',
              },
            } as const);
      const result = await applyTransition(pool, {
        paymentId: h.id,
        step: 'reconciliation:hosted_orphaned',
        actor: 'reconciliation',
        reason: `sweep ${r.runId}: its workflow is ${state === 'closed' ? 'closed' : 'gone'}; settled from its attempts`,
        ...ending,
      });
      if (!result.applied) continue;
      count(`hosted_payins_${ending.to}`);
      log.warn({ paymentId: h.id, runId: r.runId, to: ending.to }, 'hosted payin settled by the sweep');
      // The payer paid more than once: every payment after the first goes back.
      for (const again of paid.slice(1)) {
        refundsToStart.push(await recordDuplicateAttemptRefund(deps, again.id));
      }
    }

    await finishRun(pool, {
      id: r.runId,
      status: 'completed',
      paymentsChecked: (summary.payins_checked ?? 0) + (summary.disbursements_checked ?? 0),
      summary,
    });
    return { runId: r.runId, status: 'completed', linesIngested: 0, summary, refundsToStart };
  }

  const workflowState = (workflowId: string) => workflowStateOf(workflowId, log);

  return sweepOperator;
}

/** Whether a payment's workflow runs, as Temporal says (from an activity). */
export async function workflowStateOf(
  workflowId: string,
  log: Logger,
): Promise<'running' | 'closed' | 'not_found' | 'cannot_tell'> {
  try {
    // The worker's own client (the activity's context): activities make none of their own.
    const d = await Context.current().client.workflow.getHandle(workflowId).describe();
    return d.status.name === 'RUNNING' ? 'running' : 'closed';
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return 'not_found';
    log.warn({ workflowId, err: errorSummary(err) }, 'cannot tell whether a workflow runs: left alone');
    return 'cannot_tell';
  }
}
