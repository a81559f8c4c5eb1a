import { cardVaultRing } from '../../lib/config.js';
import { ScheduleOverlapPolicy } from '@temporalio/client';
import { MockActivityEnvironment } from '@temporalio/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActivities } from '../../activities/index.js';
import { initiationWaitsInFlight } from '../../api/payment-start.js';
import { createMerchant } from '../../db/merchants.js';
import { laneOf } from '../../db/operator-pacing.js';
import { acquireSendLease, getPayment, insertPayment } from '../../db/payments.js';
import { newId } from '../../lib/ids.js';
import { parseMsisdn } from '../../lib/phone.js';
import { createLogger } from '../../lib/logger.js';
import { operatorPollingQueue } from '../../lib/task-queues.js';
import {
  activitiesIn,
  api,
  eventually,
  ligdicashControl,
  payinReaches,
  reconciliationRun,
  recordHistory,
  startStack,
  type PayinBody,
  type TestStack,
} from '../support/stack.js';
import { balanceOf, expectBalancedLedger, fundMerchant, recipientNumber } from '../support/money.js';
import { hiddenFields, postForm } from '../support/togo.js';
import { useOwnDatabase } from '../support/own-database.js';

/**
 * Temporal used the way its engineers would (issue "Temporal used the way..."): deadlines kept to
 * the second, a saga that survives its children, bounded histories, cancellation-safe money,
 * bounded client calls. Each test fails on the code before its fix.
 */
let stack: TestStack;

// Its checks read what every file's stack writes: a database of its own (test/support/own-database.ts).
useOwnDatabase();
beforeAll(async () => {
  stack = await startStack({
    env: {
      LIGDICASH_PAYIN_DEADLINE_SECONDS: '12',
      LIGDICASH_POLL_INITIAL_SECONDS: '1',
      LIGDICASH_POLL_MAX_SECONDS: '8',
      TMONEY_PAYIN_DEADLINE_SECONDS: '30',
      TRANSFER_RESOLUTION_CHECK_SECONDS: '1',
      TRANSFER_RESOLUTION_MAX_SECONDS: '8',
      SWEEP_RECHECK_MINUTES: '0',
    },
    sandboxEnv: { SANDBOX_SLOW_MS: '8000', SANDBOX_AMBIGUOUS_DELAY_MS: '3000' },
  });
});
afterAll(async () => {
  await stack?.stop();
});

async function historyOf(workflowId: string) {
  return (await stack.temporal.workflow.getHandle(workflowId).fetchHistory()).events ?? [];
}

