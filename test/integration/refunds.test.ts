import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMerchant, setRefundRecipients } from '../../db/merchants.js';
import {
  api,
  eventually,
  ligdicashControl,
  payinReaches,
  recordHistory,
  startStack,
  type PayinBody,
  type TestStack,
} from '../support/stack.js';
import { balanceOf, expectBalancedLedger, fundMerchant, recipientNumber } from '../support/money.js';

/** Refunds: a payout to the payer through the payin's operator, never more than was paid. */
let stack: TestStack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(async () => {
  await stack?.stop();
});

type Refund = {
  id: string;
  status: string;
  amount: number;
  payin: string;
  recipient: { phone?: string };
  failure: { code: string } | null;
};
type Problem = { type: string; code?: string; refund_id?: string; errors?: { field: string }[] };

function refund(key: string, payinId: string, body: Record<string, unknown>) {
  return api<Refund & Problem>(stack, 'POST', `/v1/payins/${payinId}/refunds`, { key, body });
}

async function refundReaches(key: string, id: string, statuses: string[]): Promise<Refund> {
  return eventually(`refund ${id}`, async () => {
    const res = await api<Refund>(stack, 'GET', `/v1/refunds/${id}`, { key });
    return statuses.includes(res.body.status) ? res.body : undefined;
  });
}

async function payinStatus(key: string, id: string): Promise<string> {
  return (await api<PayinBody>(stack, 'GET', `/v1/payins/${id}`, { key })).body.status;
}

