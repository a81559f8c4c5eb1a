import type { ChildProcess } from 'node:child_process';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { getCardAuthorisation } from '../../db/card-authorisations.js';
import { createMerchant } from '../../db/merchants.js';
import { createLogger } from '../../lib/logger.js';
import { startGimSwitch } from '../../sandbox/gim/switch.js';
import { startCardPayin, startProcessorCardPayin } from '../support/cards.js';
import { listPaymentEvents } from '../../db/payments.js';
import { balanceOf, expectBalancedLedger, fundMerchant, recipientNumber } from '../support/money.js';
import {
  api,
  eventually,
  ligdicashControl,
  payinReaches,
  spawnPollingWorker,
  startStack,
  type PayinBody,
  type TestStack,
} from '../support/stack.js';

/** DESIGN.md rule 7: kill the worker at any moment and every payment still reaches a final state. */
let stack: TestStack;
const GIM_MAC_KEY = '0123456789ABCDEFFEDCBA9876543210';
let worker: ChildProcess | undefined;

let gim: Awaited<ReturnType<typeof startGimSwitch>>;

beforeAll(async () => {
  // The card switch (docs/gim-uemoa.md): the worker keeps its connection to it.
  gim = await startGimSwitch({
    host: '127.0.0.1',
    port: 0,
    macKeyHex: GIM_MAC_KEY,
    lateMs: 4_000,
    logger: createLogger({ level: 'silent' }),
  });
  // No in-process worker: the real entry point runs as a child process that we can SIGKILL.
  stack = await startStack({
    worker: false,
    // A killed worker's sticky tasks go back to the shared queue after 1 s instead of 10.
    env: {
      LIGDICASH_PAYIN_DEADLINE_SECONDS: '60',
      INITIATION_WAIT_SECONDS: '3',
      WORKER_STICKY_QUEUE_TIMEOUT_SECONDS: '1',
      // MTN's worst case is four calls (token, call, new token, call): its send lease (three worst
      // cases) is what a re-run after a kill waits for.
      MTN_HTTP_TIMEOUT_MS: '1500',
      GIM_HOST: '127.0.0.1',
      GIM_PORT: String(gim.port),
      GIM_MAC_KEY,
      GIM_TIMEOUT_MS: '1500',
    },
    // The card processor's slow authorisation (its test amount 8006) answers after 4 s.
    sandboxEnv: { SANDBOX_PROCESSOR_SLOW_MS: '4000' },
  });
});
afterEach(() => {
  worker?.kill('SIGKILL');
});
afterAll(async () => {
  await stack?.stop();
  await gim?.close();
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
    worker = await spawnPollingWorker(stack);
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

    worker = await spawnPollingWorker(stack);
    const done = await payinReaches(stack, created.body.id, ['succeeded', 'failed', 'expired'], 45_000);
    expect(done.status).toBe('succeeded');
    const events = await listPaymentEvents(stack.pool, created.body.id);
    expect(events.map((e) => e.toStatus)).toEqual(['created', 'action_required', 'succeeded']);
    expect(stack.sandbox.ligdicash.invoices.findByTransactionId(created.body.id)).toHaveLength(1);
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

    worker = await spawnPollingWorker(stack);
    const started = await payinReaches(stack, created.body.id, ['action_required', 'failed'], 45_000);
    expect(started.next_action?.type).toBe('redirect');
    await ligdicashControl(stack, started.operator_reference!, 'pay');
    const done = await payinReaches(stack, created.body.id, ['succeeded', 'failed', 'expired'], 45_000);
    expect(done.status).toBe('succeeded');
    expect(stack.sandbox.ligdicash.invoices.findByTransactionId(created.body.id)).toHaveLength(1);
  });
});