describe('deadlines', () => {
  it("a payin that never completes is looked at a last time at its deadline, not at the poll's last retry", async () => {
    const created = await api<PayinBody>(stack, 'POST', '/v1/payins', {
      key: stack.merchant.apiKey,
      body: { amount: 1_009, currency: 'XOF' }, // nothing ever happens
    });
    const done = await payinReaches(stack, created.body.id, ['expired', 'failed', 'succeeded'], 30_000);
    expect(done.status).toBe('expired');
    const payment = (await getPayment(stack.pool, created.body.id))!;
    const invoice = stack.sandbox.ligdicash.invoices.get(created.body.operator_reference!)!;
    // With polls backing off to 8 s, the server's last retry comes around 7 s; the deadline is 12 s.
    const lastCheck = Date.parse(invoice.lastStatusCallAt!);
    expect(lastCheck).toBeGreaterThanOrEqual(payment.deadlineAt!.getTime());
    expect(lastCheck - payment.deadlineAt!.getTime()).toBeLessThan(1_000);
    await recordHistory(stack, created.body.id, 'payin-expired-waits-until-deadline');
  });

  it('a callback that comes while the poll is in flight cancels it and is checked at once', async () => {
    // The poll stays in flight, whatever the machine's speed: its operator lane's next slot is a
    // minute away (db/operator-pacing.ts), so it waits for it, heartbeating, and cannot see the
    // payment paid before the callback does (on a loaded machine a 1 s poll could).
    const polls = laneOf('ligdicash', 'polls');
    await stack.pool.query(
      `INSERT INTO operator_call_pacing (lane, next_slot_at) VALUES ($1, now() + interval '60 seconds')
       ON CONFLICT (lane) DO UPDATE SET next_slot_at = EXCLUDED.next_slot_at`,
      [polls],
    );
    try {
      const created = await api<PayinBody>(stack, 'POST', '/v1/payins', {
        key: stack.merchant.apiKey,
        body: { amount: 6_100, currency: 'XOF' },
      });
      const workflowId = `payin-${created.body.id}`;
      await eventually('polling started', async () =>
        (await historyOf(workflowId)).some(
          (e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'pollPayinUntilEnded',
        )
          ? true
          : undefined,
      );
      // Held: it has not asked LigdiCash anything yet.
      const invoice = stack.sandbox.ligdicash.invoices.get(created.body.operator_reference!)!;
      expect(invoice.lastStatusCallAt).toBeNull();
      const { ligdicashControl } = await import('../support/stack.js');
      await ligdicashControl(stack, created.body.operator_reference!, 'pay');
      const done = await payinReaches(stack, created.body.id, ['succeeded', 'expired', 'failed']);
      expect(done.status).toBe('succeeded');
      // The end is in the database once the local activity that confirms it has run; the
      // cancellation is in the history once the workflow task it ran in completes: read it ended.
      await stack.temporal.workflow.getHandle(workflowId).result();
      const events = await historyOf(workflowId);
      expect(events.some((e) => e.activityTaskCancelRequestedEventAttributes)).toBe(true);
      expect(events.some((e) => e.workflowExecutionSignaledEventAttributes)).toBe(true);
      await recordHistory(stack, created.body.id, 'payin-callback-cancels-polling');
    } finally {
      await stack.pool.query('UPDATE operator_call_pacing SET next_slot_at = now() WHERE lane = $1', [polls]);
    }
  });
});

describe('schedules', () => {
  it('a catch-up settlement run reconciles the day before the one it was due on, not before the day it ran', async () => {
    const scheduleId = `test-settlement-${stack.config.TEMPORAL_TASK_QUEUE}`;
    const handle = await stack.temporal.schedule.create({
      scheduleId,
      spec: { calendars: [{ hour: 2, minute: 0, comment: 'as the real one' }] },
      action: {
        type: 'startWorkflow',
        workflowType: 'settlementReconciliation',
        args: [{ operator: 'paygate', triggeredBy: 'schedule' }],
        taskQueue: stack.config.TEMPORAL_TASK_QUEUE,
        workflowId: scheduleId,
      },
      policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: '7 days' },
    });
    try {
      // The worker was down three days ago at 02:00: that run is caught up now.
      const due = new Date(`${new Date(Date.now() - 3 * 86_400_000).toISOString().slice(0, 10)}T02:00:00Z`);
      await handle.backfill([
        {
          start: new Date(due.getTime() - 1_000),
          end: new Date(due.getTime() + 1_000),
          overlap: ScheduleOverlapPolicy.ALLOW_ALL,
        },
      ]);
      const run = await eventually('caught-up run', async () => {
        const { rows } = await stack.pool.query<{ period_start: Date; status: string }>(
          "SELECT period_start, status FROM reconciliation_runs WHERE workflow_id LIKE $1 || '%' AND status <> 'running'",
          [scheduleId],
        );
        return rows[0];
      });
      expect(run.period_start.toISOString().slice(0, 10)).toBe(
        new Date(due.getTime() - 86_400_000).toISOString().slice(0, 10),
      );
    } finally {
      await handle.delete().catch(() => undefined);
    }
  });
});

