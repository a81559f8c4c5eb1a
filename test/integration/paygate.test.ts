import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listCallbacks } from '../../db/callbacks.js';
import { createMerchant } from '../../db/merchants.js';
import { api, eventually, recordHistory, startStack, type TestStack } from '../support/stack.js';
import { balanceOf, expectBalancedLedger, fundMerchant } from '../support/money.js';
import { MOOV, TOGO_STACK, postForm, togoPayins } from '../support/togo.js';
import { useOwnDatabase } from '../support/own-database.js';

/**
 * PayGateGlobal (Flooz and TMoney): /pay, our own page, /disburse, balances.
 * Everything through the API and the sandboxes over HTTP.
 */
let stack: TestStack;
// Its checks read what every file's stack writes: a database of its own (test/support/own-database.ts).
useOwnDatabase();
beforeAll(async () => {
  stack = await startStack(TOGO_STACK);
});
afterAll(async () => {
  await stack?.stop();
});
const { createPayin, payinEnds } = togoPayins(() => stack);

describe('PayGateGlobal', () => {
  it('a Moov (Flooz) number goes through PayGateGlobal /pay; its callback is confirmed by the v2 status', async () => {
    const v1Before = stack.sandbox.paygate.statusCalls.v1;
    const created = await createPayin({ amount: 7_000, mode: 'direct', customer: { phone: MOOV } });
    expect(created.status).toBe(201);
    expect(created.body.operator).toBe('paygate');
    expect(created.body.network).toBe('moov_tg');
    expect(created.body.next_action?.type).toBe('approve_on_phone');
    const done = await payinEnds(created.body.id);
    expect(done.status).toBe('succeeded');
    const tx = stack.sandbox.paygate.byIdentifier(created.body.id)!;
    expect(tx.network).toBe('FLOOZ');
    expect(done.operator_reference).toBe(tx.txReference);
    // Known tx_reference: the v1 status call, by PayGateGlobal's reference.
    expect(stack.sandbox.paygate.statusCalls.v1).toBeGreaterThan(v1Before);
    const inbox = await eventually('paygate callback', async () => {
      const rows = await listCallbacks(stack.pool, { paymentId: created.body.id });
      return rows.length ? rows : undefined;
    });
    expect(inbox.map((r) => r.verdict)).toContain('confirmed');
    await recordHistory(stack, created.body.id, 'payin-paygate-succeeded');
  });

  it('a redirect payin goes to our own page, which carries no key: the payer gives a number and approves on the phone', async () => {
    const created = await createPayin({
      amount: 1_500,
      operator: 'paygate',
      return_url: 'https://shop.example/ok',
    });
    expect(created.status).toBe(201);
    expect(created.body.operator).toBe('paygate');
    expect(created.body.status).toBe('action_required');
    const url = new URL(created.body.next_action!.url!);
    expect(url.origin).toBe(stack.apiUrl);
    expect(url.pathname).toBe(`/checkout/${created.body.id}`);
    expect(url.search).toBe('');
    const form = await (await fetch(url)).text();
    expect(form).not.toContain(stack.config.operators.paygate.authToken);
    expect(form).toContain('1\u00a0500\u00a0FCFA');
    // Nothing reached PayGateGlobal yet.
    expect(stack.sandbox.paygate.byIdentifier(created.body.id)).toBeUndefined();

    const bad = await postForm(url.toString(), { network: 'togocel_tg', phone: '12' });
    expect(bad.status).toBe(400);
    expect(await bad.text()).toContain('pas valide');
    const sent = await postForm(url.toString(), { network: 'togocel_tg', phone: '90 11 22 33' });
    expect(sent.status).toBe(303); // to the page that follows the payment
    expect(sent.headers.get('location')).toBe(`/checkout/${created.body.id}`);
    const tx = stack.sandbox.paygate.byIdentifier(created.body.id)!;
    expect(tx).toMatchObject({ via: 'api', amount: 1_500, network: 'TMONEY', phone: '90112233' });
    const done = await payinEnds(created.body.id);
    expect(done.status).toBe('succeeded');
    expect(done.operator_reference).toBe(tx.txReference);
    expect(await (await fetch(url)).text()).toContain('Paiement effectué');
    // A second number for the same payin is refused: the first one given was sent.
    const again = await postForm(url.toString(), { network: 'moov_tg', phone: '97112233' });
    expect(again.status).toBe(303);
    expect(await (await fetch(url)).text()).toContain('Paiement effectué');
    expect(stack.sandbox.paygate.byIdentifier(created.body.id)?.phone).toBe('90112233');
    await recordHistory(stack, created.body.id, 'payin-paygate-our-page');
  });

  it('cancelled (6) and expired (4) payment codes end the payin so', async () => {
    const cancelled = await createPayin({ amount: 4_001, mode: 'direct', customer: { phone: MOOV } });
    const expired = await createPayin({ amount: 4_002, mode: 'direct', customer: { phone: MOOV } });
    expect((await payinEnds(cancelled.body.id)).status).toBe('cancelled');
    expect((await payinEnds(expired.body.id)).status).toBe('expired');
  });

  it('pays out to Flooz with /disburse, settles an unclear answer by v2 status, and reports its balances', async () => {
    const m = await createMerchant(stack.pool, 'Flooz payouts');
    const p = await createPayin({ amount: 20_000, mode: 'direct', customer: { phone: MOOV } }, m.apiKey);
    expect((await payinEnds(p.body.id, m.apiKey)).status).toBe('succeeded');
    const floozBefore = stack.sandbox.paygate.balances.FLOOZ;
    const ids: string[] = [];
    for (const [amount, phone] of [
      [5_000, '+22896000001'],
      [4_102, '+22896000002'],
    ] as const) {
      const res = await api<{ id: string; operator: string }>(stack, 'POST', '/v1/payouts', {
        key: m.apiKey,
        body: { amount, currency: 'XOF', recipient: { phone } },
      });
      expect(res.status).toBe(201);
      expect(res.body.operator).toBe('paygate');
      ids.push(res.body.id);
    }
    for (const id of ids) {
      const done = await eventually(`payout ${id}`, async () => {
        const r = await api<{ status: string }>(stack, 'GET', `/v1/payouts/${id}`, { key: m.apiKey });
        return ['succeeded', 'failed', 'unknown'].includes(r.body.status) ? r.body : undefined;
      });
      expect(done.status).toBe('succeeded');
      expect(
        [...stack.sandbox.paygate.transactions.values()].filter((t) => t.identifier === id),
      ).toHaveLength(1);
    }
    expect(stack.sandbox.paygate.balances.FLOOZ).toBe(floozBefore - 5_000 - 4_102);
    const operators = await api<{
      data: { operator: string; status: string; balances: { network: string; amount: number }[] | null }[];
    }>(stack, 'GET', '/v1/operators', { key: 'test-admin-key-0123456789' }); // the platform's float: operations only
    const paygate = operators.body.data.find((o) => o.operator === 'paygate')!;
    expect(paygate.status).toBe('up');
    expect(paygate.balances).toEqual([
      { network: 'moov_tg', amount: stack.sandbox.paygate.balances.FLOOZ, currency: 'XOF' },
      { network: 'togocel_tg', amount: stack.sandbox.paygate.balances.TMONEY, currency: 'XOF' },
    ]);
    await expectBalancedLedger(stack.pool);
  });

  it('a refused key on /disburse (HTTP 401) fails the payout as an operator-side problem that opens the circuit', async () => {
    // A live key: test mode would use the sandbox's own key whatever PAYGATE_AUTH_TOKEN says.
    const refused = await startStack({
      ...TOGO_STACK,
      env: { ...TOGO_STACK.env, PAYGATE_AUTH_TOKEN: 'not-our-paygate-key', CIRCUIT_FAILURE_THRESHOLD: '1' },
      liveKey: true,
    });
    try {
      await fundMerchant(refused, refused.merchant.apiKey, [10_000]);
      const created = await api<{ id: string; operator: string }>(refused, 'POST', '/v1/payouts', {
        key: refused.merchant.apiKey,
        body: { amount: 1_000, currency: 'XOF', recipient: { phone: '+22896000003' } },
      });
      expect(created.body.operator).toBe('paygate');
      const failed = await eventually(`payout ${created.body.id}`, async () => {
        const r = await api<{ status: string; failure: { code: string } | null }>(
          refused,
          'GET',
          `/v1/payouts/${created.body.id}`,
          { key: refused.merchant.apiKey },
        );
        return r.body.status === 'failed' ? r.body : undefined;
      });
      expect(failed.failure?.code).toBe('operator_authentication_failed');
      // Nothing executed, and the hold released.
      expect(await balanceOf(refused, refused.merchant.apiKey)).toMatchObject({ on_hold: 0 });
      const health = await api<{ data: { operator: string; status: string }[] }>(
        refused,
        'GET',
        '/v1/operators',
        {
          key: refused.merchant.apiKey,
        },
      );
      expect(health.body.data.find((o) => o.operator === 'paygate')?.status).toBe('down');
    } finally {
      await refused.stop();
    }
  });
});
