import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEV_TMONEY_NOTIFICATION_TOKEN } from '../../lib/operator-settings/tmoney.js';
import { listCallbacks } from '../../db/callbacks.js';
import { createMerchant } from '../../db/merchants.js';
import { listPaymentEvents } from '../../db/payments.js';
import { setMerchantRoutes } from '../../db/routes.js';
import {
  api,
  eventually,
  recordHistory,
  startStack,
  type PayinBody,
  type TestStack,
} from '../support/stack.js';
import { balanceOf, expectBalancedLedger } from '../support/money.js';

/**
 * Togo: TMoney (online page and MBANKING), PayGateGlobal (Flooz and TMoney), routing by number,
 * and the notification checks. Everything through the API and the sandboxes over HTTP.
 */
let stack: TestStack;
beforeAll(async () => {
  stack = await startStack({
    env: {
      TMONEY_SESSION_SECONDS: '5',
      TMONEY_NOTIFICATION_GRACE_SECONDS: '2',
      TMONEY_PAYIN_DEADLINE_SECONDS: '8',
      PAYGATE_PAYIN_DEADLINE_SECONDS: '8',
    },
    sandboxEnv: { SANDBOX_TMONEY_SESSION_SECONDS: '5' },
  });
});
afterAll(async () => {
  await stack?.stop();
});

type FormPost = { type: 'form_post'; url: string; fields: Record<string, string>; redirect_url: string };
type Problem = { type: string; code?: string };

const TOGOCEL = '+22890112233';
const MOOV = '+22897112233';

function createPayin(body: Record<string, unknown>, key = stack.merchant.apiKey) {
  return api<PayinBody & Problem>(stack, 'POST', '/v1/payins', {
    key,
    body: { currency: 'XOF', description: 'Commande Lomé', ...body },
  });
}

async function payinEnds(id: string, key = stack.merchant.apiKey): Promise<PayinBody> {
  return eventually(
    `payin ${id} final`,
    async () => {
      const res = await api<PayinBody>(stack, 'GET', `/v1/payins/${id}`, { key });
      return ['succeeded', 'failed', 'cancelled', 'expired', 'unknown'].includes(res.body.status)
        ? res.body
        : undefined;
    },
    30_000,
  );
}

function hiddenFields(html: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of html.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)) {
    out[m[1]!] = m[2]!
      .replace(/&amp;/g, '&')
      .replace(/&quot;/g, '"')
      .replace(/&#39;/g, "'")
      .replace(/&lt;/g, '<')
      .replace(/&gt;/g, '>');
  }
  return out;
}

async function postForm(url: string, fields: Record<string, string>): Promise<Response> {
  return fetch(url, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(fields).toString(),
    redirect: 'manual',
  });
}

function actionOf(html: string): string {
  return /<form method="post" action="([^"]+)"/.exec(html)![1]!.replace(/&amp;/g, '&');
}

describe('TMoney online payment (redirect)', () => {
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
      const res = await fetch(
        `${guarded.apiUrl}/v1/callbacks/tmoney/${DEV_TMONEY_NOTIFICATION_TOKEN}?purchaseref=pay_aaaaaaaaaaaaaaaaaaaaaaaa&amount=100&currency=952&status=OK`,
      );
      const { id } = (await res.json()) as { id: number };
      const row = (await listCallbacks(guarded.pool, { operator: 'tmoney' })).find((r) => r.id === id)!;
      expect(row.verdict).toBe('rejected');
      expect(row.rejectReason).toContain('not allowed');
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
    await expectBalancedLedger(stack.pool);
  });
});

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
});

