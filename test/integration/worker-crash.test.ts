import type { ChildProcess } from 'node:child_process';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { listPaymentEvents } from '../../db/payments.js';
import {
  api,
  eventually,
  ligdicashControl,
  payinReaches,
  spawnWorker,
  startStack,
  type PayinBody,
  type TestStack,
} from '../support/stack.js';

/** DESIGN.md rule 7: kill the worker at any moment and every payment still reaches a final state. */
let stack: TestStack;
let worker: ChildProcess | undefined;

beforeAll(async () => {
  // No in-process worker: the real entry point runs as a child process that we can SIGKILL.
  stack = await startStack({
    worker: false,
    env: { LIGDICASH_PAYIN_DEADLINE_SECONDS: '60', PAYIN_INITIATION_WAIT_SECONDS: '3' },
  });
});
afterEach(() => {
  worker?.kill('SIGKILL');
});
afterAll(async () => {
  await stack?.stop();
});

function killed(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });
}

describe('worker killed', () => {
  it('mid-payin (after initiation, while waiting for the payer): a new worker completes it', async () => {
    worker = spawnWorker(stack.env);
    const created = await api<PayinBody>(stack, 'POST', '/v1/payins', {
      key: stack.merchant.apiKey,
      body: { amount: 7000, currency: 'XOF', description: 'Crash test' },
    });
    expect(created.status).toBe(201);
    expect(created.body.status).toBe('action_required');

    await killed(worker);
    // The payer pays while no worker runs: the callback is stored and signalled to Temporal.
    await ligdicashControl(stack, created.body.operator_reference!, 'pay');
    await eventually('callback stored', async () => {
      const { rows } = await stack.pool.query(
        "SELECT 1 FROM operator_callbacks WHERE payment_id = $1 AND verdict = 'signalled'",
        [created.body.id],
      );
      return rows.length > 0 ? true : undefined;
    });
    const stillWaiting = await api<PayinBody>(stack, 'GET', `/v1/payins/${created.body.id}`, {
      key: stack.merchant.apiKey,
    });
    expect(stillWaiting.body.status).toBe('action_required');

    worker = spawnWorker(stack.env);
    const done = await payinReaches(stack, created.body.id, ['succeeded', 'failed', 'expired'], 45_000);
    expect(done.status).toBe('succeeded');
    const events = await listPaymentEvents(stack.pool, created.body.id);
    expect(events.map((e) => e.toStatus)).toEqual(['created', 'action_required', 'succeeded']);
    expect(stack.sandbox.ligdicash.findByTransactionId(created.body.id)).toHaveLength(1);
  });

  it('before the payin is created: the API answers 202, and the payin starts when a worker returns', async () => {
    worker = undefined;
    const created = await api<PayinBody>(stack, 'POST', '/v1/payins', {
      key: stack.merchant.apiKey,
      body: { amount: 7100, currency: 'XOF', description: 'No worker yet' },
      headers: { 'Idempotency-Key': `no-worker-${Date.now()}` },
    });
    expect(created.status).toBe(202);
    expect(created.body.status).toBe('created');
    expect(created.body.next_action).toBeNull();

    worker = spawnWorker(stack.env);
    const started = await payinReaches(stack, created.body.id, ['action_required', 'failed'], 45_000);
    expect(started.next_action?.type).toBe('redirect');
    await ligdicashControl(stack, started.operator_reference!, 'pay');
    const done = await payinReaches(stack, created.body.id, ['succeeded', 'failed', 'expired'], 45_000);
    expect(done.status).toBe('succeeded');
    expect(stack.sandbox.ligdicash.findByTransactionId(created.body.id)).toHaveLength(1);
  });
});