describe('worker killed during a payout', () => {
  type Payout = { id: string; status: string };

  async function fundedMerchant(amount: number) {
    worker = await spawnPollingWorker(stack);
    const m = await createMerchant(stack.pool, 'Crash payouts');
    await fundMerchant(stack, m.apiKey, [amount]);
    return m;
  }

  async function payoutEnds(key: string, id: string, statuses: string[]): Promise<Payout> {
    return eventually(
      `payout ${id}`,
      async () => {
        const res = await api<Payout>(stack, 'GET', `/v1/payouts/${id}`, { key });
        return statuses.includes(res.body.status) ? res.body : undefined;
      },
      45_000,
    );
  }

  it('between initiate and capture: one payout at the operator, captured once', async () => {
    const m = await fundedMerchant(6_000);
    const created = await api<Payout>(stack, 'POST', '/v1/payouts', {
      key: m.apiKey,
      body: { amount: 2_008, currency: 'XOF', recipient: { phone: recipientNumber() } }, // accepted, left pending
    });
    expect([201, 202]).toContain(created.status);
    const record = await eventually('payout at the operator', async () => {
      const { rows } = await stack.pool.query(
        'SELECT 1 FROM payments WHERE id = $1 AND operator_reference IS NOT NULL',
        [created.body.id],
      );
      return rows.length
        ? stack.sandbox.ligdicash.payouts.findByTransactionId(created.body.id)[0]
        : undefined;
    });
    await killed(worker!);

    const forced = await fetch(
      `${stack.sandboxUrl}/ligdicash/_sandbox/withdrawals/${encodeURIComponent(record.token)}/complete`,
      {
        method: 'POST',
      },
    );
    expect(forced.ok).toBe(true);
    worker = await spawnPollingWorker(stack);
    const done = await payoutEnds(m.apiKey, created.body.id, ['succeeded', 'failed', 'unknown']);
    expect(done.status).toBe('succeeded');
    expect(
      stack.sandbox.ligdicash.payouts.findByTransactionId(created.body.id).filter((w) => w.executed),
    ).toHaveLength(1);
    expect(await balanceOf(stack, m.apiKey)).toMatchObject({ available: 6_000 - 2_008, on_hold: 0 });
    await expectBalancedLedger(stack.pool);
  });

  it('between hold and initiate: never two payouts, and the books balance whatever the timing', async () => {
    const m = await fundedMerchant(6_000);
    await killed(worker!);
    // No worker: the payout is recorded and its workflow waits (202).
    const created = await api<Payout>(stack, 'POST', '/v1/payouts', {
      key: m.apiKey,
      body: { amount: 1_500, currency: 'XOF', recipient: { phone: recipientNumber() } },
    });
    expect(created.status).toBe(202);
    worker = await spawnPollingWorker(stack);
    await eventually(
      'hold posted',
      async () => {
        const { rowCount } = await stack.pool.query(
          "SELECT 1 FROM journal_entries WHERE payment_id = $1 AND step = 'hold'",
          [created.body.id],
        );
        return rowCount ? true : undefined;
      },
      30_000,
      5,
    );
    await killed(worker);
    worker = await spawnPollingWorker(stack);
    const done = await payoutEnds(m.apiKey, created.body.id, ['succeeded', 'unknown', 'failed']);
    const executed = stack.sandbox.ligdicash.payouts
      .findByTransactionId(created.body.id)
      .filter((w) => w.executed);
    if (done.status === 'succeeded') {
      expect(executed).toHaveLength(1);
      expect(await balanceOf(stack, m.apiKey)).toMatchObject({ available: 4_500, on_hold: 0 });
    } else {
      // Killed after the attempt was recorded: sent at most once, the hold kept for reconciliation.
      expect(done.status).toBe('unknown');
      expect(executed.length).toBeLessThanOrEqual(1);
      expect(await balanceOf(stack, m.apiKey)).toMatchObject({ available: 4_500, on_hold: 1_500 });
    }
    await expectBalancedLedger(stack.pool);
  });

  it('while the payout request is in flight: the re-run does not send it again', async () => {
    const m = await fundedMerchant(6_000);
    const request = api<Payout>(stack, 'POST', '/v1/payouts', {
      key: m.apiKey,
      body: { amount: 2_007, currency: 'XOF', recipient: { phone: recipientNumber() } }, // the operator answers slowly
    });
    // Kill the worker once the operator has the request, before it has answered.
    await eventually(
      'payout at the operator',
      async () => {
        const { rows } = await stack.pool.query<{ id: string }>(
          "SELECT id FROM payments WHERE kind = 'payout' AND merchant_id = $1",
          [m.merchant.id],
        );
        return rows[0] && stack.sandbox.ligdicash.payouts.findByTransactionId(rows[0].id).length > 0
          ? true
          : undefined;
      },
      30_000,
      5,
    );
    await killed(worker!);
    const created = await request;
    expect(created.status).toBe(202);
    worker = await spawnPollingWorker(stack);
    const done = await payoutEnds(m.apiKey, created.body.id, ['succeeded', 'unknown', 'failed']);
    expect(done.status).toBe('unknown');
    await new Promise((r) => setTimeout(r, 2_000));
    const records = stack.sandbox.ligdicash.payouts.findByTransactionId(created.body.id);
    expect(records).toHaveLength(1);
    expect(records[0]!.executed).toBe(true);
    expect(await balanceOf(stack, m.apiKey)).toMatchObject({ available: 6_000 - 2_007, on_hold: 2_007 });
    await expectBalancedLedger(stack.pool);
  });

  it('an MTN transfer in flight: the re-run asks MTN by our reference and follows the one transfer to its end', async () => {
    const m = await fundedMerchant(10_000);
    const request = api<Payout>(stack, 'POST', '/v1/payouts', {
      key: m.apiKey,
      // MTN executes at once and answers late (sandbox 6102); the recipient is an MTN Bénin number.
      body: { amount: 6_102, currency: 'XOF', recipient: { phone: '+2290196555501' } },
    });
    const atMtn = () =>
      [...stack.sandbox.mtn.transactions.values()].filter((t) => t.party.partyId === '2290196555501');
    await eventually(
      'transfer at MTN',
      () => Promise.resolve(atMtn().length > 0 ? true : undefined),
      30_000,
      5,
    );
    await killed(worker!);
    const created = await request;
    expect(created.status).toBe(202);
    worker = await spawnPollingWorker(stack);
    // Unlike an operator that cannot be asked by our reference, MTN can: the payout ends succeeded.
    const done = await payoutEnds(m.apiKey, created.body.id, ['succeeded', 'unknown', 'failed']);
    expect(done.status).toBe('succeeded');
    expect(atMtn().map((t) => t.status)).toEqual(['SUCCESSFUL']);
    expect(await balanceOf(stack, m.apiKey)).toMatchObject({ available: 10_000 - 6_102, on_hold: 0 });
    await expectBalancedLedger(stack.pool);
  });
});

