import type { ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { operatorQueue } from '../../lib/task-queues.js';
import {
  activitiesIn,
  api,
  eventually,
  payinReaches,
  spawnWorker,
  startStack,
  type PayinBody,
  type TestStack,
} from '../support/stack.js';

/**
 * An operator's rate limit holds across all workers together. Every call takes its slot in the
 * operator's lane on the database, which all workers share (activities/operator-pacing.ts): the
 * local sends of shape 3 payins, and the activities of the operator's task queue (which the
 * server also holds to `maxTaskQueueActivitiesPerSecond`; lib/task-queues.ts). Measured where it
 * matters, at the operator: the sandbox's log of the requests it received.
 */
const SENDS_PER_SECOND = 2;
const PAYINS = 10;

let stack: TestStack;
let second: ChildProcess | undefined;

/** Worker identities polling a task queue (workflow tasks, or activity tasks). */
async function pollersOf(queue: string, taskQueueType: 1 | 2): Promise<Set<string>> {
  const { pollers } = await stack.temporal.connection.workflowService.describeTaskQueue({
    namespace: stack.config.TEMPORAL_NAMESPACE,
    taskQueue: { name: queue, kind: 1 },
    taskQueueType,
  });
  return new Set((pollers ?? []).map((p) => p.identity ?? ''));
}

beforeAll(async () => {
  stack = await startStack({
    env: { LIGDICASH_SENDS_PER_SECOND: String(SENDS_PER_SECOND), INITIATION_WAIT_SECONDS: '30' },
    // The payer approves at once: every payin costs two calls in the sends lane quickly.
    sandboxEnv: { SANDBOX_APPROVAL_DELAY_MS: '0' },
  });
  second = spawnWorker(stack.env);
  // Both workers poll for workflow tasks (the local sends run where the workflow runs) and for
  // LigdiCash's queue before anything is measured.
  const main = stack.config.TEMPORAL_TASK_QUEUE;
  await eventually(
    'two workers polling the main and the operator queue',
    async () =>
      (await pollersOf(main, 1)).size >= 2 && (await pollersOf(operatorQueue(main, 'ligdicash'), 2)).size >= 2
        ? true
        : undefined,
    60_000,
  );
});
afterAll(async () => {
  second?.kill('SIGKILL');
  await stack?.stop();
});

describe('operator rate limits', () => {
  it('two workers together never call an operator faster than its limit', async () => {
    const since = Date.now();
    const created = await Promise.all(
      Array.from({ length: PAYINS }, (_, i) =>
        api<PayinBody>(stack, 'POST', '/v1/payins', {
          key: stack.merchant.apiKey,
          body: {
            amount: 3_000 + i,
            currency: 'XOF',
            mode: 'direct',
            customer: { phone: `+2267010${String(2000 + i)}` },
          },
        }),
      ),
    );
    for (const c of created) expect(c.status, JSON.stringify(c.body)).toBe(201);
    for (const c of created) await payinReaches(stack, c.body.id, ['succeeded'], 60_000);

    // Each payin's send and confirmation ran as local activities, and both workers ran some. A
    // local activity's marker is in the history once its workflow task completes, which may be
    // just after the end it recorded is in the database: each workflow is read once it has ended.
    await Promise.all(created.map((c) => stack.temporal.workflow.getHandle(`payin-${c.body.id}`).result()));
    const calls = (
      await Promise.all(
        created.map(async (c) =>
          activitiesIn(
            (await stack.temporal.workflow.getHandle(`payin-${c.body.id}`).fetchHistory()).events ?? [],
          ),
        ),
      )
    )
      .flat()
      .filter((run) => run.local);
    expect(calls.map((c) => c.name).sort()).toEqual([
      ...Array<string>(PAYINS).fill('confirmPayinOutcomeLocally'),
      ...Array<string>(PAYINS).fill('initiatePayinLocally'),
    ]);
    expect(new Set(calls.map((c) => c.worker)).size).toBe(2);

    // Every request LigdiCash's API received, when.
    const arrivals = stack.sandbox.requests
      .filter((r) => r.operator === 'ligdicash' && r.at >= since && r.path.startsWith('/pay/v01/'))
      .map((r) => r.at)
      .sort((a, b) => a - b);
    expect(arrivals).toHaveLength(2 * PAYINS);
    // Slots are SENDS_PER_SECOND a second apart on the database's clock; each call goes out when
    // its slot comes, give or take a few milliseconds of the worker's timers and of HTTP. So n
    // calls span at least (n - 1) / rate seconds less that jitter (without the limit, these 20
    // take well under a second), and no second holds more than the rate, plus one for the jitter
    // at its edges.
    const spanSeconds = (arrivals.at(-1)! - arrivals[0]!) / 1000;
    expect(spanSeconds).toBeGreaterThanOrEqual((arrivals.length - 2) / SENDS_PER_SECOND);
    const busiestSecond = Math.max(
      ...arrivals.map((at) => arrivals.filter((t) => t >= at && t < at + 1_000).length),
    );
    expect(busiestSecond).toBeLessThanOrEqual(SENDS_PER_SECOND + 1);
    process.stderr.write(
      `rate limit ${SENDS_PER_SECOND}/s: ${arrivals.length} calls over ${spanSeconds.toFixed(1)} s, busiest second ${busiestSecond}\n`,
    );
  });
});
