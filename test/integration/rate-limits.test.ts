import type { ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { operatorQueue } from '../../lib/task-queues.js';
import {
  api,
  eventually,
  payinReaches,
  spawnWorker,
  startStack,
  type PayinBody,
  type TestStack,
} from '../support/stack.js';

/**
 * An operator's rate limit holds across all workers together: its calls run on its own task
 * queue, whose `maxTaskQueueActivitiesPerSecond` the Temporal server enforces for every poller
 * (lib/task-queues.ts, the operator table's `rateLimit`).
 */
const SENDS_PER_SECOND = 2;
const PAYINS = 10;

let stack: TestStack;
let second: ChildProcess | undefined;

beforeAll(async () => {
  stack = await startStack({
    env: { LIGDICASH_SENDS_PER_SECOND: String(SENDS_PER_SECOND), INITIATION_WAIT_SECONDS: '30' },
    // The payer approves at once: every payin costs two calls on the sends queue quickly.
    sandboxEnv: { SANDBOX_APPROVAL_DELAY_MS: '0' },
  });
  second = spawnWorker(stack.env);
  // Both workers poll LigdiCash's queue before anything is measured.
  const queue = operatorQueue(stack.config.TEMPORAL_TASK_QUEUE, 'ligdicash');
  await eventually(
    'two workers polling the operator queue',
    async () => {
      const { pollers } = await stack.temporal.connection.workflowService.describeTaskQueue({
        namespace: stack.config.TEMPORAL_NAMESPACE,
        taskQueue: { name: queue, kind: 1 },
        taskQueueType: 2,
      });
      return new Set((pollers ?? []).map((p) => p.identity)).size >= 2 ? true : undefined;
    },
    60_000,
  );
});
afterAll(async () => {
  second?.kill('SIGKILL');
  await stack?.stop();
});

describe('operator rate limits', () => {
  it("two workers together never call an operator faster than its queue's limit", async () => {
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

    // Every call to LigdiCash's sends queue (initiations and confirmations), when and by whom.
    const starts: { at: number; worker: string }[] = [];
    for (const c of created) {
      const history = await stack.temporal.workflow.getHandle(`payin-${c.body.id}`).fetchHistory();
      const events = history.events ?? [];
      const scheduled = new Map<string, string>();
      for (const e of events) {
        const s = e.activityTaskScheduledEventAttributes;
        if (s) scheduled.set(String(e.eventId), s.taskQueue?.name ?? '');
        const started = e.activityTaskStartedEventAttributes;
        if (started && scheduled.get(String(started.scheduledEventId)) !== undefined) {
          const queue = scheduled.get(String(started.scheduledEventId));
          if (queue !== operatorQueue(stack.config.TEMPORAL_TASK_QUEUE, 'ligdicash')) continue;
          const time = e.eventTime!;
          starts.push({
            at: Number(time.seconds) * 1000 + Math.floor((time.nanos ?? 0) / 1e6),
            worker: started.identity ?? '',
          });
        }
      }
    }
    starts.sort((a, b) => a.at - b.at);
    expect(starts).toHaveLength(2 * PAYINS);
    // Both workers took part.
    expect(new Set(starts.map((s) => s.worker)).size).toBe(2);
    // The server splits the limit between the queue's partitions (4 on the dev server), each
    // letting a small burst through: calls come in bursts of up to BURST, and on average at the
    // rate. So n calls take at least (n - 2 * BURST) / rate seconds however fast the workers are
    // (without the limit, these 20 take well under a second), and no second holds more than
    // 2 * BURST of them.
    const BURST = Math.max(SENDS_PER_SECOND, 4);
    const spanSeconds = (starts.at(-1)!.at - starts[0]!.at) / 1000;
    expect(spanSeconds).toBeGreaterThanOrEqual((starts.length - 2 * BURST) / SENDS_PER_SECOND);
    const busiestSecond = Math.max(
      ...starts.map((s) => starts.filter((t) => t.at >= s.at && t.at < s.at + 1_000).length),
    );
    expect(busiestSecond).toBeLessThanOrEqual(2 * BURST);
    process.stderr.write(
      `rate limit ${SENDS_PER_SECOND}/s: ${starts.length} calls over ${spanSeconds.toFixed(1)} s, busiest second ${busiestSecond}\n`,
    );
  });
});
