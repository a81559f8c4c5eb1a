import { describe, expect, it } from 'vitest';
import { createMerchant } from '../../db/merchants.js';
import { listPaymentEvents } from '../../db/payments.js';
import { balanceOf, expectBalancedLedger, fundMerchant, recipientNumber } from '../support/money.js';
import {
  api,
  eventually,
  ligdicashControl,
  payinReaches,
  spawnPollingWorker,
  type PayinBody,
} from '../support/stack.js';
import { killed, useCrashStack } from '../support/worker-crash.js';

/**
 * DESIGN.md rule 7: kill the worker at any moment and every payment still reaches a final state.
 * Payins and payouts here; cards and transfers in worker-crash-cards-transfers.test.ts.
 */
const crash = useCrashStack();

describe('worker killed', () => {
  it('mid-payin (after initiation, while waiting for the payer): a new worker completes it', async () => {
    crash.worker = await spawnPollingWorker(crash.stack);
    const created = await api<PayinBody>(crash.stack, 'POST', '/v1/payins', {
      key: crash.stack.merchant.apiKey,
      body: { amount: 7000, currency: 'XOF', description: 'Crash test' },
    });
    expect(created.status).toBe(201);
    expect(created.body.status).toBe('action_required');

    await killed(crash.worker);
    // The payer pays while no worker runs: the callback is stored and signalled to Temporal.
    await ligdicashControl(crash.stack, created.body.operator_reference!, 'pay');
    await eventually('callback stored', async () => {
      const { rows } = await crash.stack.pool.query(
        "SELECT 1 FROM operator_callbacks WHERE payment_id = $1 AND verdict = 'signalled'",
        [created.body.id],
      );
      return rows.length > 0 ? true : undefined;
    });
    const stillWaiting = await api<PayinBody>(crash.stack, 'GET', `/v1/payins/${created.body.id}`, {
      key: crash.stack.merchant.apiKey,
    });
    expect(stillWaiting.body.status).toBe('action_required');

    crash.worker = await spawnPollingWorker(crash.stack);
    const done = await payinReaches(crash.stack, created.body.id, ['succeeded', 'failed', 'expired'], 45_000);
    expect(done.status).toBe('succeeded');
    const events = await listPaymentEvents(crash.stack.pool, created.body.id);
    expect(events.map((e) => e.toStatus)).toEqual(['created', 'action_required', 'succeeded']);
    expect(crash.stack.sandbox.ligdicash.invoices.findByTransactionId(created.body.id)).toHaveLength(1);
  });

  it('before the payin is created: the API answers 202, and the payin starts when a worker returns', async () => {
    crash.worker = undefined;
    const created = await api<PayinBody>(crash.stack, 'POST', '/v1/payins', {
      key: crash.stack.merchant.apiKey,
      body: { amount: 7100, currency: 'XOF', description: 'No worker yet' },
      headers: { 'Idempotency-Key': `no-worker-${Date.now()}` },
    });
    expect(created.status).toBe(202);
    expect(created.body.status).toBe('created');
    expect(created.body.next_action).toBeNull();

    crash.worker = await spawnPollingWorker(crash.stack);
    const started = await payinReaches(crash.stack, created.body.id, ['action_required', 'failed'], 45_000);
    expect(started.next_action?.type).toBe('redirect');
    await ligdicashControl(crash.stack, started.operator_reference!, 'pay');
    const done = await payinReaches(crash.stack, created.body.id, ['succeeded', 'failed', 'expired'], 45_000);
    expect(done.status).toBe('succeeded');
    expect(crash.stack.sandbox.ligdicash.invoices.findByTransactionId(created.body.id)).toHaveLength(1);
  });
});