describe('refunds', () => {
  it('in part then in full: the payer gets the money back, the payin shows partially_refunded then refunded', async () => {
    const m = await createMerchant(stack.pool, 'Refunder');
    const [payin] = await fundMerchant(stack, m.apiKey, [10_000]);
    const first = await refund(m.apiKey, payin!, { amount: 4_000, reason: 'One item returned' });
    expect(first.status).toBe(201);
    expect(first.body.payin).toBe(payin);
    expect(first.body.recipient.phone).toBe('+226******01'); // masked: the number is in the vault
    await refundReaches(m.apiKey, first.body.id, ['succeeded']);
    expect(await payinStatus(m.apiKey, payin!)).toBe('partially_refunded');
    await recordHistory(stack, first.body.id, 'refund-succeeded', 'refund');

    const rest = await refund(m.apiKey, payin!, {});
    expect(rest.status).toBe(201);
    expect(rest.body.amount).toBe(6_000);
    await refundReaches(m.apiKey, rest.body.id, ['succeeded']);
    expect(await payinStatus(m.apiKey, payin!)).toBe('refunded');
    expect(await balanceOf(stack, m.apiKey)).toMatchObject({ available: 0, on_hold: 0 });

    const paidBack = [first.body.id, rest.body.id].flatMap((id) =>
      stack.sandbox.ligdicash.payouts.findByTransactionId(id),
    );
    expect(paidBack.map((w) => [w.customer, w.amount, w.executed])).toEqual([
      ['22676000001', 4_000, true],
      ['22676000001', 6_000, true],
    ]);
    const list = await api<{ data: Refund[] }>(stack, 'GET', `/v1/payins/${payin}/refunds`, {
      key: m.apiKey,
    });
    expect(list.body.data.map((r) => r.id)).toEqual([first.body.id, rest.body.id]);
    const again = await refund(m.apiKey, payin!, { amount: 500 });
    expect(again.status).toBe(422);
    expect(again.body.code).toBe('payin_not_refundable');
    await expectBalancedLedger(stack.pool);
  });

  it('above what remains, or of a payin not succeeded, is refused', async () => {
    const m = await createMerchant(stack.pool, 'Careful');
    const [payin] = await fundMerchant(stack, m.apiKey, [3_000]);
    const over = await refund(m.apiKey, payin!, { amount: 3_001 });
    expect(over.status).toBe(422);
    expect(over.body.code).toBe('refund_exceeds_remaining');
    const tiny = await refund(m.apiKey, payin!, { amount: 100 });
    expect(tiny.status).toBe(422);
    expect(tiny.body.code).toBe('amount_below_minimum');
    const open = await api<PayinBody>(stack, 'POST', '/v1/payins', {
      key: m.apiKey,
      body: { amount: 1_000, currency: 'XOF' },
    });
    const notYet = await refund(m.apiKey, open.body.id, { amount: 1_000 });
    expect(notYet.status).toBe(422);
    expect(notYet.body.code).toBe('payin_not_refundable');
    const other = await createMerchant(stack.pool, 'Stranger');
    expect((await refund(other.apiKey, payin!, { amount: 1_000 })).status).toBe(404);
  });

  it('concurrent refunds never exceed the payin', async () => {
    const m = await createMerchant(stack.pool, 'Concurrent');
    await setRefundRecipients(stack.pool, m.merchant.id, 'any');
    const [payin] = await fundMerchant(stack, m.apiKey, [9_000]);
    const answers = await Promise.all(
      [1, 2, 3].map(() =>
        refund(m.apiKey, payin!, { amount: 4_000, recipient: { phone: recipientNumber() } }),
      ),
    );
    expect(answers.filter((a) => a.status === 201)).toHaveLength(2);
    expect(answers.filter((a) => a.status === 422).map((a) => a.body.code)).toEqual([
      'refund_exceeds_remaining',
    ]);
    for (const a of answers.filter((x) => x.status === 201))
      await refundReaches(m.apiKey, a.body.id, ['succeeded']);
    expect(await payinStatus(m.apiKey, payin!)).toBe('partially_refunded');
    expect(await balanceOf(stack, m.apiKey)).toMatchObject({ available: 1_000, on_hold: 0 });
    await expectBalancedLedger(stack.pool);
  });

  it('needs a recipient when the payer number is unknown, and is refused when the balance is too low', async () => {
    const m = await createMerchant(stack.pool, 'Anonymous payer');
    await setRefundRecipients(stack.pool, m.merchant.id, 'any');
    const created = await api<PayinBody>(stack, 'POST', '/v1/payins', {
      key: m.apiKey,
      body: { amount: 8_000, currency: 'XOF' },
    });
    await ligdicashControl(stack, created.body.operator_reference!, 'pay');
    await payinReaches({ ...stack, merchant: { id: m.merchant.id, apiKey: m.apiKey } }, created.body.id, [
      'succeeded',
    ]);
    const noRecipient = await refund(m.apiKey, created.body.id, { amount: 1_000 });
    expect(noRecipient.status).toBe(400);
    expect(noRecipient.body.errors?.[0]?.field).toBe('recipient.phone');

    // Spend most of the balance, then try to refund more than is left.
    const payout = await api<{ id: string }>(stack, 'POST', '/v1/payouts', {
      key: m.apiKey,
      body: { amount: 6_000, currency: 'XOF', recipient: { phone: recipientNumber() } },
    });
    expect(payout.status).toBe(201);
    const short = await refund(m.apiKey, created.body.id, {
      amount: 5_000,
      recipient: { phone: recipientNumber() },
    });
    expect(short.status).toBe(422);
    expect(short.body.type).toBe('/problems/insufficient-balance');
    const failed = await api<Refund>(stack, 'GET', `/v1/refunds/${short.body.refund_id}`, { key: m.apiKey });
    expect(failed.body.status).toBe('failed');
    // The refused refund does not count against what remains refundable.
    const fits = await refund(m.apiKey, created.body.id, {
      amount: 2_000,
      recipient: { phone: recipientNumber() },
    });
    expect(fits.status).toBe(201);
    await refundReaches(m.apiKey, fits.body.id, ['succeeded']);
    await expectBalancedLedger(stack.pool);
  });

  it("goes back to the payer's own number: another is refused unless the merchant allows it (then logged)", async () => {
    const m = await createMerchant(stack.pool, 'Payer only');
    const [payin] = await fundMerchant(stack, m.apiKey, [5_000]);
    const elsewhere = await refund(m.apiKey, payin!, {
      amount: 1_000,
      recipient: { phone: recipientNumber() },
    });
    expect(elsewhere.status).toBe(422);
    expect(elsewhere.body.code).toBe('refund_recipient_not_allowed');
    // The payer's own number, given explicitly, is fine.
    const own = await refund(m.apiKey, payin!, { amount: 1_000, recipient: { phone: '+22676000001' } });
    expect(own.status).toBe(201);
    await refundReaches(m.apiKey, own.body.id, ['succeeded']);
    await setRefundRecipients(stack.pool, m.merchant.id, 'any');
    const allowed = await refund(m.apiKey, payin!, {
      amount: 1_000,
      recipient: { phone: recipientNumber() },
    });
    expect(allowed.status).toBe(201);
  });

  it('needs an Idempotency-Key: a retry without one could refund twice', async () => {
    const m = await createMerchant(stack.pool, 'No key');
    const [payin] = await fundMerchant(stack, m.apiKey, [3_000]);
    const res = await api<Problem>(stack, 'POST', `/v1/payins/${payin}/refunds`, {
      key: m.apiKey,
      body: { amount: 1_000 },
      noIdempotencyKey: true,
    });
    expect(res.status).toBe(400);
    expect(res.body.errors?.[0]?.field).toBe('Idempotency-Key');
  });

  it('that the operator declines releases its hold and leaves the payin succeeded', async () => {
    const m = await createMerchant(stack.pool, 'Declined refund');
    await setRefundRecipients(stack.pool, m.merchant.id, 'any');
    const [payin] = await fundMerchant(stack, m.apiKey, [5_000]);
    const declined = await refund(m.apiKey, payin!, {
      amount: 2_001,
      recipient: { phone: recipientNumber() },
    });
    expect(declined.status).toBe(201);
    const done = await refundReaches(m.apiKey, declined.body.id, ['failed', 'succeeded']);
    expect(done.status).toBe('failed');
    expect(await payinStatus(m.apiKey, payin!)).toBe('succeeded');
    expect(await balanceOf(stack, m.apiKey)).toMatchObject({ available: 5_000, on_hold: 0 });
    await expectBalancedLedger(stack.pool);
  });
});
