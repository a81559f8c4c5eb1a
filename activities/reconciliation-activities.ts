import { createHash } from 'node:crypto';
import readline from 'node:readline';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ApplicationFailure } from '@temporalio/activity';
import { WorkflowExecutionAlreadyStartedError, type Client } from '@temporalio/client';
import { from as copyFrom } from 'pg-copy-streams';
import { payinSucceededPosting, post } from '../db/ledger.js';
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
  noteDiscrepancy,
  startRun,
} from '../db/reconciliation.js';
import type { OperatorTiming } from '../lib/config.js';
import type { Logger } from '../lib/logger.js';
import type { PayinMode, PaymentStatus } from '../lib/payments.js';
import { parseMsisdn } from '../lib/phone.js';
import type { OperatorAdapter, OperatorName, ParsedCallback, ReportLine } from '../operators/types.js';
import { SA, workflowIdFor, type DisbursementWorkflowInput } from '../workflows/shared.js';
import { disbursementPostings } from './disbursement-activities.js';

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

/** A deterministic id (same input, same id), so that a re-run action finds what it created. */
function derivedPaymentId(seed: string): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz234567';
  const digest = createHash('sha256').update(seed).digest();
  let id = 'pay_';
  for (let i = 0; i < 24; i++) id += alphabet[digest[i]! & 31];
  return id;
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
   * refund the payer at once when the merchant's policy says so. Idempotent (one step per payment).
   */
  async function lateSuccess(
    payment: PaymentRecord,
    reason: string,
  ): Promise<{ action: string; note?: string }> {
    const postingStep = payment.status === 'unknown' ? 'payin_succeeded' : 'late_payin_succeeded';
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
      },
    );
    const { rows } = await pool.query<{ late_success_policy: 'credit' | 'refund' }>(
      'SELECT late_success_policy FROM merchants WHERE id = $1',
      [payment.merchantId],
    );
    if (rows[0]?.late_success_policy !== 'refund' || payment.status === 'unknown')
      return { action: 'late_credit' };
    const phone = (await getPayment(pool, payment.id))?.customer.phone;
    const number = phone ? parseMsisdn(phone) : undefined;
    if (!number?.ok || !number.value.network) {
      return {
        action: 'late_credit',
        note: 'refund policy, but the payer number is unknown: refund by hand',
      };
    }
    const refundId = derivedPaymentId(`late-refund:${payment.id}`);
    const timing = deps.timingFor(payment.operator);
    await insertPayment(pool, {
      id: refundId,
      merchantId: payment.merchantId,
      kind: 'refund',
      parentPaymentId: payment.id,
      amount: payment.amount,
      currency: payment.currency,
      operator: payment.operator,
      network: number.value.network,
      mode: 'mobile_money',
      customer: { phone: number.value.e164 },
      description: `Automatic refund of late payment ${payment.id}`,
      metadata: { reason: 'late_success_policy' },
      deadlineAt: new Date(Date.now() + timing.payoutDeadlineSeconds * 1000),
      workflowId: workflowIdFor('refund', refundId),
    });
    const input: DisbursementWorkflowInput = {
      paymentId: refundId,
      merchantId: payment.merchantId,
      kind: 'refund',
      operator: payment.operator,
      amount: payment.amount,
      currency: payment.currency,
      deadlineAt: new Date(Date.now() + timing.payoutDeadlineSeconds * 1000).toISOString(),
      poll: timing.poll,
    };
    try {
      await deps.temporal.workflow.start('refund', {
        workflowId: workflowIdFor('refund', refundId),
        taskQueue: deps.taskQueue,
        args: [input],
        workflowIdReusePolicy: 'REJECT_DUPLICATE',
        typedSearchAttributes: [
          { key: SA.paymentId, value: refundId },
          { key: SA.merchantId, value: payment.merchantId },
          { key: SA.kind, value: 'refund' },
          { key: SA.operator, value: payment.operator },
          { key: SA.status, value: 'created' },
          { key: SA.amount, value: payment.amount },
        ],
      });
    } catch (err) {
      if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
    }
    return { action: 'late_credit_and_refund', note: `refund ${refundId}` };
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

  /** The automatic resolutions a run's discrepancies call for; everything else stays open for review. */
  async function applyPolicies(runId: string): Promise<Record<string, number>> {
    const done: Record<string, number> = {};
    const found = [
      ...(await listDiscrepancies(pool, { runId, class: 'status_mismatch' })),
      ...(await listDiscrepancies(pool, { runId, class: 'missing_on_operator_side' })),
    ];
    for (const d of found) {
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
        if (d.class === 'status_mismatch' && d.theirStatus === 'succeeded') {
          await settleDisbursement(payment, 'succeeded', `operator report (${runId}) shows it executed`);
          action = 'capture';
        } else {
          await settleDisbursement(
            payment,
            'failed',
            `operator report (${runId}) ${d.class === 'missing_on_operator_side' ? 'does not list it' : `says ${d.theirStatus}`}`,
          );
          action = 'release';
        }
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
        });
        await client.query('COMMIT');
      } catch (err) {
        await client.query('ROLLBACK').catch(() => undefined);
        opened.body.destroy();
        throw err;
      } finally {
        client.release();
      }
      const resolved = await applyPolicies(r.runId);
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
        if (open && (await workflowRunning(payment.workflowId))) continue;
        let paid: { amount?: number; word: string } | undefined;
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
            paid = { amount: report.amount, word: report.operatorStatus };
          if (
            report.reachable &&
            (report.status === 'failed' || report.status === 'cancelled' || report.status === 'expired')
          ) {
            ended = { status: report.status, word: report.operatorStatus };
          }
        }
        if (paid && (paid.amount === undefined || paid.amount === payment.amount)) {
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

      // Payouts and refunds whose outcome is unknown: ask the operator again.
      const { rows: unknown } = await pool.query<{ id: string }>(
        `SELECT id FROM payments WHERE operator = $1 AND kind IN ('payout', 'refund') AND status = 'unknown'
            AND transfer_id IS NULL AND created_at > now() - make_interval(days => $2) LIMIT $3`,
        [r.operator, deps.sweep.lookbackDays, deps.sweep.batch],
      );
      for (const { id } of unknown) {
        const payment = (await getPayment(pool, id))!;
        count('disbursements_checked');
        const method = payment.mode as Parameters<OperatorAdapter['findPayoutByReference']>[1];
        let verdict: 'succeeded' | 'failed' | undefined;
        if (payment.operatorReference) {
          const report = await op.checkPayoutStatus(
            { paymentId: id, operatorReference: payment.operatorReference },
            method,
          );
          if (report.reachable && (report.status === 'succeeded' || report.status === 'failed'))
            verdict = report.status;
        } else {
          const lookup = await op.findPayoutByReference(id, method);
          if (lookup.kind === 'absent') verdict = 'failed';
          if (
            lookup.kind === 'found' &&
            (lookup.report.status === 'succeeded' || lookup.report.status === 'failed')
          )
            verdict = lookup.report.status;
        }
        if (verdict) {
          await settleDisbursement(
            payment,
            verdict,
            `sweep ${r.runId}: the operator says ${verdict === 'succeeded' ? 'executed' : 'not executed'}`,
          );
          await record(
            payment,
            verdict === 'succeeded' ? 'capture' : 'release',
            'settled by the sweep',
            verdict,
          );
        }
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

  async function workflowRunning(workflowId: string): Promise<boolean> {
    try {
      const d = await deps.temporal.workflow.getHandle(workflowId).describe();
      return d.status.name === 'RUNNING';
    } catch {
      return false;
    }
  }
}

export type ReconciliationActivities = ReturnType<typeof createReconciliationActivities>;
