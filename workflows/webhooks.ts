import { proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { DeliveryOutcome, WebhookActivities } from '../activities/webhook-activities.js';
import { webhooksQueue } from '../lib/task-queues.js';

export interface WebhookDeliveriesInput {
  /** Deliveries to one endpoint (webhook_deliveries ids), made by the publisher, a resend or a replay. */
  deliveryIds: string[];
}

export interface WebhookDeliveriesResult {
  succeeded: number;
  failed: number;
  cancelled: number;
}

/**
 * Delivers a batch of events to one endpoint: one activity per delivery, all at once. Each
 * activity is one attempt; a failed attempt is retried by the server after the delay the
 * activity asks for (the schedule of lib/events.ts), so that thousands of deliveries waiting
 * for their next attempt cost timers on the server and nothing here. Errors of our own (the
 * database down) are retried on the policy's backoff.
 */
export async function deliverWebhooks(input: WebhookDeliveriesInput): Promise<WebhookDeliveriesResult> {
  const { deliverWebhook } = proxyActivities<WebhookActivities>({
    taskQueue: webhooksQueue(workflowInfo().taskQueue),
    // An attempt waits at most WEBHOOK_TIMEOUT_MS (at most 60 s) on the receiver.
    startToCloseTimeout: '90 seconds',
    // It heartbeats every second: an attempt cut by a worker's death is retried within seconds.
    heartbeatTimeout: '5 seconds',
    // Our own failures (database down, worker killed mid-attempt) are retried within 30 s; the
    // receiver's failures wait the schedule's delay (nextRetryDelay, which this does not cap).
    retry: { initialInterval: '2 seconds', backoffCoefficient: 2, maximumInterval: '30 seconds' },
  });
  const outcomes: DeliveryOutcome[] = await Promise.all(input.deliveryIds.map((id) => deliverWebhook(id)));
  return {
    succeeded: outcomes.filter((o) => o === 'succeeded').length,
    failed: outcomes.filter((o) => o === 'failed').length,
    cancelled: outcomes.filter((o) => o === 'cancelled').length,
  };
}
