import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEV_TMONEY_NOTIFICATION_TOKEN } from '../../lib/operator-settings/tmoney.js';
import { listCallbacks } from '../../db/callbacks.js';
import { createMerchant } from '../../db/merchants.js';
import { getPayment } from '../../db/payments.js';
import { api, eventually, recordHistory, startStack, type TestStack } from '../support/stack.js';
import { balanceOf, expectBalancedLedger, fundMerchant, insertBarePayin } from '../support/money.js';
import {
  TOGOCEL,
  TOGO_STACK,
  actionOf,
  hiddenFields,
  postForm,
  togoPayins,
  type FormPost,
} from '../support/togo.js';

/**
 * TMoney (Togocel): the online page, MBANKING, and the notification checks.
 * Everything through the API and the sandboxes over HTTP.
 */
let stack: TestStack;
beforeAll(async () => {
  stack = await startStack(TOGO_STACK);
});
afterAll(async () => {
  await stack?.stop();
});
const { createPayin, payinEnds } = togoPayins(() => stack);

describe('TMoney online payment (redirect)', () => {
  it("sends the description as plain text, shows it at the top of TMoney's page, in the payer's language", async () => {
    const created = await createPayin({
      amount: 4_200,
      operator: 'tmoney',
      description: '<b>Commande</b> &amp; livraison',
      customer: { phone: TOGOCEL, language: 'en' },
    });
    expect(created.status).toBe(201);
    const action = created.body.next_action as unknown as FormPost;
    expect(action.fields).toMatchObject({
      description: 'Commande livraison',
      text: 'Commande livraison',
      language: 'en',
    });
    // TMoney's page takes the form (it refuses markup in the description and any other language).
    const checkoutHtml = await (await fetch(action.redirect_url)).text();
    const paymentPage = await postForm(actionOf(checkoutHtml), hiddenFields(checkoutHtml));
    expect(paymentPage.status).toBe(200);
    expect(await paymentPage.text()).toContain('<p id="text">Commande livraison</p>');
    const markup = await postForm(actionOf(checkoutHtml), {
      ...hiddenFields(checkoutHtml),
      description: '<b>Commande</b>',
    });
    expect(markup.status).toBe(400);
  });

  it('asks for another session when the session request answers HTTP 500 (a session moves no money)', async () => {
    await fetch(`${stack.sandboxUrl}/tmoney/_sandbox/session-failures`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ count: 2 }),
    });
    const created = await createPayin({ amount: 4_300, operator: 'tmoney', customer: { phone: TOGOCEL } });
    expect(created.status).toBe(201);
    expect(created.body.status).toBe('action_required');
    expect((created.body.next_action as unknown as FormPost).type).toBe('form_post');
    // Both failures were met on the way.
    const left = (await (await fetch(`${stack.sandboxUrl}/tmoney/_sandbox/session-failures`)).json()) as {
      session_failures: number;
    };
    expect(left.session_failures).toBe(0);
  });

  it('a Togocel number is routed to TMoney; the payer goes through page, PIN and SMS code; the notification settles it', async () => {
    const created = await createPayin({
      amount: 5_000,
      customer: { phone: TOGOCEL },
      return_url: 'https://shop.example/merci',
    });
    expect(created.status).toBe(201);
    expect(created.body.operator).toBe('tmoney');
    expect(created.body.network).toBe('togocel_tg');
    const action = created.body.next_action as unknown as FormPost;
    expect(action.type).toBe('form_post');
    expect(action.fields).toMatchObject({
      amount: '5000',
      currency: '952',
      purchaseref: created.body.id,
      merchantid: '2280000000000001',
    });

    // Our auto-submitting page posts the order form to TMoney, as the payer's browser would.
    const checkout = await fetch(action.redirect_url);
    const checkoutHtml = await checkout.text();
    expect(checkoutHtml).toContain('document.forms[0].submit()');
    const paymentPage = await (await postForm(actionOf(checkoutHtml), hiddenFields(checkoutHtml))).text();
    expect(paymentPage).toContain('Code PIN');
    const smsPage = await (
      await postForm(actionOf(paymentPage), { phone: '90112233', pin: '1234', action: 'pay' })
    ).text();
    expect(smsPage).toContain('Code SMS');
    const sessionId = action.fields.sessionid!;
    const { code } = (await (await fetch(`${stack.sandboxUrl}/tmoney/_sandbox/sms/${sessionId}`)).json()) as {
      code: string;
    };
    const confirmation = await (await postForm(actionOf(smsPage), { code })).text();
    expect(confirmation).toContain('Paiement effectué');
    const back = await postForm(actionOf(confirmation), {});
    expect(back.status).toBe(303);
    expect(back.headers.get('location')).toBe('https://shop.example/merci');

    const done = await payinEnds(created.body.id);
    expect(done.status).toBe('succeeded');
    const inbox = await listCallbacks(stack.pool, { paymentId: created.body.id });
    expect(inbox).toHaveLength(1);
    expect(inbox[0]!.verdict).toBe('confirmed');
    expect(await balanceOf(stack, stack.merchant.apiKey)).toMatchObject({ available: 5_000 });
    await recordHistory(stack, created.body.id, 'payin-tmoney-online-succeeded');
  });

  it.each([
    ['cancels on the page', 'cancel', 3_000, 'cancelled', 'cancelled'],
    ['fails (PAYMENT_FAILED)', 'pay', 3_001, 'failed', 'operator_declined'],
    ['fails authentication', 'pay', 3_003, 'failed', 'payer_authentication_failed'],
    ['lets the session expire (EXPIRED_SESSION)', 'expire', 3_000, 'expired', 'expired'],
  ])('a payer who %s: the notification says so', async (_what, control, amount, status, code) => {
    const created = await createPayin({ amount, customer: { phone: TOGOCEL } });
    const action = created.body.next_action as unknown as FormPost;
    const checkoutHtml = await (await fetch(action.redirect_url)).text();
    await postForm(actionOf(checkoutHtml), hiddenFields(checkoutHtml));
    const res = await fetch(`${stack.sandboxUrl}/tmoney/_sandbox/sessions/${created.body.id}/${control}`, {
      method: 'POST',
    });
    expect(res.ok).toBe(true);
    const done = await payinEnds(created.body.id);
    expect(done.status).toBe(status);
    expect(done.failure?.code).toBe(code);
  });

  it('three wrong PINs block the payment (AUTHENTICATION)', async () => {
    const created = await createPayin({ amount: 2_500, customer: { phone: TOGOCEL } });
    const action = created.body.next_action as unknown as FormPost;
    const checkoutHtml = await (await fetch(action.redirect_url)).text();
    let page = await (await postForm(actionOf(checkoutHtml), hiddenFields(checkoutHtml))).text();
    for (let i = 0; i < 2; i++) {
      page = await (await postForm(actionOf(page), { phone: '90112233', pin: '0000', action: 'pay' })).text();
      expect(page).toContain(`essai ${i + 1}/3`);
    }
    const blocked = await postForm(actionOf(page), { phone: '90112233', pin: '0000', action: 'pay' });
    expect(blocked.status).toBe(200);
    const done = await payinEnds(created.body.id);
    expect(done.status).toBe('failed');
    expect(done.failure?.code).toBe('payer_authentication_failed');
  });

  it('a payer who never starts: the session ends and the payin expires without any notification', async () => {
    const created = await createPayin({ amount: 3_009, customer: { phone: TOGOCEL } });
    const done = await payinEnds(created.body.id);
    expect(done.status).toBe('expired');
    expect(await listCallbacks(stack.pool, { paymentId: created.body.id })).toHaveLength(0);
  });
});

