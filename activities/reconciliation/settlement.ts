import { ApplicationFailure } from '@temporalio/activity';
import { Readable } from 'node:stream';
import { getUpload, uploadLines } from '../../db/reconciliation-uploads.js';
import { finishRun, ingestSettlementReport, startRun } from '../../db/reconciliation.js';
import type { SettlementFileLine } from '../../lib/settlement-file.js';
import type { ReportLine, SettlementReportSource } from '../../operators/types.js';
import { paymentAccess } from '../payment-access.js';
import type { ReconciliationDeps, RunSummary } from './index.js';
import type { createReconciliationPolicies } from './policies.js';

/** A whole day (UTC), or an explicit period. */
function periodOf(r: { day?: string; from?: string; to?: string }): { start: Date; end: Date } {
  const start = new Date(r.day ? `${r.day}T00:00:00Z` : (r.from ?? ''));
  const end = r.day ? new Date(start.getTime() + 86_400_000) : new Date(r.to ?? '');
  if (Number.isNaN(start.getTime()) || Number.isNaN(end.getTime()) || end <= start) {
    throw ApplicationFailure.nonRetryable(`bad period ${JSON.stringify(r)}`, 'BadPeriod');
  }
  return { start, end };
}

export function createSettlementReconciliation(
  deps: ReconciliationDeps,
  policies: ReturnType<typeof createReconciliationPolicies>,
) {
  const { pool } = deps;
  const { adapterFor } = paymentAccess(deps);
  const log = deps.logger.child({ component: 'reconciliation' });

  /**
   * Matches an operator's settlement report for a day against our payments and ledger: the
   * report is streamed into a staging table with COPY, classified in SQL, then the automatic
   * policies are applied. Running it twice changes nothing the second time.
   */
  async function reconcileSettlement(r: {
    runId: string;
    operator: string;
    day?: string;
    from?: string;
    to?: string;
    triggeredBy: string;
    workflowId?: string;
    /** Reconcile an export uploaded by operations (db/reconciliation-uploads.ts) instead of asking the operator. */
    uploadId?: string;
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
    const source = adapterFor(r.operator).settlementReport;
    const report = r.uploadId
      ? await uploadedReport(r.uploadId, r.operator, source)
      : await openedReport(source, start, end);
    const opened = report;
    if (opened.kind === 'unavailable') {
      await finishRun(pool, {
        id: r.runId,
        status: 'failed',
        error: `report unavailable: ${opened.detail}`,
      });
      return {
        runId: r.runId,
        status: 'failed',
        linesIngested: 0,
        summary: {},
        error: opened.detail,
        refundsToStart: [],
      };
    }
    const { lines, counts, timingsMs } = await ingestSettlementReport(
      pool,
      { body: opened.body, parseLine: opened.parseLine },
      {
        runId: r.runId,
        operator: r.operator,
        periodStart: start,
        periodEnd: end,
        wholeDay: r.day !== undefined,
        livemodes: deps.settlementModes(r.operator),
      },
    );
    const policiesStarted = performance.now();
    const { done: resolved, refunds } = await policies.applyPolicies(r.runId, start);
    timingsMs.policies = Math.round(performance.now() - policiesStarted);
    const summary = {
      lines: lines,
      ...counts,
      ...Object.fromEntries(Object.entries(resolved).map(([k, v]) => [`auto_${k}`, v])),
    };
    await finishRun(pool, { id: r.runId, status: 'completed', linesIngested: lines, summary });
    log.info(
      { runId: r.runId, operator: r.operator, from: start, to: end, ...summary, timingsMs },
      'settlement reconciliation done',
    );
    return {
      runId: r.runId,
      status: 'completed',
      linesIngested: lines,
      summary,
      phasesMs: timingsMs,
      refundsToStart: refunds,
    };
  }

  /** The operator's own report for the period, read by its adapter. */
  async function openedReport(source: SettlementReportSource, from: Date, to: Date) {
    const opened = await source.open({ from, to });
    return opened.kind === 'ok' ? { ...opened, parseLine: (line: string) => source.parseLine(line) } : opened;
  }

  /**
   * An export uploaded by operations, its lines already read with the operator's column mapping;
   * its status words read by the adapter.
   */
  async function uploadedReport(uploadId: string, operator: string, source: SettlementReportSource) {
    const upload = await getUpload(pool, uploadId);
    if (!upload || upload.operator !== operator) {
      throw ApplicationFailure.nonRetryable(`no upload ${uploadId} for ${operator}`, 'UnknownUpload');
    }
    async function* jsonLines() {
      for await (const line of uploadLines(pool, uploadId)) yield `${JSON.stringify(line)}\n`;
    }
    const parseLine = (text: string): ReportLine | null | { error: string } => {
      if (!text) return null;
      const line = JSON.parse(text) as SettlementFileLine | { error: string };
      if ('error' in line) return line;
      return {
        ourReference: line.ourReference,
        operatorReference: line.operatorReference,
        kind: line.kind,
        amount: line.amount,
        currency: line.currency,
        status: source.reportStatus(line.statusWord, line.kind),
        operatorStatus: line.statusWord,
        occurredAt: line.occurredAt,
      };
    };
    return { kind: 'ok' as const, body: Readable.from(jsonLines()), parseLine };
  }

  return reconcileSettlement;
}
