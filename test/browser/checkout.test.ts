import path from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getCardAuthorisation } from '../../db/card-authorisations.js';
import { createLogger } from '../../lib/logger.js';
import { startGimSwitch, type GimSwitch } from '../../sandbox/gim/switch.js';
import { SHOTS, expectAccessible, launchChromium } from '../support/browser.js';
import {
  api,
  eventually,
  ligdicashControl,
  payinReaches,
  startStack,
  type PayinBody,
  type TestStack,
} from '../support/stack.js';

/**
 * The hosted checkout in a real browser (Debian's chromium, driven by playwright-core), on a
 * phone-sized screen: every flow a payer meets, each page checked by axe-core (no serious or
 * critical violation) and under its own Content-Security-Policy (no violation reported).
 * Screenshots of each step go to .artifacts/checkout/ (docs/img/ keeps the best ones).
 */
const SHOP = 'https://shop.example';

let stack: TestStack;
let browser: Browser;
let gim: { port: number; state: GimSwitch; close(): Promise<void> };
const GIM_MAC_KEY = '0123456789ABCDEFFEDCBA9876543210';
beforeAll(async () => {
  // GIM-UEMOA's switch simulator, over TCP: the page offers cards when the worker reaches it.
  gim = await startGimSwitch({
    host: '127.0.0.1',
    port: 0,
    macKeyHex: GIM_MAC_KEY,
    lateMs: 5_000,
    logger: createLogger({ level: 'silent' }),
  });
  stack = await startStack({
    env: {
      LIGDICASH_POLL_INITIAL_SECONDS: '1',
      LIGDICASH_POLL_MAX_SECONDS: '2',
      GIM_HOST: '127.0.0.1',
      GIM_PORT: String(gim.port),
      GIM_MAC_KEY,
      GIM_TIMEOUT_MS: '5000',
    },
  });
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
  await stack?.stop();
  await gim?.close();
});

type Hosted = PayinBody & { attempts: { id: string; status: string; network: string }[] };

async function createHosted(body: Record<string, unknown> = {}): Promise<Hosted> {
  const res = await api<Hosted>(stack, 'POST', '/v1/payins', {
    key: stack.merchant.apiKey,
    body: {
      amount: 5_000,
      currency: 'XOF',
      mode: 'hosted',
      description: 'Commande 42 — 2 pagnes',
      return_url: `${SHOP}/merci`,
      cancel_url: `${SHOP}/panier`,
      ...body,
    },
  });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body;
}

/** A phone: small screen, touch, French unless told; the merchant's site answered locally. */
async function phone(
  locale = 'fr-FR',
): Promise<{ context: BrowserContext; page: Page; cspViolations: string[] }> {
  const context = await browser.newContext({
    viewport: { width: 390, height: 780 },
    isMobile: true,
    hasTouch: true,
    locale,
  });
  await context.route(`${SHOP}/**`, (route) =>
    route.fulfill({
      contentType: 'text/html',
      body: '<!doctype html><title>Boutique</title><p>Retour chez le marchand</p>',
    }),
  );
  const page = await context.newPage();
  const cspViolations: string[] = [];
  page.on('console', (m) => {
    if (/Content Security Policy|Refused to/.test(m.text())) cspViolations.push(m.text());
  });
  return { context, page, cspViolations };
}

const shot = (page: Page, name: string) => page.screenshot({ path: path.join(SHOTS, `${name}.png`) });

async function sandboxOtp(customer: string, amount: number): Promise<string> {
  const res = await fetch(`${stack.sandboxUrl}/ligdicash/_sandbox/otp`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ customer, amount }),
  });
  return ((await res.json()) as { otp: string }).otp;
}

