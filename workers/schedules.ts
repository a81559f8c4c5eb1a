import { ScheduleAlreadyRunning, ScheduleOverlapPolicy, type Client } from '@temporalio/client';
import type { Config } from '../lib/config.js';
import { OPERATORS } from '../lib/operators.js';
import { cardSweep } from '../workflows/card-recovery.js';
import { settlementReconciliation, sweep } from '../workflows/reconciliation.js';

/**
 * The reconciliation schedules (Temporal Schedules, not cron in a process), created or updated
 * idempotently at every worker start: a sweep per operator every SWEEP_INTERVAL_SECONDS and a
 * settlement reconciliation per operator every day at SETTLEMENT_HOUR_UTC for the day before.
 */
export function scheduleIds(): string[] {
  return [...OPERATORS.flatMap((op) => [`sweep-${op}`, `settlement-${op}`]), CARD_SWEEP_SCHEDULE];
}

/** The card sweep (workflows/card-recovery.ts): card payins whose workflow ended before them. */
export const CARD_SWEEP_SCHEDULE = 'sweep-cards';

export async function ensureSchedules(
  client: Client,
  config: Config,
): Promise<{ created: string[]; updated: string[] }> {
  const created: string[] = [];
  const updated: string[] = [];
  const sweepEvery = {
    spec: { intervals: [{ every: `${config.SWEEP_INTERVAL_SECONDS} seconds` }] },
    // Under SKIP, a stuck run would block every later sweep: it is ended.
    workflowRunTimeout: `${Math.max(600, 3 * config.SWEEP_INTERVAL_SECONDS)} seconds`,
  };
  const plans: {
    scheduleId: string;
    spec: {
      intervals?: { every: string }[];
      calendars?: { hour: number; minute: number; comment: string }[];
    };
    workflowType: string;
    args: unknown[];
    workflowRunTimeout: string;
  }[] = [
    ...OPERATORS.flatMap((operator) => [
      {
        scheduleId: `sweep-${operator}`,
        ...sweepEvery,
        workflowType: sweep.name,
        args: [{ operator, triggeredBy: 'schedule' }],
      },
      {
        scheduleId: `settlement-${operator}`,
        spec: {
          calendars: [
            { hour: config.SETTLEMENT_HOUR_UTC, minute: 0, comment: 'settlement of the day before' },
          ],
        },
        workflowType: settlementReconciliation.name,
        args: [{ operator, triggeredBy: 'schedule' }],
        // Five 30-minute attempts and their backoff fit; a run stuck beyond that is ended.
        workflowRunTimeout: '6 hours',
      },
    ]),
    {
      scheduleId: CARD_SWEEP_SCHEDULE,
      ...sweepEvery,
      workflowType: cardSweep.name,
      args: [{ triggeredBy: 'schedule' }],
    },
  ];
  for (const plan of plans) {
    const action = {
      type: 'startWorkflow' as const,
      workflowType: plan.workflowType,
      args: plan.args,
      taskQueue: config.TEMPORAL_TASK_QUEUE,
      workflowId: plan.scheduleId,
      workflowRunTimeout: plan.workflowRunTimeout,
    };
    const policies = { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: '1 day' };
    try {
      await client.schedule.create({ scheduleId: plan.scheduleId, spec: plan.spec, action, policies });
      created.push(plan.scheduleId);
    } catch (err) {
      if (!(err instanceof ScheduleAlreadyRunning)) throw err;
      await client.schedule
        .getHandle(plan.scheduleId)
        .update((previous) => ({ ...previous, spec: plan.spec, action, policies }));
      updated.push(plan.scheduleId);
    }
  }
  return { created, updated };
}