describe('TMoney notification checks', () => {
  function notify(query: Record<string, string>) {
    return fetch(
      `${stack.apiUrl}/v1/callbacks/tmoney/${DEV_TMONEY_NOTIFICATION_TOKEN}?${new URLSearchParams(query).toString()}`,
    );
  }

  it('another amount, an unknown reference or another currency changes nothing', async () => {
    const created = await createPayin({ amount: 3_007, customer: { phone: TOGOCEL } }); // pays one franc less
    const action = created.body.next_action as unknown as FormPost;
    const checkoutHtml = await (await fetch(action.redirect_url)).text();
    await postForm(actionOf(checkoutHtml), hiddenFields(checkoutHtml));
    await fetch(`${stack.sandboxUrl}/tmoney/_sandbox/sessions/${created.body.id}/pay`, { method: 'POST' });
    const rows = await eventually('notification stored', async () => {
      const r = await listCallbacks(stack.pool, { paymentId: created.body.id });
      return r.length ? r : undefined;
    });
    expect(rows[0]!.verdict).toBe('rejected');
    expect(rows[0]!.rejectReason).toContain('amount 3006 differs');

    const base = {
      purchaseref: created.body.id,
      amount: '3007',
      currency: '952',
      status: 'OK',
      error: '',
      payid: '1',
      paymentref: 'x',
      mobile: '22890112233',
      clientid: '',
      cname: '',
      timestamp: '1',
    };
    await notify({ ...base, currency: '978' });
    await notify({ ...base, purchaseref: 'pay_aaaaaaaaaaaaaaaaaaaaaaaa' });
    const all = await listCallbacks(stack.pool, { operator: 'tmoney' });
    const last = all.slice(-2);
    expect(last.map((r) => r.verdict)).toEqual(['rejected', 'rejected']);
    expect(last[0]!.rejectReason).toContain('currency');
    expect(last[1]!.rejectReason).toBe('unknown payment reference');
    const done = await payinEnds(created.body.id);
    expect(done.status).toBe('expired');
  });

  it('a notification from an address not allowed changes nothing', async () => {
    const guarded = await startStack({ env: { TMONEY_CALLBACK_ALLOWED_IPS: '10.1.2.3' }, worker: false });
    try {
      // The allow-list is a live-mode setting: a live payment's notification from elsewhere is refused.
      const paymentId = await insertBarePayin(guarded.pool, guarded.merchant.id, {
        operator: 'tmoney',
        amount: 100,
        livemode: true,
      });
      const res = await fetch(
        `${guarded.apiUrl}/v1/callbacks/tmoney/${DEV_TMONEY_NOTIFICATION_TOKEN}?purchaseref=${paymentId}&amount=100&currency=952&status=OK`,
      );
      const { id } = (await res.json()) as { id: number };
      const row = (await listCallbacks(guarded.pool, { operator: 'tmoney' })).find((r) => r.id === id)!;
      expect(row.verdict).toBe('rejected');
      expect(row.rejectReason).toContain('not allowed for a live payment');
      expect((await getPayment(guarded.pool, paymentId))!.status).toBe('created');
    } finally {
      await guarded.stop();
    }
  });
});

