import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Context } from '@temporalio/activity';
import proto from '@temporalio/proto';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWebhookActivities } from '../../activities/webhook-activities.js';
import { createMerchant } from '../../db/merchants.js';
import { createPool, type Pool } from '../../db/pool.js';
import { createWebhookEndpoint } from '../../db/webhooks.js';
import { DELIVERY_WINDOW_MS, LAST_DELIVERY_ATTEMPT, webhookSecretFrom } from '../../lib/events.js';
import { newId } from '../../lib/ids.js';
import { createLogger } from '../../lib/logger.js';
import { webhooksQueue } from '../../lib/task-queues.js';
import { insertBarePayin } from '../support/money.js';
import type { WebhookDeliveriesResult } from '../../workflows/webhooks.js';

/**
 * Three days of webhook retries on the time-skipping test server, in seconds of wall time: the
 * real delivery workflow and activity, against PostgreSQL and a receiver over HTTP. Retries are
 * the server's (the activity asks for its next delay), so the history holds no timer per retry.
 */
let env: TestWorkflowEnvironment;
let pool: Pool;
let receiver: http.Server;
let receiverUrl: string;
const answered = new Map<string, number>();

beforeAll(async () => {
  const path = process.env.TEMPORAL_TEST_SERVER_PATH;
  if (!path) throw new Error('TEMPORAL_TEST_SERVER_PATH is not set: run the tests with `npm test`');
  env = await TestWorkflowEnvironment.createTimeSkipping({
    server: { executable: { type: 'existing-path', path } },
  });
  pool = createPool(process.env.DATABASE_URL!, 4);
  // `/down`: always 500. `/flaky`: 503 three times, then 200.
  receiver = http.createServer((req, res) => {
    const path = req.url ?? '/';
    const n = (answered.get(path) ?? 0) + 1;
    answered.set(path, n);
    req.resume();
    req.on('end', () => {
      if (path === '/flaky' && n > 3) res.writeHead(200).end('ok');
      else res.writeHead(path === '/flaky' ? 503 : 500).end('down');
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', () => r()));
  receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
}, 120_000);

afterAll(async () => {
  receiver?.closeAllConnections();
  receiver?.close();
  await pool?.end();
  await env?.teardown();
});

/** A payin's `payin.created` event, and one delivery of it to a new endpoint at `path`. */
async function deliveryTo(path: string): Promise<{ deliveryId: string; endpointId: string }> {
  const merchantId = (await createMerchant(pool, `Retries ${path}`)).merchant.id;
  const endpointId = newId('we');
  await createWebhookEndpoint(pool, {
    id: endpointId,
    merchantId,
    url: `${receiverUrl}${path}`,
    eventTypes: ['*'],
    livemode: false,
    secret: webhookSecretFrom(Buffer.alloc(32, 7)),
  });
  const paymentId = await insertBarePayin(pool, merchantId);
  // The delivery as the publisher makes it (its workflow is started here, on the test server).
  const { rows } = await pool.query<{ id: string }>(
    `INSERT INTO webhook_deliveries (event_id, endpoint_id, reason, workflow_id, dispatched_at)
     SELECT id, $2, 'event', 'time-skipping', now() FROM events WHERE resource_id = $1 RETURNING id`,
    [paymentId, endpointId],
  );
  return { deliveryId: rows[0]!.id, endpointId };
}

async function runDeliveries(deliveryIds: string[]) {
  const taskQueue = `webhooks-time-skipping-${Date.now()}`;
  const activities = createWebhookActivities({
    pool,
    logger: createLogger({ level: 'silent' }),
    timeoutMs: 5_000,
  });
  // When each attempt was due, in the server's (skipped) time, from the first one.
  const offsets: number[] = [];
  const worker = await Worker.create({
    connection: env.nativeConnection,
    taskQueue,
    workflowBundle: { codePath: process.env.WORKFLOW_BUNDLE_PATH! },
  });
  const webhookWorker = await Worker.create({
    connection: env.nativeConnection,
    taskQueue: webhooksQueue(taskQueue),
    activities: {
      deliverWebhook: (id: string) => {
        const info = Context.current().info;
        offsets.push(info.currentAttemptScheduledTimestampMs - info.scheduledTimestampMs);
        return activities.deliverWebhook(id);
      },
    },
  });
  const running = webhookWorker.run();
  const started = Date.now();
  const handle = await env.client.workflow.start('deliverWebhooks', {
    args: [{ deliveryIds }],
    workflowId: `webhooks-${Date.now()}`,
    taskQueue,
  });
  const result = (await worker.runUntil(handle.result())) as WebhookDeliveriesResult;
  const wallSeconds = (Date.now() - started) / 1000;
  webhookWorker.shutdown();
  await running;
  const history = await handle.fetchHistory();
  const at = (type: string) => {
    const e = history.events?.find(
      (ev) => ev.eventType === proto.temporal.api.enums.v1.EventType[type as 'EVENT_TYPE_UNSPECIFIED'],
    );
    return Number(e?.eventTime?.seconds ?? 0) * 1000;
  };
  // From the activity's scheduling to its completion, in the server's (skipped) time.
  const spanMs = at('EVENT_TYPE_ACTIVITY_TASK_COMPLETED') - at('EVENT_TYPE_ACTIVITY_TASK_SCHEDULED');
  return { result, offsets, spanMs, wallSeconds, historyEvents: history.events?.length ?? 0 };
}

async function attemptsOf(deliveryId: string) {
  const { rows } = await pool.query<{ attempt: number; http_status: number }>(
    'SELECT attempt, http_status FROM webhook_attempts WHERE delivery_id = $1 ORDER BY attempt',
    [deliveryId],
  );
  return rows;
}

describe('webhook retries over three days', () => {
  it('a receiver down for good gets every attempt of the schedule, then its endpoint is disabled', async () => {
    const { deliveryId, endpointId } = await deliveryTo('/down');
    const run = await runDeliveries([deliveryId]);
    expect(run.result).toEqual({ succeeded: 0, failed: 1, cancelled: 0 });

    const attempts = await attemptsOf(deliveryId);
    expect(attempts.map((a) => a.attempt)).toEqual(
      Array.from({ length: LAST_DELIVERY_ATTEMPT }, (_, i) => i + 1),
    );
    expect(attempts.every((a) => a.http_status === 500)).toBe(true);
    // The last attempt came after at least three days of (skipped) time, in seconds of wall time.
    expect(run.offsets).toHaveLength(LAST_DELIVERY_ATTEMPT);
    expect(run.spanMs).toBeGreaterThanOrEqual(DELIVERY_WINDOW_MS);
    expect(run.wallSeconds).toBeLessThan(60);
    // Retries are the server's: the history is the same few events whatever the number of attempts.
    expect(run.historyEvents).toBeLessThan(15);

    const delivery = await pool.query<{ status: string }>(
      'SELECT status FROM webhook_deliveries WHERE id = $1',
      [deliveryId],
    );
    expect(delivery.rows[0]!.status).toBe('failed');
    const endpoint = await pool.query<{ enabled: boolean; disabled_reason: string }>(
      'SELECT enabled, disabled_reason FROM webhook_endpoints WHERE id = $1',
      [endpointId],
    );
    expect(endpoint.rows[0]).toEqual({ enabled: false, disabled_reason: 'every delivery failed for 72 h' });
    const events = await pool.query<{ type: string }>('SELECT type FROM events WHERE resource_id = $1', [
      endpointId,
    ]);
    expect(events.rows.map((r) => r.type)).toEqual(['webhook_endpoint.disabled']);
    console.log(
      `webhook retries: ${attempts.length} attempts over ${(run.spanMs / 3_600_000).toFixed(1)} h of workflow time in ${run.wallSeconds.toFixed(1)} s of wall time, ${run.historyEvents} history events`,
    );
  });

  it('a receiver back after three failures gets the event at the fourth attempt; the endpoint stays enabled', async () => {
    const { deliveryId, endpointId } = await deliveryTo('/flaky');
    const run = await runDeliveries([deliveryId]);
    expect(run.result).toEqual({ succeeded: 1, failed: 0, cancelled: 0 });
    expect((await attemptsOf(deliveryId)).map((a) => a.http_status)).toEqual([503, 503, 503, 200]);
    const endpoint = await pool.query<{ enabled: boolean }>(
      'SELECT enabled FROM webhook_endpoints WHERE id = $1',
      [endpointId],
    );
    expect(endpoint.rows[0]!.enabled).toBe(true);
  });
});