describe('task queues', () => {
  it("an operator's polls run on its own polling queue; its send runs in the workflow's task", async () => {
    const created = await api<PayinBody>(stack, 'POST', '/v1/payins', {
      key: stack.merchant.apiKey,
      body: { amount: 1_003, currency: 'XOF' }, // paid, never called back: found by polling
    });
    const { ligdicashControl } = await import('../support/stack.js');
    await ligdicashControl(stack, created.body.operator_reference!, 'pay');
    await payinReaches(stack, created.body.id, ['succeeded']);
    await stack.temporal.workflow.getHandle(`payin-${created.body.id}`).result();
    const runs = activitiesIn(await historyOf(`payin-${created.body.id}`));
    const main = stack.config.TEMPORAL_TASK_QUEUE;
    // The send is a local activity (paced in LigdiCash's lane on the database); the poll that
    // found the payment paid is an activity of LigdiCash's polling queue, and recorded the end.
    expect(runs.map(({ name, local, taskQueue }) => ({ name, local, taskQueue }))).toEqual([
      { name: 'initiatePayinLocally', local: true, taskQueue: undefined },
      { name: 'pollPayinUntilEnded', local: false, taskQueue: operatorPollingQueue(main, 'ligdicash') },
    ]);
    // Each took its slot in its lane.
    const { rows } = await stack.pool.query<{ lane: string }>(
      'SELECT lane FROM operator_call_pacing ORDER BY lane',
    );
    expect(rows.map((r) => r.lane)).toEqual(expect.arrayContaining(['ligdicash:polls', 'ligdicash:sends']));
  });
});

describe('creates', () => {
  it('a create that times out answers 202 and leaves no call to Temporal running in the API', async () => {
    const noWorker = await startStack({ worker: false, env: { INITIATION_WAIT_SECONDS: '1' } });
    try {
      const before = initiationWaitsInFlight();
      const created = await api<PayinBody>(noWorker, 'POST', '/v1/payins', {
        key: noWorker.merchant.apiKey,
        body: { amount: 5_000, currency: 'XOF' },
      });
      expect(created.status).toBe(202);
      expect(initiationWaitsInFlight()).toBe(before);
    } finally {
      await noWorker.stop();
    }
  });
});

/** The worker's activities, run in this process (MockActivityEnvironment gives their context). */
function activitiesInProcess() {
  return createActivities({
    config: stack.config,
    pool: stack.pool,
    logger: createLogger({ level: 'silent' }),
  });
}

/** A LigdiCash payout recorded and held, as its workflow's first step leaves it. */
async function heldPayout(
  merchantId: string,
  amount: number,
  activities: ReturnType<typeof activitiesInProcess>,
): Promise<string> {
  const id = newId('pay');
  const recipient = parseMsisdn(recipientNumber());
  if (!recipient.ok) throw new Error(recipient.reason);
  await insertPayment(
    stack.pool,
    {
      id,
      merchantId,
      livemode: false,
      kind: 'payout',
      amount,
      currency: 'XOF',
      operator: 'ligdicash',
      network: recipient.value.network,
      mode: 'mobile_money',
      customer: { phone: recipient.value.e164 },
      metadata: {},
      deadlineAt: new Date(Date.now() + 86_400_000),
      workflowId: `payout-${id}`,
    },
    cardVaultRing(stack.config),
  );
  expect(
    await new MockActivityEnvironment().run((pid: string) => activities.holdFunds(pid), id),
  ).toMatchObject({
    status: 'pending',
  });
  return id;
}

