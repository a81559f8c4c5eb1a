import readline from 'node:readline';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ApplicationFailure } from '@temporalio/activity';
import { WorkflowExecutionAlreadyStartedError, WorkflowNotFoundError, type Client } from '@temporalio/client';
import { from as copyFrom } from 'pg-copy-streams';
import { feeReturnPosting, payinSucceededPosting, post } from '../db/ledger.js';
import { applyTransition, getPayment, insertPayment, type PaymentRecord } from '../db/payments.js';
import type { Pool } from '../db/pool.js';
import {
  STAGING_COPY,
  classifyStagedReport,
  createStagingTable,
  finishRun,
  insertDiscrepancy,
  listDiscrepancies,
  resolveDiscrepancy,
  type Discrepancy,
  noteDiscrepancy,
  startRun,
} from '../db/reconciliation.js';
import { unconfirmedAmount, type AmountStatement } from '../lib/amount-check.js';
import { derivedId } from '../lib/ids.js';
import type { OperatorTiming } from '../lib/operators.js';
import { errorSummary, type Logger } from '../lib/logger.js';
import type { PayinMode, PaymentStatus } from '../lib/payments.js';
import { parseMsisdn } from '../lib/phone.js';
import { setTransferStatus } from '../db/transfers.js';
import type { OperatorName } from '../lib/operators.js';
import type { OperatorAdapter, ParsedCallback, ReportLine } from '../operators/types.js';
import { SA, workflowIdFor, type DisbursementWorkflowInput } from '../workflows/shared.js';
import {
  FOR_REVIEW_FAILURES,
  disbursementPostings,
  readDisbursementOutcome,
} from './disbursement-activities.js';

export interface ReconciliationDeps {
  pool: Pool;
  operators: Record<OperatorName, OperatorAdapter>;
  logger: Logger;
  /** Starts refunds decided by a late-success policy, and looks at workflows the sweep finds stuck. */
  temporal: Client;
  taskQueue: string;
  timingFor: (operator: string) => OperatorTiming;
  sweep: { lookbackDays: number; batch: number; recheckMinutes: number };
}

export interface RunSummary {
  runId: string;
  status: 'completed' | 'failed';
  linesIngested: number;
  summary: Record<string, number>;
  error?: string;
}

// ------------------------------------------------------------------ streaming ingestion

/** Marks the refunds that the late-success policy creates (the sweep starts them if need be). */
export const LATE_REFUND_REASON = 'late_success_policy';

/** One COPY text-format field: NULL as \N, and the characters COPY reserves escaped. */
function copyField(v: string | number | null | undefined): string {
  if (v === null || v === undefined) return '\\N';
  return String(v).replace(/\\/g, '\\\\').replace(/\t/g, '\\t').replace(/\n/g, '\\n').replace(/\r/g, '\\r');
}

/**
 * Reads the report line by line and yields COPY rows in chunks of about 64 KB: memory stays flat
 * whatever the report's size (no line is kept after it is written).
 */
async function* copyChunks(
  body: Readable,
  parseLine: (line: string) => ReportLine | null | { error: string },
  counter: { lines: number },
) {
  const lines = readline.createInterface({ input: body, crlfDelay: Infinity });
  let chunk = '';
  for await (const line of lines) {
    const parsed = parseLine(line);
    if (parsed === null) continue;
    const n = ++counter.lines;
    const fields =
      'error' in parsed
        ? [n, null, null, null, null, null, null, null, null, parsed.error]
        : [
            n,
            parsed.ourReference,
            parsed.operatorReference,
            parsed.kind,
            parsed.amount,
            parsed.currency,
            parsed.status,
            parsed.operatorStatus,
            parsed.occurredAt,
            null,
          ];
    chunk += `${fields.map(copyField).join('\t')}\n`;
    if (chunk.length >= 65_536) {
      yield chunk;
      chunk = '';
    }
  }
  if (chunk) yield chunk;
}

/** Our ending for a payin the operator's report shows ended without payment; undefined if it shows it open. */
function payinEndFrom(theirStatus: string | null): 'failed' | 'cancelled' | 'expired' | undefined {
  return theirStatus === 'failed' || theirStatus === 'cancelled' || theirStatus === 'expired'
    ? theirStatus
    : undefined;
}

/** A whole day (UTC), or an explicit period. */
function periodOf(r: { day?: string; from?: string; to?: string }): { start: Date; end: Date } {
  const start = new Date(r.day ? `${r.day}T00:00:00Z` : (r.from ?? ''));
  const end = r.day ? new Date(start.getTime() + 86_400_000) : new Date(r.to ?? '');
  if (Number.isNaN(start.getTime()) || Number.isNaN(end.getTime()) || end <= start) {
    throw ApplicationFailure.nonRetryable(`bad period ${JSON.stringify(r)}`, 'BadPeriod');
  }
  return { start, end };
}

