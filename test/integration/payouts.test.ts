import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setFeeSchedule } from '../../db/fees.js';
import { createMerchant } from '../../db/merchants.js';
import { listCallbacks } from '../../db/callbacks.js';
import { api, eventually, recordHistory, startStack, type TestStack } from '../support/stack.js';
import { balanceOf, expectBalancedLedger, fundMerchant, recipientNumber } from '../support/money.js';

/** Payouts through the API, the workflow and the LigdiCash sandbox; the ledger checked after each. */
let stack: TestStack;
beforeAll(async () => {
  stack = await startStack({
    env: { LIGDICASH_HTTP_TIMEOUT_MS: '1500', LIGDICASH_PAYOUT_DEADLINE_SECONDS: '20' },
    sandboxEnv: { SANDBOX_AMBIGUOUS_DELAY_MS: '3000' },
  });
});
afterAll(async () => {
  await stack?.stop();
});

type Payout = {
  id: string;
  status: string;
  fee: number;
  failure: { code: string } | null;
  method: string;
  recipient: { phone: string };
};
type Problem = { type: string; code?: string; payout_id?: string; errors?: { field: string }[] };

async function newFundedMerchant(amounts: number[], fees?: { payinBps?: number; payoutFixed?: number }) {
  const m = await createMerchant(stack.pool, `Payouts ${Date.now()}`);
  if (fees?.payinBps)
    await setFeeSchedule(stack.pool, {
      merchantId: m.merchant.id,
      kind: 'payin',
      currency: 'XOF',
      percentBps: fees.payinBps,
      fixedAmount: 0,
    });
  if (fees?.payoutFixed)
    await setFeeSchedule(stack.pool, {
      merchantId: m.merchant.id,
      kind: 'payout',
      currency: 'XOF',
      percentBps: 0,
      fixedAmount: fees.payoutFixed,
    });
  await fundMerchant(stack, m.apiKey, amounts);
  return m;
}

function createPayout(key: string, body: Record<string, unknown>, idempotencyKey?: string) {
  return api<Payout & Problem>(stack, 'POST', '/v1/payouts', {
    key,
    body: { currency: 'XOF', recipient: { phone: recipientNumber() }, ...body },
    headers: idempotencyKey ? { 'Idempotency-Key': idempotencyKey } : {},
  });
}

async function payoutReaches(
  key: string,
  id: string,
  statuses: string[],
  timeoutMs = 30_000,
): Promise<Payout> {
  return eventually(
    `payout ${id} in ${statuses.join('|')}`,
    async () => {
      const res = await api<Payout>(stack, 'GET', `/v1/payouts/${id}`, { key });
      return statuses.includes(res.body.status) ? res.body : undefined;
    },
    timeoutMs,
  );
}

