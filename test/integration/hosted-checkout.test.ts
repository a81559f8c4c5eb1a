import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setCheckoutBranding } from '../../db/merchants.js';
import { getPayment } from '../../db/payments.js';
import {
  api,
  eventually,
  payinReaches,
  recordHistory,
  startStack,
  type PayinBody,
  type TestStack,
} from '../support/stack.js';
import { expectBalancedLedger } from '../support/money.js';
import { hiddenFields, postForm } from '../support/togo.js';

/**
 * The hosted checkout over HTTP (docs/checkout.md): a hosted payin, its page reached by a token,
 * attempts (declined then paid, two paid at once), cancel and expiry. test/browser/ drives the
 * same pages in a real browser.
 */
let stack: TestStack;
beforeAll(async () => {
  stack = await startStack({ env: { LIGDICASH_POLL_INITIAL_SECONDS: '1', LIGDICASH_POLL_MAX_SECONDS: '1' } });
});
afterAll(async () => {
  await stack?.stop();
});

type HostedPayin = PayinBody & {
  attempts: { id: string; status: string; network: string; operator: string }[];
};

async function createHosted(body: Record<string, unknown> = {}) {
  const res = await api<HostedPayin>(stack, 'POST', '/v1/payins', {
    key: stack.merchant.apiKey,
    body: {
      amount: 5_000,
      currency: 'XOF',
      mode: 'hosted',
      description: 'Commande 42',
      return_url: 'https://shop.example/merci',
      cancel_url: 'https://shop.example/panier',
      ...body,
    },
  });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body;
}

const page = async (url: string) => {
  const res = await fetch(url);
  return { status: res.status, html: await res.text(), headers: res.headers };
};

/** The payer chooses a network and a number on the page (and the OTP when the network needs one). */
async function choose(url: string, network: string, phone: string, otp?: string) {
  const { html } = await page(url);
  const nonce = hiddenFields(html).nonce;
  expect(nonce, html).toBeDefined();
  return postForm(url, { action: 'pay', nonce: nonce!, network, phone, ...(otp ? { otp } : {}) });
}

const hostedEnds = (id: string, statuses = ['succeeded', 'expired', 'cancelled', 'failed', 'unknown']) =>
  payinReaches(stack, id, statuses, 45_000) as Promise<HostedPayin>;