describe('worker killed during a payout', () => {
  type Payout = { id: string; status: string };

  async function fundedMerchant(amount: number) {
    crash.worker = await spawnPollingWorker(crash.stack);
    const m = await createMerchant(crash.stack.pool, 'Crash payouts');
    await fundMerchant(crash.stack, m.apiKey, [amount]);
    return m;
  }

  async function payoutEnds(key: string, id: string, statuses: string[]): Promise<Payout> {
    return eventually(
      `payout ${id}`,
      async () => {
        const res = await api<Payout>(crash.stack, 'GET', `/v1/payouts/${id}`, { key });
        return statuses.includes(res.body.status) ? res.body : undefined;
      },
      45_000,
    );
  }

  it('between initiate and capture: one payout at the operator, captured once', async () => {
    const m = await fundedMerchant(6_000);
    const created = await api<Payout>(crash.stack, 'POST', '/v1/payouts', {
      key: m.apiKey,
      body: { amount: 2_008, currency: 'XOF', recipient: { phone: recipientNumber() } }, // accepted, left pending
    });
    expect([201, 202]).toContain(created.status);
    const record = await eventually('payout at the operator', async () => {
      const { rows } = await crash.stack.pool.query(
        'SELECT 1 FROM payments WHERE id = $1 AND operator_reference IS NOT NULL',
        [created.body.id],
      );
      return rows.length
        ? crash.stack.sandbox.ligdicash.payouts.findByTransactionId(created.body.id)[0]
        : undefined;
    });
    await killed(crash.worker!);

    const forced = await fetch(
      `${crash.stack.sandboxUrl}/ligdicash/_sandbox/withdrawals/${encodeURIComponent(record.token)}/complete`,
      {
        method: 'POST',
      },
    );
    expect(forced.ok).toBe(true);
    crash.worker = await spawnPollingWorker(crash.stack);
    const done = await payoutEnds(m.apiKey, created.body.id, ['succeeded', 'failed', 'unknown']);
    expect(done.status).toBe('succeeded');
    expect(
      crash.stack.sandbox.ligdicash.payouts.findByTransactionId(created.body.id).filter((w) => w.executed),
    ).toHaveLength(1);
    expect(await balanceOf(crash.stack, m.apiKey)).toMatchObject({ available: 6_000 - 2_008, on_hold: 0 });
    await expectBalancedLedger(crash.stack.pool);
  });

  it('between hold and initiate: never two payouts, and the books balance whatever the timing', async () => {
    const m = await fundedMerchant(6_000);
    await killed(crash.worker!);
    // No worker: the payout is recorded and its workflow waits (202).
    const created = await api<Payout>(crash.stack, 'POST', '/v1/payouts', {
      key: m.apiKey,
      body: { amount: 1_500, currency: 'XOF', recipient: { phone: recipientNumber() } },
    });
    expect(created.status).toBe(202);
    crash.worker = await spawnPollingWorker(crash.stack);
    await eventually(
      'hold posted',
      async () => {
        const { rowCount } = await crash.stack.pool.query(
          "SELECT 1 FROM journal_entries WHERE payment_id = $1 AND step = 'hold'",
          [created.body.id],
        );
        return rowCount ? true : undefined;
      },
      30_000,
      5,
    );
    await killed(crash.worker);
    crash.worker = await spawnPollingWorker(crash.stack);
    const done = await payoutEnds(m.apiKey, created.body.id, ['succeeded', 'unknown', 'failed']);
    const executed = crash.stack.sandbox.ligdicash.payouts
      .findByTransactionId(created.body.id)
      .filter((w) => w.executed);
    if (done.status === 'succeeded') {
      expect(executed).toHaveLength(1);
      expect(await balanceOf(crash.stack, m.apiKey)).toMatchObject({ available: 4_500, on_hold: 0 });
    } else {
      // Killed after the attempt was recorded: sent at most once, the hold kept for reconciliation.
      expect(done.status).toBe('unknown');
      expect(executed.length).toBeLessThanOrEqual(1);
      expect(await balanceOf(crash.stack, m.apiKey)).toMatchObject({ available: 4_500, on_hold: 1_500 });
    }
    await expectBalancedLedger(crash.stack.pool);
  });

  it('while the payout request is in flight: the re-run does not send it again', async () => {
    const m = await fundedMerchant(6_000);
    const request = api<Payout>(crash.stack, 'POST', '/v1/payouts', {
      key: m.apiKey,
      body: { amount: 2_007, currency: 'XOF', recipient: { phone: recipientNumber() } }, // the operator answers slowly
    });
    // Kill the worker once the operator has the request, before it has answered.
    await eventually(
      'payout at the operator',
      async () => {
        const { rows } = await crash.stack.pool.query<{ id: string }>(
          "SELECT id FROM payments WHERE kind = 'payout' AND merchant_id = $1",
          [m.merchant.id],
        );
        return rows[0] && crash.stack.sandbox.ligdicash.payouts.findByTransactionId(rows[0].id).length > 0
          ? true
          : undefined;
      },
      30_000,
      5,
    );
    await killed(crash.worker!);
    const created = await request;
    expect(created.status).toBe(202);
    crash.worker = await spawnPollingWorker(crash.stack);
    const done = await payoutEnds(m.apiKey, created.body.id, ['succeeded', 'unknown', 'failed']);
    expect(done.status).toBe('unknown');
    // Its workflow over, no retry of the send can come any more.
    await crash.stack.temporal.workflow.getHandle(`payout-${created.body.id}`).result();
    const records = crash.stack.sandbox.ligdicash.payouts.findByTransactionId(created.body.id);
    expect(records).toHaveLength(1);
    expect(records[0]!.executed).toBe(true);
    expect(await balanceOf(crash.stack, m.apiKey)).toMatchObject({
      available: 6_000 - 2_007,
      on_hold: 2_007,
    });
    await expectBalancedLedger(crash.stack.pool);
  });

  it('an MTN transfer in flight: the re-run asks MTN by our reference and follows the one transfer to its end', async () => {
    const m = await fundedMerchant(10_000);
    const request = api<Payout>(crash.stack, 'POST', '/v1/payouts', {
      key: m.apiKey,
      // MTN executes at once and answers late (sandbox 6102); the recipient is an MTN Bénin number.
      body: { amount: 6_102, currency: 'XOF', recipient: { phone: '+2290196555501' } },
    });
    const atMtn = () =>
      [...crash.stack.sandbox.mtn.transactions.values()].filter((t) => t.party.partyId === '2290196555501');
    await eventually(
      'transfer at MTN',
      () => Promise.resolve(atMtn().length > 0 ? true : undefined),
      30_000,
      5,
    );
    await killed(crash.worker!);
    const created = await request;
    expect(created.status).toBe(202);
    crash.worker = await spawnPollingWorker(crash.stack);
    // Unlike an operator that cannot be asked by our reference, MTN can: the payout ends succeeded.
    const done = await payoutEnds(m.apiKey, created.body.id, ['succeeded', 'unknown', 'failed']);
    expect(done.status).toBe('succeeded');
    expect(atMtn().map((t) => t.status)).toEqual(['SUCCESSFUL']);
    expect(await balanceOf(crash.stack, m.apiKey)).toMatchObject({ available: 10_000 - 6_102, on_hold: 0 });
    await expectBalancedLedger(crash.stack.pool);
  });
});