describe('payouts', () => {
  it('a payin credits net of fees; a payout debits amount and fee, once, through the operator', async () => {
    const m = await newFundedMerchant([10_000], { payinBps: 150, payoutFixed: 100 });
    expect(await balanceOf(stack, m.apiKey)).toEqual({ available: 9_850, on_hold: 0, pending: 0 });

    const created = await createPayout(m.apiKey, { amount: 4_000, description: 'Winnings' });
    expect(created.status).toBe(201);
    expect(created.body.status).toBe('pending');
    expect(created.body.fee).toBe(100);
    const done = await payoutReaches(m.apiKey, created.body.id, ['succeeded', 'failed', 'unknown']);
    expect(done.status).toBe('succeeded');
    expect(await balanceOf(stack, m.apiKey)).toEqual({ available: 5_750, on_hold: 0, pending: 0 });

    const executed = stack.sandbox.ligdicash.payouts.findByTransactionId(done.id);
    expect(executed.map((w) => [w.kind, w.amount, w.executed])).toEqual([['merchant', 4_000, true]]);
    const entries = await api<{ data: { step: string; lines: { account: string; amount: number }[] }[] }>(
      stack,
      'GET',
      `/v1/ledger/entries?payment_id=${done.id}`,
      { key: m.apiKey },
    );
    expect(entries.body.data.map((e) => e.step)).toEqual(['capture', 'hold']);
    expect(entries.body.data[1]!.lines).toEqual(
      expect.arrayContaining([
        { account: 'available', currency: 'XOF', amount: -4_100 },
        { account: 'on_hold', currency: 'XOF', amount: 4_100 },
      ]),
    );
    // The payout callback carries another token than the creation one, and is still accepted.
    const inbox = await eventually('payout callbacks', async () => {
      const rows = await listCallbacks(stack.pool, { paymentId: done.id });
      return rows.length >= 2 ? rows : undefined;
    });
    expect(inbox.map((r) => r.verdict).sort()).toEqual(['confirmed', 'duplicate']);
    await expectBalancedLedger(stack.pool);
    await recordHistory(stack, done.id, 'payout-succeeded', 'payout');
    await recordHistory(stack, done.id, 'payout-succeeded-settle-operator-callbacks', 'payout');
  });

  it('is refused clearly when it cannot be made', async () => {
    const m = await newFundedMerchant([2_000]);
    const small = await createPayout(m.apiKey, { amount: 499 });
    expect(small.status).toBe(422);
    expect(small.body.code).toBe('amount_below_minimum');
    const big = await createPayout(m.apiKey, { amount: 1_000_001 });
    expect(big.status).toBe(422);
    expect(big.body.code).toBe('amount_above_maximum');
    const badNumber = await createPayout(m.apiKey, { amount: 1_000, recipient: { phone: '12345' } });
    expect(badNumber.status).toBe(400);
    expect(badNumber.body.errors?.[0]?.field).toBe('recipient.phone');
    const wrongNetwork = await createPayout(m.apiKey, {
      amount: 1_000,
      recipient: { phone: '+22890112233', network: 'orange_bf' },
    });
    expect(wrongNetwork.status).toBe(422);
    expect(wrongNetwork.body.code).toBe('recipient_network_mismatch');

    const tooMuch = await createPayout(m.apiKey, { amount: 5_000 });
    expect(tooMuch.status).toBe(422);
    expect(tooMuch.headers.get('content-type')).toContain('application/problem+json');
    expect(tooMuch.body.type).toBe('/problems/insufficient-balance');
    expect(tooMuch.body.code).toBe('insufficient_balance');
    const refused = await api<Payout>(stack, 'GET', `/v1/payouts/${tooMuch.body.payout_id}`, {
      key: m.apiKey,
    });
    expect(refused.body.status).toBe('failed');
    expect(stack.sandbox.ligdicash.payouts.findByTransactionId(tooMuch.body.payout_id!)).toHaveLength(0);
    expect(await balanceOf(stack, m.apiKey)).toMatchObject({ available: 2_000, on_hold: 0 });
  });

  it('twenty concurrent payouts that exceed the balance: only those that fit are held', async () => {
    const m = await newFundedMerchant([10_000]);
    const answers = await Promise.all(
      Array.from({ length: 20 }, () => createPayout(m.apiKey, { amount: 1_000 })),
    );
    const accepted = answers.filter((a) => a.status === 201);
    const refused = answers.filter((a) => a.status === 422);
    expect(accepted).toHaveLength(10);
    expect(refused).toHaveLength(10);
    expect(refused.every((r) => r.body.code === 'insufficient_balance')).toBe(true);
    for (const a of accepted) await payoutReaches(m.apiKey, a.body.id, ['succeeded']);
    expect(await balanceOf(stack, m.apiKey)).toMatchObject({ available: 0, on_hold: 0 });
    const executions = accepted.flatMap((a) =>
      stack.sandbox.ligdicash.payouts.findByTransactionId(a.body.id),
    );
    expect(executions.filter((w) => w.executed)).toHaveLength(10);
    await expectBalancedLedger(stack.pool);
  });

  it('that fails at the operator releases its hold', async () => {
    const m = await newFundedMerchant([5_000]);
    const declined = await createPayout(m.apiKey, { amount: 2_001 });
    expect(declined.status).toBe(201);
    const done = await payoutReaches(m.apiKey, declined.body.id, ['failed', 'succeeded']);
    expect(done.status).toBe('failed');
    const refusedByOperator = await createPayout(m.apiKey, { amount: 2_006 });
    expect(refusedByOperator.status).toBe(201);
    expect(refusedByOperator.body.status).toBe('failed');
    expect(refusedByOperator.body.failure?.code).toBe('operator_balance_low');
    expect(await balanceOf(stack, m.apiKey)).toMatchObject({ available: 5_000, on_hold: 0 });
    await expectBalancedLedger(stack.pool);
  });

  it.each([
    ['timeout', 2_002],
    ['5xx', 2_003],
  ])('whose request ends ambiguously (%s) is never sent twice: unknown, hold kept', async (_how, amount) => {
    const m = await newFundedMerchant([5_000]);
    const created = await createPayout(m.apiKey, { amount });
    expect(created.status).toBe(201);
    expect(created.body.status).toBe('unknown');
    expect(created.body.failure?.code).toBe('operator_outcome_unknown');
    // Its workflow over, no retry of the send can come any more.
    await stack.temporal.workflow.getHandle(`payout-${created.body.id}`).result();
    const records = stack.sandbox.ligdicash.payouts.findByTransactionId(created.body.id);
    expect(records).toHaveLength(1);
    expect(records[0]!.executed).toBe(true);
    expect(await balanceOf(stack, m.apiKey)).toMatchObject({ available: 5_000 - amount, on_hold: amount });
    await expectBalancedLedger(stack.pool);
    await recordHistory(stack, created.body.id, `payout-ambiguous-${_how}`, 'payout');
  });

  it('with no callback is found by polling, and one left pending ends unknown at the deadline, hold kept', async () => {
    const m = await newFundedMerchant([10_000]);
    const silent = await createPayout(m.apiKey, { amount: 2_004 }); // executed, no callback
    const pending = await createPayout(m.apiKey, { amount: 2_008 }); // never settles
    expect((await payoutReaches(m.apiKey, silent.body.id, ['succeeded', 'failed'])).status).toBe('succeeded');
    const stuck = await payoutReaches(m.apiKey, pending.body.id, ['unknown', 'succeeded', 'failed'], 40_000);
    expect(stuck.status).toBe('unknown');
    expect(await balanceOf(stack, m.apiKey)).toMatchObject({ on_hold: 2_008 });

    // Both were polled by the retries of one activity: many status calls, no event per poll.
    for (const payout of [silent.body, pending.body]) {
      const calls = stack.sandbox.ligdicash.payouts
        .findByTransactionId(payout.id)
        .reduce((n, w) => n + w.statusCalls, 0);
      const history = await stack.temporal.workflow.getHandle(`payout-${payout.id}`).fetchHistory();
      const scheduled = (history.events ?? [])
        .map((e) => e.activityTaskScheduledEventAttributes?.activityType?.name)
        .filter((name) => name !== undefined);
      expect(scheduled.filter((name) => name === 'pollDisbursementUntilDefinite')).toHaveLength(1);
      expect(calls).toBeGreaterThanOrEqual(payout === pending.body ? 5 : 1);
    }
    await expectBalancedLedger(stack.pool);
  });

  it('goes to a LigdiCash account with the client payout and is idempotent', async () => {
    const m = await newFundedMerchant([3_000]);
    const key = `payout-${Date.now()}`;
    const body = { amount: 1_000, method: 'wallet', recipient: { phone: '+22676000123' } };
    const first = await createPayout(m.apiKey, body, key);
    const again = await createPayout(m.apiKey, body, key);
    expect(first.status).toBe(201);
    expect(again.body.id).toBe(first.body.id);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    await payoutReaches(m.apiKey, first.body.id, ['succeeded']);
    const records = stack.sandbox.ligdicash.payouts.findByTransactionId(first.body.id);
    expect(records.map((w) => [w.kind, w.topUpWallet])).toEqual([['client', 0]]);
    const list = await api<{ data: Payout[] }>(stack, 'GET', '/v1/payouts', { key: m.apiKey });
    expect(list.body.data.map((p) => p.id)).toEqual([first.body.id]);
  });
});