describe('worker killed during a card authorisation', () => {
  it('the authorisation re-sent by the next worker (same STAN and RRN) is not a second one; unanswered, it is reversed, never captured', async () => {
    worker = await spawnPollingWorker(stack);
    // The switch approves, holds, and answers only after 4 s (sandbox 7006): kill the worker while it waits.
    const started = await startCardPayin(stack, 7_006);
    const auth = await eventually('the authorisation recorded', () =>
      getCardAuthorisation(stack.pool, started.id),
    );
    await eventually(
      'the 0100 at the switch',
      () => Promise.resolve(gim.state.byRrn(auth.rrn) ? true : undefined),
      30_000,
      5,
    );
    await killed(worker);
    worker = await spawnPollingWorker(stack);
    expect(await started.result).toBe('reversed');
    const tx = gim.state.byRrn(auth.rrn)!;
    // Held once whatever was re-sent, then released; never captured.
    expect(tx).toMatchObject({ reversed: true, captured: 0, held: false });
    expect(tx.mtis.filter((m) => m === '0100').length).toBeGreaterThanOrEqual(1);
    expect(tx.mtis.filter((m) => m.startsWith('04')).length).toBeGreaterThanOrEqual(1);
    const { rows } = await stack.pool.query<{ status: string }>('SELECT status FROM payments WHERE id = $1', [
      started.id,
    ]);
    expect(rows[0]!.status).toBe('failed');
    await expectBalancedLedger(stack.pool);
  });
});

describe('worker killed during a card authorisation at the processor', () => {
  it('re-sent by the next worker under the same Idempotency-Key: one payment at the processor, captured once, credited once', async () => {
    worker = await spawnPollingWorker(stack);
    // The processor records the payment at once and answers only after 4 s: kill the worker meanwhile.
    const started = await startProcessorCardPayin(stack, 8_006);
    const atProcessor = () =>
      [...stack.sandbox.processor.payments.values()].filter((p) => p.reference === started.id);
    await eventually(
      'the authorisation at the processor',
      () => (atProcessor().length ? true : undefined),
      30_000,
      5,
    );
    await killed(worker);
    worker = await spawnPollingWorker(stack);
    expect(await started.result).toBe('captured');
    expect(atProcessor()).toHaveLength(1);
    expect(atProcessor()[0]).toMatchObject({ status: 'captured', amount: 8_006 });
    const { rows } = await stack.pool.query<{ status: string }>('SELECT status FROM payments WHERE id = $1', [
      started.id,
    ]);
    expect(rows[0]!.status).toBe('succeeded');
    await expectBalancedLedger(stack.pool);
  });
});

describe('worker killed during a transfer', () => {
  it('at each step boundary: collected once, never paid out twice, refunded once, books balanced', async () => {
    worker = await spawnPollingWorker(stack);
    const created = await api<{ id: string; legs: { collection: { id: string } } }>(
      stack,
      'POST',
      '/v1/transfers',
      {
        key: stack.merchant.apiKey,
        body: {
          amount: 4_104,
          currency: 'XOF',
          sender: { phone: '+22890555501' },
          recipient: { phone: '+22897555501' },
        },
      },
    );
    expect([201, 202]).toContain(created.status);
    const id = created.body.id;
    const statusIs = (wanted: string) =>
      eventually(
        `transfer ${id} ${wanted}`,
        async () => {
          const { rows } = await stack.pool.query<{ status: string }>(
            'SELECT status FROM transfers WHERE id = $1',
            [id],
          );
          return rows[0]?.status === wanted ? true : undefined;
        },
        45_000,
        5,
      );
    for (const boundary of ['disbursing', 'refunding']) {
      await statusIs(boundary);
      await killed(worker);
      worker = await spawnPollingWorker(stack);
    }
    await statusIs('refunded');
    const { rows } = await stack.pool.query<{ id: string; kind: string }>(
      'SELECT id, kind FROM payments WHERE transfer_id = $1',
      [id],
    );
    const ids = rows.map((r) => r.id);
    const tmoney = [...stack.sandbox.tmoney.transactions.values()].filter(
      (t) => ids.includes(t.refCommande) && t.executed,
    );
    const paygate = [...stack.sandbox.paygate.transactions.values()].filter(
      (t) => ids.includes(t.identifier) && t.executed,
    );
    expect(tmoney.map((t) => [t.kind, t.montant])).toEqual([
      ['debit', 4_104],
      ['credit', 4_104],
    ]);
    expect(paygate).toEqual([]);
    await expectBalancedLedger(stack.pool);
  });
});