describe('disbursements', () => {
  it('a cancellation keeps the hold while a send may be in flight, and a send that starts after it sends nothing', async () => {
    const m = await createMerchant(stack.pool, 'Cancel race');
    await fundMerchant(stack, m.apiKey, [6_000]);
    const activities = activitiesInProcess();
    const run = new MockActivityEnvironment();
    // A send has the lease (it learns of the cancellation only at its next heartbeat).
    const inFlight = await heldPayout(m.merchant.id, 1_500, activities);
    expect(await acquireSendLease(stack.pool, inFlight, 'a-send-attempt', 60_000)).toBe(true);
    expect(await run.run((pid: string) => activities.abandonDisbursement(pid, 'test'), inFlight)).toBe(
      'unknown',
    );
    // The cancellation comes first: the hold is released, and the late send ends without sending.
    const first = await heldPayout(m.merchant.id, 1_600, activities);
    expect(await run.run((pid: string) => activities.abandonDisbursement(pid, 'test'), first)).toBe('failed');
    expect(
      await new MockActivityEnvironment().run(
        (pid: string, n: number) => activities.initiateDisbursement(pid, n),
        first,
        1,
      ),
    ).toMatchObject({ kind: 'ended', status: 'failed' });
    expect(stack.sandbox.ligdicash.payouts.findByTransactionId(first)).toHaveLength(0);
    expect(await balanceOf(stack, m.apiKey)).toMatchObject({ available: 6_000 - 1_500, on_hold: 1_500 });
    await expectBalancedLedger(stack.pool);
  });

  it('a cancelled payout settles what it holds: unknown once it may have been sent, never pending for ever', async () => {
    const m = await createMerchant(stack.pool, 'Cancelled payout');
    const key = m.apiKey;
    await fundMerchant(stack, key, [5_000]);
    const created = await api<PayinBody>(stack, 'POST', '/v1/payouts', {
      key,
      body: { amount: 2_008, currency: 'XOF', recipient: { phone: recipientNumber() } }, // left pending
    });
    expect(created.body.status).toBe('pending');
    await stack.temporal.workflow.getHandle(`payout-${created.body.id}`).cancel();
    const after = await eventually('payout settled after cancel', async () => {
      const p = await getPayment(stack.pool, created.body.id);
      return p && p.status !== 'pending' ? p : undefined;
    });
    expect(after.status).toBe('unknown');
    expect(await balanceOf(stack, key)).toMatchObject({ on_hold: 2_008 });
    await expectBalancedLedger(stack.pool);
    await eventually('payout workflow closed', async () => {
      const d = await stack.temporal.workflow.getHandle(`payout-${created.body.id}`).describe();
      return d.status.name !== 'RUNNING' ? true : undefined;
    });
    await recordHistory(stack, created.body.id, 'payout-cancelled', 'payout');
  });

  it('a terminated payout is found by the sweep and left unknown with its hold, for reconciliation', async () => {
    const m = await createMerchant(stack.pool, 'Terminated payout');
    await fundMerchant(stack, m.apiKey, [5_000]);
    const created = await api<PayinBody>(stack, 'POST', '/v1/payouts', {
      key: m.apiKey,
      body: { amount: 2_008, currency: 'XOF', recipient: { phone: recipientNumber() } },
    });
    await stack.temporal.workflow.getHandle(`payout-${created.body.id}`).terminate('test');
    // Left alone for a while (a terminated workflow does not say so anywhere else).
    await stack.pool.query("UPDATE payments SET updated_at = now() - interval '1 hour' WHERE id = $1", [
      created.body.id,
    ]);
    await reconciliationRun(stack, { operator: 'ligdicash', kind: 'sweep' });
    expect((await getPayment(stack.pool, created.body.id))!.status).toBe('unknown');
    expect(await balanceOf(stack, m.apiKey)).toMatchObject({ on_hold: 2_008 });
  });

  it("an attempt's operator call stops when the activity is cancelled, and a concurrent attempt never sends beside it", async () => {
    const m = await createMerchant(stack.pool, 'Lease');
    await fundMerchant(stack, m.apiKey, [6_000]);
    const activities = activitiesInProcess();
    // A payout recorded and held, as the workflow's first step leaves it; its operator answers in 8 s.
    const id = await heldPayout(m.merchant.id, 2_007, activities);
    const first = new MockActivityEnvironment({ attempt: 1, startToCloseTimeoutMs: 300_000 });
    const second = new MockActivityEnvironment({ attempt: 2, startToCloseTimeoutMs: 300_000 });
    const started = Date.now();
    const inFlight = first.run((pid: string, n: number) => activities.initiateDisbursement(pid, n), id, 1);
    await eventually('lease taken', async () => {
      const { rows } = await stack.pool.query<{ owner: string | null }>(
        'SELECT send_lease_owner AS owner FROM payments WHERE id = $1',
        [id],
      );
      return rows[0]?.owner ? true : undefined;
    });
    await expect(
      second.run((pid: string, n: number) => activities.initiateDisbursement(pid, n), id, 1),
    ).rejects.toMatchObject({
      type: 'SendInFlight',
    });
    first.cancel();
    const result = await inFlight;
    expect(Date.now() - started).toBeLessThan(3_000); // not the operator's 8 s, nor our 5 s timeout
    expect(result).toMatchObject({ kind: 'ambiguous' });
    const { rows } = await stack.pool.query<{ owner: string | null }>(
      'SELECT send_lease_owner AS owner FROM payments WHERE id = $1',
      [id],
    );
    expect(rows[0]!.owner).toBeNull();
  });
});

