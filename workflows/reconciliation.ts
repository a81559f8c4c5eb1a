import { proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { ReconciliationActivities, RunSummary } from '../activities/reconciliation-activities.js';
import { reconciliationRunId } from '../lib/reconciliation.js';

const { reconcileSettlement, sweepOperator } = proxyActivities<ReconciliationActivities>({
  // A million-line report takes seconds; the activity heartbeats every second while it streams.
  startToCloseTimeout: '30 minutes',
  heartbeatTimeout: '30 seconds',
  retry: {
    initialInterval: '10 seconds',
    backoffCoefficient: 2,
    maximumInterval: '5 minutes',
    maximumAttempts: 5,
  },
});

export interface SettlementInput {
  operator: string;
  /** YYYY-MM-DD; scheduled runs take the day before the one they start on (UTC). */
  day?: string;
  /** Or an explicit period (ISO 8601), e.g. for a partial day. */
  from?: string;
  to?: string;
  triggeredBy?: string;
}

export interface SweepInput {
  operator: string;
  triggeredBy?: string;
}

/** The day before `at`, as YYYY-MM-DD (UTC). */
export function previousDay(at: Date): string {
  return new Date(at.getTime() - 86_400_000).toISOString().slice(0, 10);
}

function runIdOf(): string {
  return reconciliationRunId(workflowInfo().workflowId);
}

/** Daily: match an operator's settlement report for a day against our payments and ledger. */
export async function settlementReconciliation(input: SettlementInput): Promise<RunSummary> {
  const info = workflowInfo();
  return reconcileSettlement({
    runId: runIdOf(),
    operator: input.operator,
    ...(input.from && input.to
      ? { from: input.from, to: input.to }
      : { day: input.day ?? previousDay(info.startTime) }),
    triggeredBy: input.triggeredBy ?? 'schedule',
    workflowId: info.workflowId,
  });
}

/** Every few minutes: settle what is left open or unknown past its deadline. */
export async function sweep(input: SweepInput): Promise<RunSummary> {
  return sweepOperator({
    runId: runIdOf(),
    operator: input.operator,
    triggeredBy: input.triggeredBy ?? 'schedule',
    workflowId: workflowInfo().workflowId,
  });
}