describe('routing', () => {
  it('refuses an impossible operator and network combination with 422', async () => {
    const tmoneyForMoov = await createPayin({ amount: 1_000, operator: 'tmoney', customer: { phone: MOOV } });
    expect(tmoneyForMoov.status).toBe(422);
    expect(tmoneyForMoov.body.code).toBe('network_not_served');
    const wrongCountry = await createPayin({
      amount: 1_000,
      network: 'orange_bf',
      customer: { phone: TOGOCEL },
    });
    expect(wrongCountry.status).toBe(422);
    expect(wrongCountry.body.code).toBe('network_mismatch');
  });

  it("follows the merchant's configured routes", async () => {
    const m = await createMerchant(stack.pool, 'PayGate only');
    await setMerchantRoutes(stack.pool, {
      merchantId: m.merchant.id,
      network: 'togocel_tg',
      kind: 'payin',
      operators: ['paygate'],
    });
    const routed = await createPayin(
      { amount: 1_000, mode: 'direct', customer: { phone: TOGOCEL } },
      m.apiKey,
    );
    expect(routed.body.operator).toBe('paygate');
    const refused = await createPayin(
      { amount: 1_000, operator: 'tmoney', customer: { phone: TOGOCEL } },
      m.apiKey,
    );
    expect(refused.status).toBe(422);
    expect(refused.body.code).toBe('operator_not_allowed');
  });
});

describe('failover', () => {
  it('when TMoney is down, payins go to PayGateGlobal; once marked down TMoney is skipped until its cool-down ends', async () => {
    const failing = await startStack({
      env: { CIRCUIT_FAILURE_THRESHOLD: '1', CIRCUIT_COOLDOWN_SECONDS: '3' },
    });
    try {
      await fetch(`${failing.sandboxUrl}/tmoney/_sandbox/outage`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ down: true }),
      });
      const first = await api<PayinBody>(failing, 'POST', '/v1/payins', {
        key: failing.merchant.apiKey,
        body: { amount: 2_000, currency: 'XOF', customer: { phone: TOGOCEL } },
      });
      expect(first.status).toBe(201);
      expect(first.body.operator).toBe('paygate');
      // The payer's number is known: PayGateGlobal's method 1 pushes the payment to the phone.
      expect(first.body.next_action?.type).toBe('approve_on_phone');
      const events = await listPaymentEvents(failing.pool, first.body.id);
      expect(
        events.some((e) => e.step === 'route:paygate' && e.reason?.includes('SERVICE_UNAVAILABLE')),
      ).toBe(true);
      const paid = await eventually('failed-over payin paid', async () => {
        const r = await api<PayinBody>(failing, 'GET', `/v1/payins/${first.body.id}`, {
          key: failing.merchant.apiKey,
        });
        return r.body.status === 'succeeded' ? r.body : undefined;
      });
      expect(paid.operator).toBe('paygate');
      await recordHistory(failing, first.body.id, 'payin-failover-tmoney-to-paygate');

      // TMoney is now marked down: the next payin does not even ask it for a session.
      const sessionsBefore = failing.sandbox.tmoney.sessions.size;
      const second = await api<PayinBody>(failing, 'POST', '/v1/payins', {
        key: failing.merchant.apiKey,
        body: { amount: 2_100, currency: 'XOF', customer: { phone: TOGOCEL } },
      });
      expect(second.body.operator).toBe('paygate');
      expect(failing.sandbox.tmoney.sessions.size).toBe(sessionsBefore);
      const health = await api<{ data: { operator: string; status: string }[] }>(
        failing,
        'GET',
        '/v1/operators',
        {
          key: failing.merchant.apiKey,
        },
      );
      expect(health.body.data.find((o) => o.operator === 'tmoney')?.status).toBe('down');

      // Back up, and the cool-down over: TMoney takes payins again.
      await fetch(`${failing.sandboxUrl}/tmoney/_sandbox/outage`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ down: false }),
      });
      await new Promise((r) => setTimeout(r, 3_500));
      const third = await api<PayinBody>(failing, 'POST', '/v1/payins', {
        key: failing.merchant.apiKey,
        body: { amount: 2_200, currency: 'XOF', customer: { phone: TOGOCEL } },
      });
      expect(third.body.operator).toBe('tmoney');
    } finally {
      await failing.stop();
    }
  });
});
