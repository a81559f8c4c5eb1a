import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listCallbacks } from '../../db/callbacks.js';
import { createMerchant } from '../../db/merchants.js';
import {
  api,
  eventually,
  payinReaches,
  startStack,
  type PayinBody,
  type TestStack,
} from '../support/stack.js';
import { balanceOf, expectBalancedLedger, fundMerchant } from '../support/money.js';

/**
 * Orange Money WebPay as a direct operator: the payer pays on Orange's page, the notification is
 * authentic only with its payment's notif_token, transactionstatus decides; cash-in payouts and
 * refunds (our reading). Everything through the API and the sandbox over HTTP.
 */
let stack: TestStack;
beforeAll(async () => {
  stack = await startStack({
    env: {
      ORANGE_PAYIN_DEADLINE_SECONDS: '15',
      ORANGE_PAYOUT_DEADLINE_SECONDS: '12',
      ORANGE_HTTP_TIMEOUT_MS: '2500',
    },
    sandboxEnv: { SANDBOX_AMBIGUOUS_DELAY_MS: '3000' },
  });
});
afterAll(async () => {
  await stack?.stop();
});

const ORANGE_CI = '+2250701234567';
const ORANGE_SN = '+221771234567';
const ORANGE_CM = '+237691234567';
type Payment = PayinBody & {
  operator_reference?: string | null;
  failure?: { code: string; message: string } | null;
};
type Problem = { type: string; code?: string };

function createPayin(body: Record<string, unknown>, key = stack.merchant.apiKey) {
  return api<Payment & Problem>(stack, 'POST', '/v1/payins', {
    key,
    body: { currency: 'XOF', description: 'Commande Abidjan', customer: { phone: ORANGE_CI }, ...body },
  });
}

const ended = ['succeeded', 'failed', 'cancelled', 'expired', 'unknown'];

/** The payer pays (or not, per the amount's scenario) on Orange's page, as the sandbox's form would. */
async function payOnOrangePage(paymentId: string, action: 'pay' | 'cancel' = 'pay') {
  const res = await fetch(`${stack.sandboxUrl}/orange/_sandbox/transactions/${paymentId}/${action}`, {
    method: 'POST',
  });
  expect(res.status).toBe(200);
}

async function payoutReaches(key: string, id: string, statuses: string[], timeoutMs = 30_000) {
  return eventually(
    `payout ${id} in ${statuses.join('|')}`,
    async () => {
      const res = await api<Payment>(stack, 'GET', `/v1/payouts/${id}`, { key });
      return statuses.includes(res.body.status) ? res.body : undefined;
    },
    timeoutMs,
  );
}