describe('hosted checkout', () => {
  it('answers at once with our page, reached by a token, that offers the networks for the amount', async () => {
    const created = await createHosted({ country: 'BF' });
    expect(created.status).toBe('action_required');
    expect(created.operator).toBe('checkout');
    expect(created.attempts).toEqual([]);
    const url = new URL(created.next_action!.url!);
    expect(url.origin).toBe(stack.apiUrl);
    expect(url.pathname).toMatch(/^\/pay\/[\w-]{32}$/);
    expect(url.pathname).not.toContain(created.id);
    const { status, html, headers } = await page(url.toString());
    expect(status).toBe(200);
    expect(html).toContain('5\u202f000\u00a0FCFA');
    expect(html).toContain('Orange Burkina');
    expect(html).toContain('Moov Africa Burkina');
    expect(html).not.toContain('Togocel'); // another country
    expect(html).not.toContain(stack.config.operators.ligdicash.apiKey);
    expect(headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(headers.get('referrer-policy')).toBe('no-referrer');
    // The payment id alone opens nothing.
    expect((await page(`${stack.apiUrl}/pay/${created.id}`)).status).toBe(404);
    expect((await page(`${stack.apiUrl}/pay/${'A'.repeat(32)}`)).status).toBe(404);
    // Not listed twice: attempts live under their payin.
    const refused = await api(stack, 'POST', '/v1/payins', {
      key: stack.merchant.apiKey,
      body: { amount: 5_000, currency: 'XOF', mode: 'hosted', operator: 'ligdicash' },
    });
    expect(refused.status).toBe(400);
  });

  it("offers the networks of the payin's currency: MTN Ghana for cedis (paid to the pesewa), Orange and MTN for Cameroon's francs", async () => {
    const cedis = await createHosted({ amount: 1_050, currency: 'GHS' });
    const { html } = await page(cedis.next_action!.url!);
    expect(html).toContain('MTN Ghana');
    for (const absent of ['Telecel Ghana', 'Orange', 'Moov', 'Togocel']) expect(html).not.toContain(absent);
    expect((await choose(cedis.next_action!.url!, 'mtn_gh', '241234567')).status).toBe(303);
    const paid = await hostedEnds(cedis.id);
    expect(paid.status).toBe('succeeded');
    const attempt = paid.attempts[0]!;
    expect(attempt).toMatchObject({ network: 'mtn_gh', status: 'succeeded' });
    expect(stack.sandbox.mtn.byExternalId(attempt.id)).toMatchObject({ currency: 'GHS', amountMinor: 1_050 });

    const francs = await createHosted({ amount: 2_000, currency: 'XAF' });
    const offer = (await page(francs.next_action!.url!)).html;
    expect(offer).toContain('Orange Cameroun');
    expect(offer).toContain('MTN Cameroon');
    expect(offer).not.toContain('Nexttel'); // recognised, not served
  });

  it('a declined attempt lets the payer try another number, and the payin succeeds once', async () => {
    const created = await createHosted();
    const url = created.next_action!.url!;
    const bad = await choose(url, 'moov_bf', '12');
    expect(bad.status).toBe(400);
    expect(await bad.text()).toContain('pas valide');
    // Moov Burkina, a number that declines (sandbox: ends in 000001).
    expect((await choose(url, 'moov_bf', '70000001')).status).toBe(303);
    const declined = await eventually('the first attempt to fail', async () => {
      const p = await api<HostedPayin>(stack, 'GET', `/v1/payins/${created.id}`, {
        key: stack.merchant.apiKey,
      });
      return p.body.attempts[0]?.status === 'failed' ? p.body : undefined;
    });
    expect(declined.status).toBe('action_required');
    expect((await page(url)).html).toContain('n’a pas abouti');
    expect((await choose(url, 'moov_bf', '70 11 22 33')).status).toBe(303);
    const done = await hostedEnds(created.id);
    expect(done.status).toBe('succeeded');
    expect(done.attempts.map((a) => a.status)).toEqual(['failed', 'succeeded']);
    expect(done.operator_reference).toBe(done.attempts[1]!.id);
    await recordHistory(stack, created.id, 'hosted-payin-declined-then-paid');
    expect((await page(url)).html).toContain('Paiement effectué');
    // The merchant's list shows the payin, not its attempts; an attempt reads as one.
    const list = await api<{ data: { id: string }[] }>(stack, 'GET', '/v1/payins?limit=100', {
      key: stack.merchant.apiKey,
    });
    const ids = list.body.data.map((p) => p.id);
    expect(ids).toContain(created.id);
    expect(ids).not.toContain(done.attempts[1]!.id);
    const attempt = await api<PayinBody>(stack, 'GET', `/v1/payins/${done.attempts[1]!.id}`, {
      key: stack.merchant.apiKey,
    });
    expect(attempt.body.attempt_of).toBe(created.id);
    // The page offers no new attempt after the success, and a form posted anyway starts none.
    expect((await page(url)).html).not.toContain('name="nonce"');
    const late = await postForm(url, {
      action: 'pay',
      nonce: 'n'.repeat(16),
      network: 'moov_bf',
      phone: '70112234',
    });
    expect(late.status).toBe(303);
    const after = await api<HostedPayin>(stack, 'GET', `/v1/payins/${created.id}`, {
      key: stack.merchant.apiKey,
    });
    expect(after.body.attempts).toHaveLength(2);
    expect(after.body.status).toBe('succeeded');

    // The merchant refunds the payin it knows: the attempt that moved the money is refunded,
    // to the number that paid, and the payin follows.
    const refund = await api<{ id: string; payin: string; recipient: { phone: string } }>(
      stack,
      'POST',
      `/v1/payins/${created.id}/refunds`,
      { key: stack.merchant.apiKey, body: { amount: 1_000 } },
    );
    expect(refund.status, JSON.stringify(refund.body)).toBe(201);
    expect(refund.body.payin).toBe(done.attempts[1]!.id);
    expect(refund.body.recipient.phone).toBe('+226******33'); // masked: the number is in the vault
    await payinReaches(stack, created.id, ['partially_refunded'], 45_000);
    await expectBalancedLedger(stack.pool);
  });

  it('a Flooz payer (Togo) is sent through PayGateGlobal /api/v1/pay, server to server: no key in any URL', async () => {
    const created = await createHosted({ country: 'TG', amount: 1_800 });
    const url = created.next_action!.url!;
    const { html } = await page(url);
    expect(html).toContain('Moov Africa Togo (Flooz)');
    expect(html).not.toContain(stack.config.operators.paygate.authToken);
    expect((await choose(url, 'moov_tg', '97 11 22 33')).status).toBe(303);
    const done = await hostedEnds(created.id);
    expect(done.status).toBe('succeeded');
    const attempt = done.attempts[0]!;
    expect(attempt.operator).toBe('paygate');
    expect(stack.sandbox.paygate.byIdentifier(attempt.id)).toMatchObject({
      via: 'api',
      network: 'FLOOZ',
      amount: 1_800,
    });
    // Nothing the payer's browser saw carries the key.
    const read = await api<PayinBody>(stack, 'GET', `/v1/payins/${attempt.id}`, {
      key: stack.merchant.apiKey,
    });
    expect(JSON.stringify(read.body)).not.toContain(stack.config.operators.paygate.authToken);
  });

  it('asks an OTP network for the code to dial, with the amount filled in', async () => {
    const created = await createHosted({ amount: 2_500 });
    const url = created.next_action!.url!;
    const first = await choose(url, 'orange_bf', '74 12 34 56');
    expect(first.status).toBe(200);
    const html = await first.text();
    expect(html).toContain('*144*4*6*2500#');
    const otpRes = await fetch(`${stack.sandboxUrl}/ligdicash/_sandbox/otp`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ customer: '22674123456', amount: 2_500 }),
    });
    const { otp } = (await otpRes.json()) as { otp: string };
    const fields = hiddenFields(html);
    const sent = await postForm(url, { ...fields, action: 'pay', otp });
    expect(sent.status).toBe(303);
    const done = await hostedEnds(created.id);
    expect(done.status).toBe('succeeded');
    expect(done.attempts).toHaveLength(1);
    expect(done.attempts[0]!.network).toBe('orange_bf');
  });

  it('two attempts that both succeed: the payin succeeds once and the later one is refunded', async () => {
    const created = await createHosted({ amount: 3_000 });
    const url = created.next_action!.url!;
    // The first number pays but its operator never calls back (sandbox: ends in 000003): it is
    // found by polling, after the second attempt has succeeded.
    expect((await choose(url, 'moov_bf', '70000003')).status).toBe(303);
    await eventually('the first attempt to wait for approval', async () => {
      const p = await api<HostedPayin>(stack, 'GET', `/v1/payins/${created.id}`, {
        key: stack.merchant.apiKey,
      });
      return p.body.attempts[0]?.status === 'action_required' ? true : undefined;
    });
    const another = await page(`${url}?another=1`);
    const nonce = hiddenFields(another.html).nonce!;
    expect(
      (await postForm(url, { action: 'pay', nonce, network: 'moov_bf', phone: '70 11 22 44' })).status,
    ).toBe(303);
    const done = await hostedEnds(created.id);
    expect(done.status).toBe('succeeded');
    const both = await eventually('both attempts to succeed', async () => {
      const p = await api<HostedPayin>(stack, 'GET', `/v1/payins/${created.id}`, {
        key: stack.merchant.apiKey,
      });
      return p.body.attempts.every((a) => a.status === 'succeeded' || a.status === 'refunded')
        ? p.body
        : undefined;
    });
    const later = both.attempts.find((a) => a.id !== done.operator_reference)!;
    const refunded = await eventually(
      'the later attempt to be refunded',
      async () => {
        const p = await getPayment(stack.pool, later.id);
        return p?.status === 'refunded' ? p : undefined;
      },
      45_000,
    );
    expect(refunded.amount).toBe(3_000);
    await recordHistory(stack, created.id, 'hosted-payin-paid-twice-one-refunded');
    expect((await getPayment(stack.pool, created.id))!.status).toBe('succeeded');
    await expectBalancedLedger(stack.pool);
  });

  it('one form posted twice at once is one attempt; what the merchant wrote is shown as text', async () => {
    const created = await createHosted({ description: '<script>alert(1)</script> & co' });
    const url = created.next_action!.url!;
    const { html } = await page(url);
    expect(html).not.toContain('<script>alert(1)');
    expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt; &amp; co');
    const fields = { action: 'pay', nonce: hiddenFields(html).nonce!, network: 'moov_bf', phone: '70112255' };
    const answers = await Promise.all([postForm(url, fields), postForm(url, fields)]);
    expect(answers.map((a) => a.status)).toEqual([303, 303]);
    const done = await hostedEnds(created.id);
    expect(done.status).toBe('succeeded');
    expect(done.attempts).toHaveLength(1);
    expect(stack.sandbox.ligdicash.invoices.findByTransactionId(done.attempts[0]!.id)).toHaveLength(1);
  });

  it("shows the merchant's colour and logo, served from our origin", async () => {
    const png = Buffer.from(
      'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==',
      'base64',
    );
    await setCheckoutBranding(stack.pool, stack.merchant.id, {
      color: '#0b3d91',
      logo: { type: 'image/png', bytes: png },
    });
    try {
      const created = await createHosted();
      const { html } = await page(created.next_action!.url!);
      expect(html).toContain(`href="/pay/assets/brand/${stack.merchant.id}.css"`);
      expect(html).toContain(`src="/pay/assets/brand/${stack.merchant.id}/logo"`);
      const css = await (await fetch(`${stack.apiUrl}/pay/assets/brand/${stack.merchant.id}.css`)).text();
      expect(css).toContain('background:#0b3d91;color:#ffffff');
      const logo = await fetch(`${stack.apiUrl}/pay/assets/brand/${stack.merchant.id}/logo`);
      expect(logo.headers.get('content-type')).toBe('image/png');
      expect(logo.headers.get('x-content-type-options')).toBe('nosniff');
      expect(Buffer.from(await logo.arrayBuffer()).equals(png)).toBe(true);
    } finally {
      await setCheckoutBranding(stack.pool, stack.merchant.id, { color: null, logo: null });
    }
  });

  it('the payer cancels; the page says so and leads back to the merchant', async () => {
    const created = await createHosted();
    const url = created.next_action!.url!;
    expect((await postForm(url, { action: 'cancel' })).status).toBe(303);
    const done = await hostedEnds(created.id);
    expect(done.status).toBe('cancelled');
    await recordHistory(stack, created.id, 'hosted-payin-cancelled');
    const { html } = await page(url);
    expect(html).toContain('Paiement annulé');
    expect(html).toContain('https://shop.example/panier');
  });

  it('expires at its deadline when the payer does nothing; the page says so', async () => {
    const created = await createHosted({ expires_in: 10 });
    const done = await hostedEnds(created.id);
    expect(done.status).toBe('expired');
    await recordHistory(stack, created.id, 'hosted-payin-expired');
    expect((await page(created.next_action!.url!)).html).toContain('délai de paiement est dépassé');
    expect(new Date(done.completed_at as string).getTime()).toBeGreaterThanOrEqual(
      new Date(created.created_at as string).getTime() + 10_000,
    );
  });
});