describe('the hosted checkout in a browser', () => {
  it('card on GIM-UEMOA: typed on our page, authorised and captured at the switch; the merchant sees only its last digits', async () => {
    const created = await createHosted({ amount: 6_500 });
    const { context, page, cspViolations } = await phone();
    await page.goto(created.next_action!.url!);
    await page.getByLabel('Numéro de carte').fill('6280 0012 3456 7895');
    await page.getByLabel('Date d’expiration (MM/AA)').fill('12/30');
    await page.getByLabel('Cryptogramme (3 ou 4 chiffres au dos)').fill('123');
    await expectAccessible(page, 'card form');
    await shot(page, 'card-1-form');
    await page.getByRole('button', { name: 'Valider la carte' }).click();
    await page.getByText('Paiement effectué. Merci !').waitFor({ timeout: 30_000 });
    await shot(page, 'card-2-succeeded');
    const done = (await payinReaches(stack, created.id, ['succeeded'])) as Hosted;
    const attempt = done.attempts.find((a) => a.status === 'succeeded')!;
    expect(attempt).toMatchObject({ operator: 'gim' });
    // Captured once at the switch, never reversed.
    const auth = (await getCardAuthorisation(stack.pool, attempt.id))!;
    expect(auth).toMatchObject({ outcome: 'approved', responseCode: '00' });
    expect(gim.state.byRrn(auth.rrn)).toMatchObject({ captured: 1, reversed: false, amount: 6_500 });
    // The merchant's view of its payin: the card's first six and last four, never its number.
    const view = await api<Record<string, unknown>>(stack, 'GET', `/v1/payins/${attempt.id}`, {
      key: stack.merchant.apiKey,
    });
    expect(JSON.stringify(view.body)).not.toContain('6280001234567895');
    // The merchant refunds the hosted payin: back to the card, through the switch.
    const refund = await refundCardPayin(created.id, 1_000);
    expect(refund).toMatchObject({ status: 'succeeded', operator: 'gim' });
    expect(cspViolations).toEqual([]);
    await context.close();
  });

  /** A refund of a hosted payin paid by card, through the API, once it has ended. */
  async function refundCardPayin(hostedId: string, amount: number) {
    const created = await api<{ id: string }>(stack, 'POST', `/v1/payins/${hostedId}/refunds`, {
      key: stack.merchant.apiKey,
      body: { amount },
    });
    expect(created.status, JSON.stringify(created.body)).toBe(202);
    return eventually(`refund ${created.body.id}`, async () => {
      const r = await api<{ status: string; operator: string; failure: { code: string } | null }>(
        stack,
        'GET',
        `/v1/refunds/${created.body.id}`,
        { key: stack.merchant.apiKey },
      );
      return ['succeeded', 'failed'].includes(r.body.status) ? r.body : undefined;
    });
  }

  /** Types a card on the page and sends it. */
  async function typeCard(page: Page, number: string) {
    await page.getByLabel('Numéro de carte').fill(number);
    await page.getByLabel('Date d’expiration (MM/AA)').fill('12/30');
    await page.getByLabel('Cryptogramme (3 ou 4 chiffres au dos)').fill('737');
    await page.getByRole('button', { name: 'Valider la carte' }).click();
  }

  /** The processor's payment for a hosted payin's card attempt. */
  async function atProcessor(hostedId: string) {
    const done = (await payinReaches(stack, hostedId, ['succeeded', 'failed', 'expired'])) as Hosted;
    const attempt = done.attempts.at(-1)!;
    const payment = [...stack.sandbox.processor.payments.values()].find((p) => p.reference === attempt.id);
    return { done, attempt, payment };
  }

  it('Visa, 3-D Secure frictionless: authenticated, authorised and captured at the processor, without leaving our page', async () => {
    const created = await createHosted({ amount: 9_300 });
    const { context, page, cspViolations } = await phone();
    await page.goto(created.next_action!.url!);
    await typeCard(page, '4000 0000 0000 0101');
    await page.getByText('Paiement effectué. Merci !').waitFor({ timeout: 30_000 });
    const { done, attempt, payment } = await atProcessor(created.id);
    expect(done.status).toBe('succeeded');
    expect(attempt).toMatchObject({ operator: 'processor', status: 'succeeded' });
    expect(payment).toMatchObject({ status: 'captured', amount: 9_300, currency: 'XOF' });
    // A refund at the processor, back to the card.
    expect(await refundCardPayin(created.id, 3_000)).toMatchObject({
      status: 'succeeded',
      operator: 'processor',
    });
    expect(stack.sandbox.processor.payments.get(payment!.id)!.refunds).toMatchObject([
      { amount: 3_000, status: 'succeeded' },
    ]);
    expect(cspViolations).toEqual([]);
    await context.close();
  });

  it('a card refund the processor declines: failed, the merchant’s balance as before', async () => {
    // The processor's test amount 8005: the payment goes through, its refunds are declined.
    const created = await createHosted({ amount: 8_005 });
    const { context, page } = await phone();
    await page.goto(created.next_action!.url!);
    await typeCard(page, '5200 0000 0000 0106');
    await page.getByText('Paiement effectué. Merci !').waitFor({ timeout: 30_000 });
    await payinReaches(stack, created.id, ['succeeded']);
    const before = await api(stack, 'GET', '/v1/balance', { key: stack.merchant.apiKey });
    expect(await refundCardPayin(created.id, 5_000)).toMatchObject({
      status: 'failed',
      failure: { code: 'refund_declined' },
    });
    const after = await api(stack, 'GET', '/v1/balance', { key: stack.merchant.apiKey });
    expect(after.body).toEqual(before.body);
    await context.close();
  });

  it('Mastercard, 3-D Secure challenge: the issuer’s page, a wrong code then the right one, back to our page, captured', async () => {
    const created = await createHosted({ amount: 8_450 });
    const { context, page, cspViolations } = await phone();
    await page.goto(created.next_action!.url!);
    await typeCard(page, '5200 0000 0000 0304');
    const toIssuer = page.getByRole('button', { name: /Visa \/ Mastercard/ });
    await toIssuer.waitFor({ timeout: 30_000 });
    await expectAccessible(page, 'card challenge');
    await shot(page, 'card-3-challenge');
    await toIssuer.click();
    // The issuer's page (the processor's ACS, another origin): a one-time code.
    await page.getByLabel('Code').fill('000000');
    await page.getByRole('button', { name: 'Valider' }).click();
    await page.getByLabel('Code').fill('123456');
    await page.getByRole('button', { name: 'Valider' }).click();
    await page.getByText('Paiement effectué. Merci !').waitFor({ timeout: 60_000 });
    expect(page.url()).toBe(created.next_action!.url!);
    const { done, payment } = await atProcessor(created.id);
    expect(done.status).toBe('succeeded');
    expect(payment).toMatchObject({ status: 'captured', amount: 8_450 });
    expect(cspViolations).toEqual([]);
    await context.close();
  });

  it('3-D Secure not authenticated (N): the attempt fails, nothing is authorised; the payer may try again', async () => {
    const created = await createHosted({ amount: 2_900 });
    const { context, page } = await phone();
    await page.goto(created.next_action!.url!);
    await typeCard(page, '4000 0000 0000 0408');
    await page.getByText('Valider la carte').waitFor({ timeout: 30_000 });
    await expect
      .poll(
        async () =>
          (await api<Hosted>(stack, 'GET', `/v1/payins/${created.id}`, { key: stack.merchant.apiKey })).body
            .attempts[0]?.status,
        { timeout: 30_000 },
      )
      .toBe('failed');
    const hosted = (
      await api<Hosted>(stack, 'GET', `/v1/payins/${created.id}`, { key: stack.merchant.apiKey })
    ).body;
    expect(hosted.status).toBe('action_required');
    expect(
      [...stack.sandbox.processor.payments.values()].some((p) => p.reference === hosted.attempts[0]!.id),
    ).toBe(false);
    await context.close();
  });

  it('card refused on the page before anything is sent: a wrong number, a past expiry', async () => {
    const created = await createHosted({ amount: 1_200 });
    const { context, page } = await phone();
    await page.goto(created.next_action!.url!);
    await page.getByLabel('Numéro de carte').fill('6280 0012 3456 7890');
    await page.getByLabel('Date d’expiration (MM/AA)').fill('12/30');
    await page.getByLabel('Cryptogramme (3 ou 4 chiffres au dos)').fill('123');
    await page.getByRole('button', { name: 'Valider la carte' }).click();
    await page.getByText('Ce numéro de carte n’est pas valide.').waitFor();
    await page.getByLabel('Numéro de carte').fill('6280 0012 3456 7895');
    await page.getByLabel('Date d’expiration (MM/AA)').fill('01/21');
    await page.getByLabel('Cryptogramme (3 ou 4 chiffres au dos)').fill('123');
    await page.getByRole('button', { name: 'Valider la carte' }).click();
    await page.getByText('La date d’expiration est invalide ou passée.').waitFor();
    const { rows } = await stack.pool.query('SELECT 1 FROM payments WHERE attempt_of = $1', [created.id]);
    expect(rows).toEqual([]);
    await context.close();
  });

  it('OTP network: the number finds its network as it is typed, the USSD string carries the amount, then back to the merchant', async () => {
    const created = await createHosted({ country: 'BF' });
    const { context, page, cspViolations } = await phone();
    await page.goto(created.next_action!.url!);
    await expect.poll(() => page.locator('h1').textContent()).toContain('5\u202f000\u00a0FCFA');
    await expectAccessible(page, 'choice');
    await shot(page, '1-choice');
    await page.getByLabel('Numéro de téléphone').pressSequentially('74 12 34 56');
    await expect.poll(() => page.locator('#phone-hint').textContent()).toBe('Numéro Orange Burkina.');
    expect(await page.getByLabel('Orange Burkina').isChecked()).toBe(true);
    await page.getByRole('button', { name: 'Payer' }).click();
    await expect.poll(() => page.locator('#dial').textContent()).toBe('*144*4*6*5000#');
    await expectAccessible(page, 'otp');
    await shot(page, '2-otp');
    await page.getByLabel('Code reçu par SMS').fill(await sandboxOtp('22674123456', 5_000));
    await page.getByRole('button', { name: 'Confirmer le paiement' }).click();
    await page.getByText('Paiement effectué. Merci !').waitFor({ timeout: 30_000 });
    await expectAccessible(page, 'outcome');
    await shot(page, '4-succeeded');
    await page.getByRole('link', { name: 'Revenir au marchand' }).click();
    await page.waitForURL(`${SHOP}/merci`);
    expect((await payinReaches(stack, created.id, ['succeeded'])).status).toBe('succeeded');
    expect(cspViolations).toEqual([]);
    await context.close();
  });

  it('approval network: "approve on your phone", followed live until the outcome, without a reload by the payer', async () => {
    const created = await createHosted({ amount: 2_000 });
    const { context, page, cspViolations } = await phone();
    await page.goto(created.next_action!.url!);
    await page.getByLabel('Moov Africa Burkina (Onatel)').check();
    // Sandbox: a payer who does nothing until the test says (number ending 000009).
    await page.getByLabel('Numéro de téléphone').fill('70 00 00 09');
    await page.getByRole('button', { name: 'Payer' }).click();
    await page.getByText('Approuvez le paiement sur votre téléphone').waitFor({ timeout: 30_000 });
    expect(await page.locator('#status').textContent()).toContain('+226 •••••• 09');
    await expectAccessible(page, 'approval');
    await shot(page, '3-approve');
    const attempt = ((await payinReaches(stack, created.id, ['action_required'])) as Hosted).attempts[0]!;
    const invoices = (await (
      await fetch(`${stack.sandboxUrl}/ligdicash/_sandbox/invoices?transaction_id=${attempt.id}`)
    ).json()) as { token: string }[];
    await ligdicashControl(stack, invoices[0]!.token, 'complete');
    // The page's script follows the status: the payer reloads nothing.
    await page.getByText('Paiement effectué. Merci !').waitFor({ timeout: 30_000 });
    expect(cspViolations).toEqual([]);
    await context.close();
  });

  it("operator's own page (Orange Côte d'Ivoire, Orange Money WebPay): on to it, pay, and back to ours", async () => {
    const created = await createHosted({ amount: 3_000 });
    const { context, page } = await phone();
    await page.goto(created.next_action!.url!);
    await page.getByLabel("Orange Côte d'Ivoire").check();
    await page.getByLabel('Numéro de téléphone').fill('07 01 23 45 67');
    await page.getByRole('button', { name: 'Payer' }).click();
    const onward = page.getByRole('link', { name: /Continuer vers la page de paiement de Orange Money/ });
    await onward.waitFor({ timeout: 30_000 });
    await expectAccessible(page, 'operator page link');
    await shot(page, '3-operator-page');
    await onward.click();
    await page.waitForURL(/\/orange\/webpay\//);
    await page.getByLabel('Numéro Orange Money').fill('2250701234567');
    await page.getByLabel('Code de paiement temporaire').fill('1234');
    await page.getByRole('button', { name: 'Payer' }).click();
    await page.waitForURL(created.next_action!.url!);
    await page.getByText('Paiement effectué. Merci !').waitFor({ timeout: 30_000 });
    await context.close();
  });

  it('a declined attempt, then a success on another network, inside the same payin', async () => {
    const created = await createHosted({ amount: 4_000 });
    const { context, page } = await phone();
    await page.goto(created.next_action!.url!);
    await page.getByLabel('Moov Africa Burkina (Onatel)').check();
    await page.getByLabel('Numéro de téléphone').fill('70 00 00 01'); // sandbox: declines
    await page.getByRole('button', { name: 'Payer' }).click();
    await page.getByText('Le paiement n’a pas abouti').waitFor({ timeout: 30_000 });
    await expectAccessible(page, 'declined');
    await shot(page, '5-declined');
    await page.getByLabel("Moov Africa Côte d'Ivoire").check();
    await page.getByLabel('Numéro de téléphone').fill('01 01 23 45 67');
    await page.getByRole('button', { name: 'Payer' }).click();
    await page.getByText('Paiement effectué. Merci !').waitFor({ timeout: 30_000 });
    const done = (await payinReaches(stack, created.id, ['succeeded'])) as Hosted;
    expect(done.attempts.map((a) => [a.network, a.status])).toEqual([
      ['moov_bf', 'failed'],
      ['moov_ci', 'succeeded'],
    ]);
    await context.close();
  });

  it('a page left open past the deadline says so by itself', async () => {
    const created = await createHosted({ expires_in: 10 });
    const { context, page } = await phone();
    await page.goto(created.next_action!.url!);
    await page.getByText('Le délai de paiement est dépassé').waitFor({ timeout: 40_000 });
    await expectAccessible(page, 'expired');
    await shot(page, '6-expired');
    await page.getByRole('link', { name: 'Revenir au marchand' }).click();
    await page.waitForURL(`${SHOP}/panier`);
    await context.close();
  });

  it('the payer cancels, in English when the browser prefers it', async () => {
    const created = await createHosted();
    const { context, page } = await phone('en-GB');
    await page.goto(created.next_action!.url!);
    expect(await page.locator('html').getAttribute('lang')).toBe('en');
    await page.getByRole('button', { name: 'Cancel and go back to the merchant' }).click();
    await page.getByText('Payment cancelled.').waitFor();
    await expectAccessible(page, 'cancelled');
    expect((await payinReaches(stack, created.id, ['cancelled'])).status).toBe('cancelled');
    await page.getByRole('link', { name: 'Back to the merchant' }).click();
    await page.waitForURL(`${SHOP}/panier`);
    await context.close();
  });
});