describe('TMoney MBANKING', () => {
  it('a direct payin is a push-USSD debit confirmed by check-transaction, with one cached token', async () => {
    const before = stack.sandbox.tmoney.tokensIssued;
    const created = await createPayin({ amount: 4_000, mode: 'direct', customer: { phone: TOGOCEL } });
    expect(created.status).toBe(201);
    expect(created.body.operator).toBe('tmoney');
    expect(created.body.next_action?.type).toBe('approve_on_phone');
    const done = await payinEnds(created.body.id);
    expect(done.status).toBe('succeeded');
    await recordHistory(stack, created.body.id, 'payin-tmoney-mbanking-succeeded');
    const second = await createPayin({ amount: 4_100, mode: 'direct', customer: { phone: TOGOCEL } });
    expect((await payinEnds(second.body.id)).status).toBe('succeeded');
    expect(stack.sandbox.tmoney.tokensIssued - before).toBeLessThanOrEqual(1);
  });

  it('a refused token is renewed and the call retried once', async () => {
    const before = stack.sandbox.tmoney.tokensIssued;
    await fetch(`${stack.sandboxUrl}/tmoney/_sandbox/revoke-tokens`, { method: 'POST' });
    const created = await createPayin({ amount: 4_200, mode: 'direct', customer: { phone: TOGOCEL } });
    expect(created.body.status).toBe('action_required');
    expect((await payinEnds(created.body.id)).status).toBe('succeeded');
    expect(stack.sandbox.tmoney.tokensIssued).toBe(before + 1);
  });

  it('a debit the payer declines ends cancelled', async () => {
    const created = await createPayin({ amount: 3_002, mode: 'direct', customer: { phone: TOGOCEL } });
    expect((await payinEnds(created.body.id)).status).toBe('cancelled');
  });

  it('a payout is a credit; an unclear answer is settled by asking TMoney for our reference, never re-sent', async () => {
    const m = await createMerchant(stack.pool, 'Togo payouts');
    for (const amount of [6_000, 6_000]) {
      const p = await createPayin({ amount, mode: 'direct', customer: { phone: TOGOCEL } }, m.apiKey);
      expect((await payinEnds(p.body.id, m.apiKey)).status).toBe('succeeded');
    }
    const payout = await api<{ id: string; operator: string; status: string }>(stack, 'POST', '/v1/payouts', {
      key: m.apiKey,
      body: { amount: 2_000, currency: 'XOF', recipient: { phone: '+22891000001' } },
    });
    expect(payout.status).toBe(201);
    expect(payout.body.operator).toBe('tmoney');
    const ambiguous = await api<{ id: string; status: string }>(stack, 'POST', '/v1/payouts', {
      key: m.apiKey,
      body: { amount: 3_102, currency: 'XOF', recipient: { phone: '+22891000002' } }, // credited, answer too late
    });
    for (const id of [payout.body.id, ambiguous.body.id]) {
      const done = await eventually(`payout ${id}`, async () => {
        const r = await api<{ status: string }>(stack, 'GET', `/v1/payouts/${id}`, { key: m.apiKey });
        return ['succeeded', 'failed', 'unknown'].includes(r.body.status) ? r.body : undefined;
      });
      expect(done.status).toBe('succeeded');
      const txs = [...stack.sandbox.tmoney.transactions.values()].filter((t) => t.refCommande === id);
      expect(txs).toHaveLength(1);
      expect(txs[0]!.executed).toBe(true);
    }
    expect(await balanceOf(stack, m.apiKey)).toMatchObject({ available: 12_000 - 2_000 - 3_102, on_hold: 0 });
    // Every field of the credit's answer is kept, the one the document cuts off ("da…") included.
    const { rows } = await stack.pool.query<{ operator_data: Record<string, unknown> }>(
      "SELECT operator_data FROM payment_events WHERE payment_id = $1 AND step = 'initiate'",
      [payout.body.id],
    );
    const kept = rows[0]?.operator_data ?? {};
    expect(kept.code).toBe('0');
    expect(typeof kept.refTmoney).toBe('string');
    expect(typeof kept.date).toBe('string');
    await expectBalancedLedger(stack.pool);
  });

  it('pays out through MBANKING credit v1 when configured: a GET with the agent and password, checked by our reference', async () => {
    const v1 = await startStack({
      ...TOGO_STACK,
      env: { ...TOGO_STACK.env, TMONEY_MBANKING_CREDIT_VERSION: 'v1' },
    });
    try {
      await fundMerchant(v1, v1.merchant.apiKey, [10_000]);
      const created = await api<{ id: string; operator: string }>(v1, 'POST', '/v1/payouts', {
        key: v1.merchant.apiKey,
        body: { amount: 2_500, currency: 'XOF', recipient: { phone: '+22891000011' } },
      });
      expect(created.body.operator).toBe('tmoney');
      const done = await eventually(`payout ${created.body.id}`, async () => {
        const r = await api<{ status: string; operator_reference: string | null }>(
          v1,
          'GET',
          `/v1/payouts/${created.body.id}`,
          { key: v1.merchant.apiKey },
        );
        return ['succeeded', 'failed', 'unknown'].includes(r.body.status) ? r.body : undefined;
      });
      expect(done.status).toBe('succeeded');
      const txs = [...v1.sandbox.tmoney.transactions.values()].filter(
        (t) => t.refCommande === created.body.id,
      );
      expect(txs.map((t) => [t.version, t.executed])).toEqual([['v1', true]]);
      expect(done.operator_reference).toBe(txs[0]!.refTmoney);
      await expectBalancedLedger(v1.pool);
    } finally {
      await v1.stop();
    }
  });
});
