import { WorkflowExecutionAlreadyStartedError, defineSearchAttributeKey } from '@temporalio/common';
import { ParentClosePolicy, patched, proxyActivities, startChild, workflowInfo } from '@temporalio/workflow';
import type { ReconciliationActivities, RunSummary } from '../activities/reconciliation/index.js';
import { paymentWorkflowStart, type DisbursementWorkflowInput } from '../lib/payment-workflows.js';
import { reconciliationRunId } from '../lib/reconciliation.js';
import { reconciliationQueue } from '../lib/task-queues.js';
import { refund } from './refund.js';

/** Reconciliation activities run on their own queue (lib/task-queues.ts). */
const reconciliationActivities = () =>
  proxyActivities<ReconciliationActivities>({
    taskQueue: reconciliationQueue(workflowInfo().taskQueue),
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
  /** An export uploaded by operations, reconciled instead of the operator's report. */
  uploadId?: string;
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

/** Set by Temporal on every workflow a Schedule starts: the time the run was due. */
const SCHEDULED_START = defineSearchAttributeKey('TemporalScheduledStartTime', 'DATETIME');

/**
 * Daily: match an operator's settlement report for a day against our payments and ledger. A
 * scheduled run reconciles the day before the one it was *due* on: a catch-up run that starts
 * after midnight (the worker was down) still takes the right day.
 */
export async function settlementReconciliation(input: SettlementInput): Promise<RunOutcome> {
  const info = workflowInfo();
  const due = info.typedSearchAttributes.get(SCHEDULED_START) ?? info.startTime;
  const run = await reconciliationActivities().reconcileSettlement({
    runId: runIdOf(),
    operator: input.operator,
    ...(input.from && input.to ? { from: input.from, to: input.to } : { day: input.day ?? previousDay(due) }),
    triggeredBy: input.triggeredBy ?? 'schedule',
    workflowId: info.workflowId,
    ...(input.uploadId ? { uploadId: input.uploadId } : {}),
  });
  return startRefunds(run);
}

/** Every few minutes: settle what is left open or unknown past its deadline. */
export async function sweep(input: SweepInput): Promise<RunOutcome> {
  const run = await reconciliationActivities().sweepOperator({
    runId: runIdOf(),
    operator: input.operator,
    triggeredBy: input.triggeredBy ?? 'schedule',
    workflowId: workflowInfo().workflowId,
  });
  return startRefunds(run);
}

/** What a run answers: its summary (the refunds it decided are started, not returned). */
export type RunOutcome = Omit<RunSummary, 'refundsToStart'>;

/**
 * Starts the refunds a run decided (late-success policy) as children that outlive the run
 * (ABANDON): started once each (their id derives from the refund's), never by an activity.
 * Runs recorded before this step existed started their refunds from the activity (patched).
 */
async function startRefunds({ refundsToStart, ...summary }: RunSummary): Promise<RunOutcome> {
  if (!refundsToStart?.length || !patched('late-refunds-as-children')) return summary;
  for (const input of refundsToStart) await startRefund(input);
  return summary;
}

async function startRefund(input: DisbursementWorkflowInput): Promise<void> {
  try {
    await startChild(refund, {
      ...paymentWorkflowStart({ ...input, kind: 'refund' }),
      args: [input],
      parentClosePolicy: ParentClosePolicy.ABANDON,
      workflowIdReusePolicy: 'REJECT_DUPLICATE',
    });
  } catch (err) {
    // Started by an earlier run (or the sweep): one workflow per refund, ever.
    if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
  }
}