export function createReconciliationActivities(deps: ReconciliationDeps) {
  const { pool, operators } = deps;
  const log = deps.logger.child({ component: 'reconciliation' });

  function adapter(name: string): OperatorAdapter {
    const op = operators[name as OperatorName];
    if (!op) throw ApplicationFailure.nonRetryable(`no adapter for ${name}`, 'UnknownOperator');
    return op;
  }

  /**
   * A payin the operator reports paid after we ended it: credit the merchant (late posting), and
   * refund the payer at once when the merchant's policy says so. The credit, the return of our
   * fee and the refund's record are one database transaction, so that a crash cannot credit
   * without the refund it owes; the refund's workflow is started after (and by the sweep if
   * this process dies first). Idempotent (one step per payment).
   */
  async function lateSuccess(
    payment: PaymentRecord,
    reason: string,
  ): Promise<{ action: string; note?: string }> {
    const postingStep = payment.status === 'unknown' ? 'payin_succeeded' : 'late_payin_succeeded';
    const { rows } = await pool.query<{ late_success_policy: 'credit' | 'refund' }>(
      'SELECT late_success_policy FROM merchants WHERE id = $1',
      [payment.merchantId],
    );
    const wantsRefund = rows[0]?.late_success_policy === 'refund' && payment.status !== 'unknown';
    const number = payment.customer.phone ? parseMsisdn(payment.customer.phone) : undefined;
    const refundTo = wantsRefund && number?.ok && number.value.network ? number.value : undefined;
    const refundId = derivedId('pay', `late-refund:${payment.id}`);
    const timing = deps.timingFor(payment.operator);
    const deadlineAt = new Date(Date.now() + timing.payoutDeadlineSeconds * 1000);
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
        if (!refundTo) return;
        // The payer gets back all they paid and the merchant ends where it was: our fee on a
        // payment refunded by policy goes back to the merchant, and the refund carries none.
        await post(client, feeReturnPosting(p));
        await insertPayment(client, {
          id: refundId,
          merchantId: p.merchantId,
          kind: 'refund',
          parentPaymentId: p.id,
          amount: p.amount,
          currency: p.currency,
          operator: p.operator,
          network: refundTo.network,
          mode: 'mobile_money',
          customer: { phone: refundTo.e164 },
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
    await startLateRefund(refund);
    return { action: 'late_credit_and_refund', note: `refund ${refundId}` };
  }

  /** Starts (once) the workflow of a refund decided by the late-success policy. */
  async function startLateRefund(refund: PaymentRecord): Promise<void> {
    const timing = deps.timingFor(refund.operator);
    const input: DisbursementWorkflowInput = {
      paymentId: refund.id,
      merchantId: refund.merchantId,
      kind: 'refund',
      operator: refund.operator,
      amount: refund.amount,
      currency: refund.currency,
      deadlineAt: (
        refund.deadlineAt ?? new Date(Date.now() + timing.payoutDeadlineSeconds * 1000)
      ).toISOString(),
      poll: timing.poll,
    };
    try {
      await deps.temporal.workflow.start('refund', {
        workflowId: workflowIdFor('refund', refund.id),
        taskQueue: deps.taskQueue,
        args: [input],
        workflowIdReusePolicy: 'REJECT_DUPLICATE',
        typedSearchAttributes: [
          { key: SA.paymentId, value: refund.id },
          { key: SA.merchantId, value: refund.merchantId },
          { key: SA.kind, value: 'refund' },
          { key: SA.operator, value: refund.operator },
          { key: SA.status, value: 'created' },
          { key: SA.amount, value: refund.amount },
        ],
      });
    } catch (err) {
      if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
    }
  }

  /** A payin left `unknown` that the operator says ended without payment (or never saw). */
  async function endUnknownPayin(
    payment: PaymentRecord,
    to: 'failed' | 'cancelled' | 'expired',
    reason: string,
  ): Promise<void> {
    await applyTransition(pool, {
      paymentId: payment.id,
      step: 'reconciliation:end_unknown',
      to,
      actor: 'reconciliation',
      reason,
      failure: {
        code: to === 'failed' ? 'not_paid' : to,
        message: `The operator reports no payment (${reason})`,
      },
    });
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
    const { rows } = await pool.query(
      `SELECT 1 FROM reconciliation_discrepancies d JOIN reconciliation_runs r ON r.id = d.run_id
        WHERE d.payment_id = $1 AND d.class = 'missing_on_operator_side' AND d.run_id <> $2
          AND r.status = 'completed' AND r.period_start < $3 LIMIT 1`,
      [payment.id, runId, periodStart],
    );
    if (!rows.length) {
      return { note: "absent from this report, but its own day's report was not reconciled: waiting for it" };
    }
    const verdict = await readDisbursementOutcome(adapter(payment.operator), payment);
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
    for (const cls of ['status_mismatch', 'missing_on_operator_side'] as const) {
      let afterId: number | undefined;
      for (;;) {
        const page = await listDiscrepancies(pool, { runId, class: cls, limit: 1000, afterId });
        if (page.length === 0) break;
        yield* page;
        afterId = page[page.length - 1]!.id;
      }
    }
  }

  /** The automatic resolutions a run's discrepancies call for; everything else stays open for review. */
  async function applyPolicies(runId: string, periodStart: Date): Promise<Record<string, number>> {
    const done: Record<string, number> = {};
    for await (const d of policyCandidates(runId)) {
      const payment = d.paymentId ? await getPayment(pool, d.paymentId) : undefined;
      if (!payment || payment.transferId) continue; // transfer legs: their transfer decides, or a person
      let action: string | undefined;
      let note: string | undefined;
      if (payment.kind === 'payin' && d.class === 'status_mismatch' && d.theirStatus === 'succeeded') {
        if (['expired', 'failed', 'cancelled', 'unknown'].includes(payment.status)) {
          ({ action, note } = await lateSuccess(payment, `operator report (${runId}) shows it paid`));
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
    return done;
  }

  return {
    /**
     * Matches an operator's settlement report for a day against our payments and ledger: the
     * report is streamed into a staging table with COPY, classified in SQL, then the automatic
     * policies are applied. Running it twice changes nothing the second time.
     */
    async reconcileSettlement(r: {
      runId: string;
      operator: string;
      day?: string;
      from?: string;
      to?: string;
      triggeredBy: string;
      workflowId?: string;
    }): Promise<RunSummary> {
      const { start, end } = periodOf(r);
      await startRun(pool, {
        id: r.runId,
        operator: r.operator,
        kind: 'settlement',
        periodStart: start,
        periodEnd: end,
        triggeredBy: r.triggeredBy,
        workflowId: r.workflowId,
      });
      const source = adapter(r.operator).settlementReport;
      const opened = await source.open({ from: start, to: end });
      if (opened.kind === 'unavailable') {
        await finishRun(pool, {
          id: r.runId,
          status: 'failed',
          error: `report unavailable: ${opened.detail}`,
        });
        return { runId: r.runId, status: 'failed', linesIngested: 0, summary: {}, error: opened.detail };
      }
      const counter = { lines: 0 };
      const client = await pool.connect();
      let counts: Record<string, number>;
      try {
        await client.query('BEGIN');
        await createStagingTable(client);
        await pipeline(
          Readable.from(copyChunks(opened.body, (line) => source.parseLine(line), counter)),
          client.query(copyFrom(STAGING_COPY)),
        );
        counts = await classifyStagedReport(client, {
          runId: r.runId,
          operator: r.operator,
          periodStart: start,
          periodEnd: end,
          wholeDay: r.day !== undefined,
        });
        await client.query('COMMIT');
      } catch (err) {
        await client.query('ROLLBACK').catch(() => undefined);
        opened.body.destroy();
        throw err;
      } finally {
        client.release();
      }
      const resolved = await applyPolicies(r.runId, start);
      const summary = {
        lines: counter.lines,
        ...counts,
        ...Object.fromEntries(Object.entries(resolved).map(([k, v]) => [`auto_${k}`, v])),
      };
      await finishRun(pool, { id: r.runId, status: 'completed', linesIngested: counter.lines, summary });
      log.info(
        { runId: r.runId, operator: r.operator, from: start, to: end, ...summary },
        'settlement reconciliation done',
      );
      return { runId: r.runId, status: 'completed', linesIngested: counter.lines, summary };
    },

    /**
     * The frequent sweep: payments left open or unknown past their deadline are looked at again
     * through the operator (status API, lookup by our reference, or a verified late notification)
     * and settled; stuck ones whose workflow is gone are ended.
     */
    async sweepOperator(r: {
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
      const op = adapter(r.operator);
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
      const { rows: payins } = await pool.query<{ id: string }>(
        `UPDATE payments SET last_swept_at = now()
          WHERE id IN (SELECT id FROM payments
                        WHERE operator = $1 AND kind = 'payin' AND transfer_id IS NULL
                          AND (status IN ('unknown', 'expired')
                               OR (status IN ('created', 'pending', 'action_required') AND deadline_at < now() - interval '5 minutes'))
                          AND created_at > now() - make_interval(days => $2)
                          AND (last_swept_at IS NULL OR last_swept_at < now() - make_interval(mins => $3))
                        ORDER BY last_swept_at NULLS FIRST LIMIT $4)
          RETURNING id`,
        [r.operator, deps.sweep.lookbackDays, deps.sweep.recheckMinutes, deps.sweep.batch],
      );
      for (const { id } of payins) {
        const payment = (await getPayment(pool, id))!;
        count('payins_checked');
        const open = ['created', 'pending', 'action_required'].includes(payment.status);
        // Only a workflow Temporal says it does not have is not running; "cannot tell" (Temporal
        // unavailable, throttled) leaves the payment alone until the next sweep.
        if (open && (await workflowState(payment.workflowId)) !== 'not_found') continue;
        let paid: (AmountStatement & { word: string }) | undefined;
        let ended: { status: 'failed' | 'cancelled' | 'expired'; word: string } | undefined;
        if (op.payinConfirmation(payment.mode as PayinMode) === 'callback') {
          const { rows } = await pool.query<{ parsed: ParsedCallback }>(
            `SELECT parsed FROM operator_callbacks WHERE payment_id = $1 AND verdict IN ('signalled', 'confirmed', 'late')
              AND parsed IS NOT NULL ORDER BY id DESC LIMIT 1`,
            [id],
          );
          const cb = rows[0]?.parsed;
          if (cb?.reportedStatus === 'succeeded') paid = { amount: cb.amount, word: cb.operatorStatus };
        } else if (payment.operatorReference) {
          const report = await op.checkPayinStatus({
            paymentId: id,
            operatorReference: payment.operatorReference,
          });
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
          const { action, note } = await lateSuccess(
            payment,
            `the operator says ${paid.word} (sweep ${r.runId})`,
          );
          await record(payment, action, note ?? `operator says ${paid.word}`, 'succeeded');
        } else if (payment.status === 'unknown' && ended) {
          await endUnknownPayin(payment, ended.status, `sweep ${r.runId}: the operator says ${ended.word}`);
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
          await record(
            payment,
            `end_${to}`,
            'deadline passed and no workflow running',
            ended?.word ?? 'none',
          );
        }
      }

      // Payouts and refunds whose outcome is unknown, and those left open by a workflow that no
      // longer runs (terminated, cancelled, never started): ask the operator again. Each sweep
      // takes the ones looked at longest ago, so that a large backlog is worked through in turn.
      const { rows: disbursements } = await pool.query<{ id: string }>(
        `UPDATE payments SET last_swept_at = now()
          WHERE id IN (SELECT id FROM payments
                        WHERE operator = $1 AND kind IN ('payout', 'refund') AND transfer_id IS NULL
                          AND (status = 'unknown'
                               -- pending past its deadline, or untouched for a while: is its workflow still there?
                               OR (status = 'pending' AND (deadline_at < now() - interval '5 minutes'
                                                           OR updated_at < now() - interval '10 minutes'))
                               OR (status = 'created' AND created_at < now() - interval '10 minutes'))
                          AND created_at > now() - make_interval(days => $2)
                          AND (last_swept_at IS NULL OR last_swept_at < now() - make_interval(mins => $3))
                        ORDER BY last_swept_at NULLS FIRST, created_at LIMIT $4)
          RETURNING id`,
        [r.operator, deps.sweep.lookbackDays, deps.sweep.recheckMinutes, deps.sweep.batch],
      );
      for (const { id } of disbursements) {
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
            await startLateRefund(payment);
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
        const verdict = await readDisbursementOutcome(op, payment);
        if (verdict) {
          await settleDisbursement(payment, verdict.to, `sweep ${r.runId}: ${verdict.reason}`);
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
      const { rows: transfers } = await pool.query<{ id: string; workflow_id: string }>(
        `SELECT id, workflow_id FROM transfers
          WHERE sender->>'operator' = $1 AND status NOT IN ('completed', 'refunded', 'failed', 'needs_review')
            AND updated_at < now() - interval '10 minutes' AND created_at > now() - make_interval(days => $2)
          ORDER BY updated_at LIMIT $3`,
        [r.operator, deps.sweep.lookbackDays, deps.sweep.batch],
      );
      for (const t of transfers) {
        count('transfers_checked');
        const state = await workflowState(t.workflow_id);
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

      await finishRun(pool, {
        id: r.runId,
        status: 'completed',
        paymentsChecked: (summary.payins_checked ?? 0) + (summary.disbursements_checked ?? 0),
        summary,
      });
      return { runId: r.runId, status: 'completed', linesIngested: 0, summary };
    },
  };

  async function workflowState(
    workflowId: string,
  ): Promise<'running' | 'closed' | 'not_found' | 'cannot_tell'> {
    try {
      const d = await deps.temporal.workflow.getHandle(workflowId).describe();
      return d.status.name === 'RUNNING' ? 'running' : 'closed';
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) return 'not_found';
      log.warn({ workflowId, err: errorSummary(err) }, 'cannot tell whether a workflow runs: left alone');
      return 'cannot_tell';
    }
  }
}

export type ReconciliationActivities = ReturnType<typeof createReconciliationActivities>;