type Transfer = {
  id: string;
  status: string;
  legs: { collection: { id: string } | null; disbursement: { id: string; status: string } | null };
};
async function transferEnds(id: string, statuses: string[]): Promise<Transfer> {
  return eventually(
    `transfer ${id}`,
    async () => {
      const r = await api<Transfer>(stack, 'GET', `/v1/transfers/${id}`, { key: stack.merchant.apiKey });
      return statuses.includes(r.body.status) ? r.body : undefined;
    },
    45_000,
  );
}

describe('the transfer saga', () => {
  it('survives a leg terminated from the UI: needs review, nothing paid out, no failed workflow', async () => {
    const created = await api<Transfer>(stack, 'POST', '/v1/transfers', {
      key: stack.merchant.apiKey,
      body: {
        amount: 3_009, // the sender never approves
        currency: 'XOF',
        mode: 'direct',
        sender: { phone: '+22890112233' },
        recipient: { phone: '+22897112233' },
      },
    });
    expect([201, 202]).toContain(created.status);
    const collection = created.body.legs.collection!.id;
    await eventually('collection waiting', async () => {
      const p = await getPayment(stack.pool, collection);
      return p?.status === 'action_required' ? true : undefined;
    });
    await stack.temporal.workflow.getHandle(`payin-${collection}`).terminate('an operator clicked terminate');
    const done = await transferEnds(created.body.id, ['needs_review', 'failed', 'completed']);
    expect(done.status).toBe('needs_review');
    // The transfer's row says needs_review from an activity, a moment before its workflow
    // returns: wait for the workflow's end, which must be a completion, not a failure.
    const handle = stack.temporal.workflow.getHandle(`transfer-${created.body.id}`);
    await handle.result();
    expect((await handle.describe()).status.name).toBe('COMPLETED');
    expect(done.legs.disbursement?.status).toBe('cancelled');
  });

  it('a transfer whose own workflow was terminated is found by the sweep and left for review', async () => {
    const created = await api<Transfer>(stack, 'POST', '/v1/transfers', {
      key: stack.merchant.apiKey,
      body: {
        amount: 3_009,
        currency: 'XOF',
        mode: 'direct',
        sender: { phone: '+22890112233' },
        recipient: { phone: '+22897112233' },
      },
    });
    await stack.temporal.workflow.getHandle(`transfer-${created.body.id}`).terminate('test');
    await stack.pool.query("UPDATE transfers SET updated_at = now() - interval '1 hour' WHERE id = $1", [
      created.body.id,
    ]);
    await reconciliationRun(stack, { operator: 'tmoney', kind: 'sweep' });
    const after = await api<Transfer>(stack, 'GET', `/v1/transfers/${created.body.id}`, {
      key: stack.merchant.apiKey,
    });
    expect(after.body.status).toBe('needs_review');
  });

  it('a hosted payin whose workflow was terminated is settled by the sweep from its attempts', async () => {
    type Hosted = PayinBody & { attempts: { id: string; status: string }[] };
    const hosted = async () => {
      const res = await api<Hosted>(stack, 'POST', '/v1/payins', {
        key: stack.merchant.apiKey,
        body: { amount: 2_300, currency: 'XOF', mode: 'hosted' },
      });
      expect(res.status).toBe(201);
      return res.body;
    };
    const choose = async (h: Hosted, phone: string) => {
      const url = h.next_action!.url!;
      const nonce = hiddenFields(await (await fetch(url)).text()).nonce!;
      expect((await postForm(url, { action: 'pay', nonce, network: 'moov_bf', phone })).status).toBe(303);
    };
    // One paid: its workflow terminated while its attempt (which runs on) was waiting for the payer.
    const paid = await hosted();
    await choose(paid, '70000009'); // sandbox: the payer does nothing until told
    const waiting = (await payinReaches(stack, paid.id, ['action_required'])) as Hosted;
    await stack.temporal.workflow.getHandle(`payin-${paid.id}`).terminate('an operator clicked terminate');
    const token = (await payinReaches(stack, waiting.attempts[0]!.id, ['action_required']))
      .operator_reference!;
    await ligdicashControl(stack, token, 'complete');
    await payinReaches(stack, waiting.attempts[0]!.id, ['succeeded']);
    // One declined, then abandoned.
    const declined = await hosted();
    await choose(declined, '70000001');
    await eventually('the attempt to fail', async () => {
      const p = await api<Hosted>(stack, 'GET', `/v1/payins/${declined.id}`, { key: stack.merchant.apiKey });
      return p.body.attempts[0]?.status === 'failed' ? true : undefined;
    });
    await stack.temporal.workflow.getHandle(`payin-${declined.id}`).terminate('test');
    await stack.pool.query(
      "UPDATE payments SET deadline_at = now() - interval '2 minutes' WHERE id = ANY($1)",
      [[paid.id, declined.id]],
    );
    await reconciliationRun(stack, { operator: 'ligdicash', kind: 'sweep' });
    const settled = await api<Hosted>(stack, 'GET', `/v1/payins/${paid.id}`, { key: stack.merchant.apiKey });
    expect(settled.body.status).toBe('succeeded');
    expect(settled.body.operator_reference).toBe(waiting.attempts[0]!.id);
    const ended = await api<Hosted>(stack, 'GET', `/v1/payins/${declined.id}`, {
      key: stack.merchant.apiKey,
    });
    expect(ended.body.status).toBe('expired');
    expect(ended.body.failure?.code).not.toBe('checkout_expired'); // the decline's own reason
  });

  it('keeps its history small while it looks a leg of unknown outcome up', async () => {
    const created = await api<Transfer>(stack, 'POST', '/v1/transfers', {
      key: stack.merchant.apiKey,
      body: {
        amount: 4_106, // lost payout, never found: looked up every second for 8 s
        currency: 'XOF',
        mode: 'direct',
        sender: { phone: '+22890112233' },
        recipient: { phone: '+22897112233' },
      },
    });
    const done = await transferEnds(created.body.id, ['needs_review', 'refunded', 'completed']);
    expect(done.status).toBe('needs_review');
    const events = await historyOf(`transfer-${created.body.id}`);
    const timers = events.filter((e) => e.timerStartedEventAttributes).length;
    expect(timers).toBe(0); // one activity, retried by the server; not a timer per look
    expect(events.length).toBeLessThan(100); // 79 measured; a timer per look would add 11 events a second here
    console.log(
      `transfer awaiting resolution for 8 s of look-ups every 1 s: ${events.length} history events`,
    );
    await recordHistory(stack, created.body.id, 'transfer-awaiting-resolution-needs-review', 'transfer');
  });
});
