import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActivities } from '../../activities/index.js';
import { createMerchant } from '../../db/merchants.js';
import { getPayment, insertPayment, listPaymentEvents } from '../../db/payments.js';
import { createPool, type Pool } from '../../db/pool.js';
import { loadConfig } from '../../lib/config.js';
import { OPERATORS, operatorTiming } from '../../lib/operators.js';
import { newId } from '../../lib/ids.js';
import { operatorPollingQueue, operatorQueue, pollingQueue } from '../../lib/task-queues.js';
import { createLogger } from '../../lib/logger.js';
import { createSandbox, type Sandbox } from '../../sandbox/app.js';
import { loadSandboxConfig } from '../../sandbox/config.js';
import type { PayinOutcome } from '../../workflows/payin.js';
import type { PayinWorkflowInput } from '../../lib/payment-workflows.js';

/**
 * A TMoney online session lasts 180 s: a payin whose payer never finishes ends `expired` when it
 * ends, proven on the time-skipping test server without waiting 180 s of wall time. The
 * activities are the real ones, against PostgreSQL and the TMoney sandbox over HTTP.
 */
let env: TestWorkflowEnvironment;
let pool: Pool;
let sandbox: Sandbox;
let sandboxServer: http.Server;
let sandboxUrl: string;

beforeAll(async () => {
  const path = process.env.TEMPORAL_TEST_SERVER_PATH;
  if (!path) throw new Error('TEMPORAL_TEST_SERVER_PATH is not set: run the tests with `npm test`');
  env = await TestWorkflowEnvironment.createTimeSkipping({
    server: { executable: { type: 'existing-path', path } },
  });
  pool = createPool(process.env.DATABASE_URL!, 4);
  sandboxServer = http.createServer();
  await new Promise<void>((r) => sandboxServer.listen(0, '127.0.0.1', () => r()));
  sandboxUrl = `http://127.0.0.1:${(sandboxServer.address() as AddressInfo).port}`;
  sandbox = createSandbox(
    loadSandboxConfig({ SANDBOX_PUBLIC_URL: sandboxUrl }),
    createLogger({ level: 'silent' }),
  );
  sandboxServer.on('request', sandbox.app);
}, 120_000);

afterAll(async () => {
  sandboxServer?.closeAllConnections();
  sandboxServer?.close();
  await pool?.end();
  await env?.teardown();
});

describe('TMoney online session', () => {
  it('expires after 180 s of workflow time, in a few seconds of wall time', async () => {
    const config = loadConfig({
      DATABASE_URL: process.env.DATABASE_URL,
      // Test mode (this payment's) reaches the operators at the sandbox.
      SANDBOX_URL: sandboxUrl,
      LOG_LEVEL: 'silent',
    });
    const merchant = (await createMerchant(pool, 'Time-skipping')).merchant.id;
    const paymentId = newId('pay');
    const timing = operatorTiming(config, 'tmoney', 'redirect');
    expect(timing.payinDeadlineSeconds).toBe(180 + 30);
    const deadlineAt = new Date(Date.now() + timing.payinDeadlineSeconds * 1000);
    await insertPayment(pool, {
      id: paymentId,
      merchantId: merchant,
      livemode: false,
      kind: 'payin',
      amount: 3_009, // the payer never pays, and no notification comes
      currency: 'XOF',
      operator: 'tmoney',
      network: 'togocel_tg',
      mode: 'redirect',
      customer: {},
      metadata: {},
      deadlineAt,
      workflowId: `payin-${paymentId}`,
    });

    const taskQueue = `time-skipping-${Date.now()}`;
    const activities = createActivities({
      config,
      pool,
      logger: createLogger({ level: 'silent' }),
    });
    const worker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue,
      workflowBundle: { codePath: process.env.WORKFLOW_BUNDLE_PATH! },
      activities,
    });
    // Operator calls and polls run on queues of their own (lib/task-queues.ts).
    const queues = [
      pollingQueue(taskQueue),
      ...OPERATORS.flatMap((op) => [operatorQueue(taskQueue, op), operatorPollingQueue(taskQueue, op)]),
    ];
    const activityWorkers = await Promise.all(
      queues.map((queue) =>
        Worker.create({ connection: env.nativeConnection, taskQueue: queue, activities }),
      ),
    );
    const polling = Promise.all(activityWorkers.map((w) => w.run()));
    const input: PayinWorkflowInput = {
      paymentId,
      merchantId: merchant,
      operator: 'tmoney',
      mode: 'redirect',
      amount: 3_009,
      currency: 'XOF',
      deadlineAt: deadlineAt.toISOString(),
      poll: timing.poll,
    };
    const started = Date.now();
    const outcome = await worker.runUntil(
      env.client.workflow.execute('payin', {
        args: [input],
        workflowId: `payin-${paymentId}`,
        taskQueue,
      }) as Promise<PayinOutcome>,
    );
    const wallSeconds = (Date.now() - started) / 1000;
    for (const w of activityWorkers) w.shutdown();
    await polling;

    expect(outcome.status).toBe('expired');
    expect(wallSeconds).toBeLessThan(60);
    const payment = (await getPayment(pool, paymentId))!;
    expect(payment.status).toBe('expired');
    expect(payment.failure?.code).toBe('expired');
    const events = await listPaymentEvents(pool, paymentId);
    expect(events.map((e) => e.toStatus)).toEqual(['created', 'action_required', 'expired']);
    // The session was really opened at the TMoney sandbox: it is the payment's operator reference.
    expect(sandbox.tmoney.sessions.get(payment.operatorReference!)).toBeDefined();
    console.log(
      `TMoney session expiry: ${timing.payinDeadlineSeconds} s of workflow time in ${wallSeconds.toFixed(1)} s of wall time`,
    );
  });
});