describe('Orange Money WebPay', () => {
  it("an Orange CI payin goes to Orange's page; its notification (with our notif_token) is confirmed by transactionstatus", async () => {
    const created = await createPayin({ amount: 2_500, return_url: 'https://shop.example/ok' });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      operator: 'orange',
      network: 'orange_ci',
      status: 'action_required',
    });
    const url = new URL(created.body.next_action!.url!);
    expect(url.pathname).toMatch(/^\/orange\/webpay\//);
    const tx = stack.sandbox.orange.byOrderId(created.body.id)!;
    expect(tx).toMatchObject({
      currency: 'XOF',
      amount: 2_500,
      country: 'ci',
      returnUrl: 'https://shop.example/ok',
    });
    // The notification URL names our payment; the notif_token is nowhere in its events.
    expect(new URL(tx.notifUrl).searchParams.get('order_id')).toBe(created.body.id);
    const events = await stack.pool.query<{ operator_data: unknown }>(
      'SELECT operator_data FROM payment_events WHERE payment_id = $1',
      [created.body.id],
    );
    expect(JSON.stringify(events.rows)).not.toContain(tx.notifToken);

    await payOnOrangePage(created.body.id);
    const done = (await payinReaches(stack, created.body.id, ended)) as Payment;
    expect(done.status).toBe('succeeded');
    expect(done.operator_reference).toBe(tx.payToken);
    const inbox = await eventually('orange notification', async () => {
      const rows = await listCallbacks(stack.pool, { paymentId: created.body.id });
      return rows.some((r) => r.verdict === 'confirmed') ? rows : undefined;
    });
    expect(inbox.map((r) => r.verdict)).toContain('confirmed');
  });

  it('refuses a notification whose notif_token is not the one Orange gave for the payment', async () => {
    const created = await createPayin({ amount: 1_800 });
    expect(created.status).toBe(201);
    const forge = (token: string) =>
      fetch(`${stack.apiUrl}/v1/callbacks/orange?order_id=${created.body.id}`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ status: 'SUCCESS', notif_token: token, txnid: 'MP261206.0000.A00000' }),
      }).then((r) => r.json() as Promise<{ verdict: string }>);
    expect((await forge('f'.repeat(32))).verdict).toBe('rejected');
    const rows = await listCallbacks(stack.pool, { paymentId: created.body.id });
    expect(rows[0]?.rejectReason).toBe('notification token differs from the one given for this payment');
    // Nothing moved: the payment waits for its payer.
    const now = await api<Payment>(stack, 'GET', `/v1/payins/${created.body.id}`, {
      key: stack.merchant.apiKey,
    });
    expect(now.body.status).toBe('action_required');
    await payOnOrangePage(created.body.id, 'cancel');
    expect(((await payinReaches(stack, created.body.id, ended)) as Payment).status).toBe('failed');
  });

  it('scenarios: declined, no notification, notifications three times, HTTP 500 on webpayment', async () => {
    const [declined, silent, repeated, server] = await Promise.all(
      [5001, 5003, 5005, 5007].map((amount) => createPayin({ amount })),
    );
    for (const p of [declined, silent, repeated]) expect(p!.status).toBe(201);
    await Promise.all([declined, silent, repeated].map((p) => payOnOrangePage(p!.body.id)));
    const [d, s, r] = (await Promise.all(
      [declined, silent, repeated].map((p) => payinReaches(stack, p!.body.id, ended)),
    )) as Payment[];
    expect(d!.status).toBe('failed');
    expect(d!.failure?.code).toBe('operator_declined');
    // No notification at all: the status call finds the payment.
    expect(s!.status).toBe('succeeded');
    expect(r!.status).toBe('succeeded');
    const verdicts = await eventually('three notifications', async () => {
      const rows = await listCallbacks(stack.pool, { paymentId: repeated!.body.id });
      return rows.length >= 3 ? rows.map((x) => x.verdict) : undefined;
    });
    expect(verdicts.filter((v) => v === 'confirmed')).toHaveLength(1);
    // Orange's 500 on webpayment created nothing: the payin falls back to LigdiCash, or ends without a debit.
    expect([201, 202, 502, 503]).toContain(server!.status);
    const serverDone = (await payinReaches(stack, server!.body.id, [...ended, 'action_required'])) as Payment;
    expect(serverDone.status).not.toBe('succeeded');
  });

  it('renews its token after Orange forgets it (401), and takes XAF in Cameroon', async () => {
    const before = stack.sandbox.orange.tokenCalls;
    await fetch(`${stack.sandboxUrl}/orange/_sandbox/revoke-tokens`, { method: 'POST' });
    const created = await createPayin({ amount: 3_000, currency: 'XAF', customer: { phone: ORANGE_CM } });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ operator: 'orange', network: 'orange_cm', currency: 'XAF' });
    expect(stack.sandbox.orange.tokenCalls).toBe(before + 1);
    expect(stack.sandbox.orange.byOrderId(created.body.id)).toMatchObject({ country: 'cm', currency: 'XAF' });
    await payOnOrangePage(created.body.id);
    expect(((await payinReaches(stack, created.body.id, ended)) as Payment).status).toBe('succeeded');
    // XOF to a Cameroonian number is refused before anything is sent.
    const wrong = await createPayin({ amount: 3_000, customer: { phone: ORANGE_CM } });
    expect(wrong.status).toBe(422);
    expect(wrong.body.code).toBe('currency_not_supported');
  });

  it('a cash-in payout, an ambiguous one found executed, a lost one found never executed, a declined one; then a refund through /refund', async () => {
    const m = await createMerchant(stack.pool, `Orange payouts ${Date.now()}`);
    await fundMerchant(stack, m.apiKey, [60_000]);
    const payout = (amount: number) =>
      api<Payment & Problem>(stack, 'POST', '/v1/payouts', {
        key: m.apiKey,
        body: { amount, currency: 'XOF', recipient: { phone: ORANGE_SN } },
      });
    const [plain, ambiguous, lost, declined] = await Promise.all([7_000, 5102, 5106, 5101].map(payout));
    for (const p of [plain, ambiguous, lost, declined]) {
      expect(p!.status).toBeLessThan(300);
      expect(p!.body.operator).toBe('orange');
    }
    const [a, b, c, d] = await Promise.all(
      [plain, ambiguous, lost, declined].map((p) => payoutReaches(m.apiKey, p!.body.id, ended)),
    );
    expect([a!.status, b!.status, c!.status, d!.status]).toEqual([
      'succeeded',
      'succeeded',
      'failed',
      'failed',
    ]);
    // Orange said it has no such order (transactionstatus by order id: 404) after every lost send:
    // never executed, the funds released.
    expect(c!.failure?.code).toBe('operator_unavailable');
    const sandboxTxs = async (id: string) =>
      (await (await fetch(`${stack.sandboxUrl}/orange/_sandbox/transactions?order_id=${id}`)).json()) as {
        status: string;
      }[];
    // Each executed once: Orange holds one cash-in per order id.
    for (const p of [plain, ambiguous])
      expect((await sandboxTxs(p!.body.id)).map((t) => t.status)).toEqual(['SUCCESS']);
    expect(await sandboxTxs(lost!.body.id)).toEqual([]);

    // A paid Orange payin, refunded: Orange's refund call names its pay_token.
    const paid = await createPayin({ amount: 4_000 }, m.apiKey);
    await payOnOrangePage(paid.body.id);
    expect(
      (
        (await payinReaches(
          { ...stack, merchant: { ...stack.merchant, apiKey: m.apiKey } },
          paid.body.id,
          ended,
        )) as Payment
      ).status,
    ).toBe('succeeded');
    const refund = await api<Payment & Problem>(stack, 'POST', `/v1/payins/${paid.body.id}/refunds`, {
      key: m.apiKey,
      body: { amount: 1_500 },
    });
    expect(refund.status).toBeLessThan(300);
    const refunded = await eventually('refund ends', async () => {
      const r = await api<Payment>(stack, 'GET', `/v1/refunds/${refund.body.id}`, { key: m.apiKey });
      return ended.includes(r.body.status) ? r.body : undefined;
    });
    expect(refunded.status).toBe('succeeded');
    const tx = stack.sandbox.orange.byOrderId(refund.body.id)!;
    expect(tx).toMatchObject({ kind: 'refund', amount: 1_500 });
    expect(tx.refundOf).toBe(paid.body.id);
    expect(await balanceOf(stack, m.apiKey)).toMatchObject({ on_hold: 0 });
    await expectBalancedLedger(stack.pool);
  });

  it('every other scenario: cancel, late notification, slow answer, never paid, session expired; payouts 502 after executing, balance low, pending forever', async () => {
    const m = await createMerchant(stack.pool, `Orange scenarios ${Date.now()}`);
    await fundMerchant(stack, m.apiKey, [40_000]);
    const as = { ...stack, merchant: { ...stack.merchant, apiKey: m.apiKey } };
    const payins = await Promise.all(
      [5002, 5004, 5008, 5009, 5010].map((amount) => createPayin({ amount }, m.apiKey)),
    );
    for (const p of payins) expect(p.status).toBe(201);
    const [cancelled, late, slow, never, expired] = payins.map((p) => p.body.id);
    await Promise.all([cancelled!, late!, slow!, never!, expired!].map((id) => payOnOrangePage(id)));
    const payouts = await Promise.all(
      [5103, 5104, 5105].map((amount) =>
        api<Payment & Problem>(stack, 'POST', '/v1/payouts', {
          key: m.apiKey,
          body: { amount, currency: 'XOF', recipient: { phone: ORANGE_SN } },
        }),
      ),
    );
    const endedPayins = (await Promise.all(
      [cancelled!, late!, slow!, never!, expired!].map((id) => payinReaches(as, id, ended)),
    )) as Payment[];
    expect(endedPayins.map((p) => p.status)).toEqual([
      'failed',
      'succeeded',
      'succeeded',
      'expired',
      'expired',
    ]);
    const endedPayouts = await Promise.all(payouts.map((p) => payoutReaches(m.apiKey, p.body.id, ended)));
    // 502 after executing: found by its order id, succeeded once; balance low: refused, released;
    // pending past our deadline: left unknown with its hold, for reconciliation.
    expect(endedPayouts.map((p) => [p.status, p.failure?.code ?? null])).toEqual([
      ['succeeded', null],
      ['failed', 'operator_balance_low'],
      ['unknown', 'operator_outcome_unknown'],
    ]);
    expect(await balanceOf(stack, m.apiKey)).toMatchObject({ on_hold: 5_105 });
    await expectBalancedLedger(stack.pool);
  });
});
