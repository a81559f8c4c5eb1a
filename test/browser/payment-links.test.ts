import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SHOTS, expectAccessible, launchChromium } from '../support/browser.js';
import { setCheckoutBranding } from '../../db/merchants.js';
import { api, eventually, startStack, type TestStack } from '../support/stack.js';

/**
 * Payment links in a real browser (docs/payment-links.md): a fixed price, a variable amount with a
 * floor, and a collection whose sales limit holds with 20 payers pressing "pay" at once. axe-core
 * on each page; screenshots to .artifacts/checkout/.
 */

let stack: TestStack;
let browser: Browser;
beforeAll(async () => {
  stack = await startStack();
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
  await stack?.stop();
});

type Link = {
  id: string;
  url: string;
  totals: { succeeded: number; raised: number; places_left: number | null };
};

async function createLink(body: Record<string, unknown>): Promise<Link> {
  const res = await api<Link>(stack, 'POST', '/v1/payment-links', {
    key: stack.merchant.apiKey,
    body: { currency: 'XOF', ...body },
  });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body;
}

/** On the hosted page the link led to: Moov Burkina, approved by the sandbox payer. */
async function payOnHostedPage(page: Page, phone: string): Promise<void> {
  await page.getByLabel('Moov Africa Burkina (Onatel)').check();
  await page.getByLabel('Numéro de téléphone').fill(phone);
  await page.getByRole('button', { name: 'Payer' }).click();
}

async function newPhonePage(): Promise<Page> {
  const context = await browser.newContext({
    viewport: { width: 390, height: 780 },
    isMobile: true,
    locale: 'fr-FR',
  });
  return context.newPage();
}

describe('payment links in a browser', () => {
  it("a fixed price, in the merchant's colour and logo: the page, the payer details, the payment, and the message after it", async () => {
    // The merchant's branding (a 1×1 logo is enough for the page's layout and axe's checks).
    await setCheckoutBranding(stack.pool, stack.merchant.id, {
      color: '#7a1f5c',
      logo: {
        type: 'image/png',
        bytes: Buffer.from(
          'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==',
          'base64',
        ),
      },
    });
    const link = await createLink({
      title: 'Pagne wax 6 yards',
      description: 'Livraison à Ouagadougou sous 48 h',
      pricing: 'fixed',
      amount: 12_500,
      collect: ['name', 'phone'],
      after_payment: { type: 'message', message: 'Merci ! Votre pagne part demain.' },
    });
    const page = await newPhonePage();
    await page.goto(link.url);
    expect(await page.locator('.amount').textContent()).toBe('12\u202f500\u00a0FCFA');
    expect(
      await page
        .getByRole('button', { name: 'Continuer vers le paiement' })
        .evaluate(
          (b) =>
            (
              globalThis as unknown as { getComputedStyle: (e: unknown) => { backgroundColor: string } }
            ).getComputedStyle(b).backgroundColor,
        ),
    ).toBe('rgb(122, 31, 92)');
    await expectAccessible(page, 'fixed link');
    await page.screenshot({ path: path.join(SHOTS, '7-link-fixed.png') });
    await page.getByLabel('Nom et prénom').fill('Awa Traoré');
    await page.getByLabel('Téléphone').fill('+226 70 11 22 33');
    await page.getByRole('button', { name: 'Continuer vers le paiement' }).click();
    await page.waitForURL(/\/pay\//);
    expect(await page.locator('h1').textContent()).toBe('12\u202f500\u00a0FCFA');
    await payOnHostedPage(page, '70 11 22 33');
    await page.getByText('Paiement effectué. Merci !').waitFor({ timeout: 30_000 });
    await page.getByRole('link', { name: 'Revenir au marchand' }).click();
    await page.getByText('Merci ! Votre pagne part demain.').waitFor();
    await page.context().close();
  });

  it('a variable amount with a floor: below it the page says so; above it, paid', async () => {
    const link = await createLink({ title: 'Don libre', pricing: 'floor', amount: 1_000 });
    const page = await newPhonePage();
    await page.goto(link.url);
    await page.getByLabel('Montant (FCFA)').fill('500');
    await page.getByRole('button', { name: 'Continuer vers le paiement' }).click();
    await page.getByText('Le montant doit être d’au moins 1\u202f000\u00a0FCFA.').waitFor();
    await expectAccessible(page, 'floor link, refused amount');
    await page.getByLabel('Montant (FCFA)').fill('2 000');
    await page.getByRole('button', { name: 'Continuer vers le paiement' }).click();
    await page.waitForURL(/\/pay\//);
    expect(await page.locator('h1').textContent()).toBe('2\u202f000\u00a0FCFA');
    await payOnHostedPage(page, '70 11 22 44');
    await page.getByText('Paiement effectué. Merci !').waitFor({ timeout: 30_000 });
    await page.context().close();
  });

  it('a collection with a sales limit of 5: 20 payers at once, 5 go through, the page shows what was raised', async () => {
    const link = await createLink({
      title: 'Cotisation forage de Koudougou',
      pricing: 'collection',
      goal_amount: 50_000,
      amount: 500,
      sales_limit: 5,
    });
    const context = await browser.newContext({ viewport: { width: 390, height: 780 }, locale: 'fr-FR' });
    const pages = await Promise.all(Array.from({ length: 20 }, () => context.newPage()));
    await Promise.all(pages.map((p) => p.goto(link.url)));
    await Promise.all(pages.map((p, i) => p.getByLabel('Montant (FCFA)').fill(String(2_000 + i))));
    // Everyone presses at once.
    await Promise.all(
      pages.map((p) => p.getByRole('button', { name: 'Continuer vers le paiement' }).click()),
    );
    await Promise.all(
      pages.map((p) =>
        p.waitForFunction(
          `location.pathname.startsWith('/pay/') || document.body.innerText.includes('nombre maximal de paiements')`,
        ),
      ),
    );
    const through = pages.filter((p) => new URL(p.url()).pathname.startsWith('/pay/'));
    expect(through).toHaveLength(5);
    for (const [i, p] of through.entries()) await payOnHostedPage(p, `70 11 23 ${String(10 + i)}`);
    await Promise.all(
      through.map((p) => p.getByText('Paiement effectué. Merci !').waitFor({ timeout: 45_000 })),
    );

    const totals = await eventually('the link totals', async () => {
      const r = await api<Link>(stack, 'GET', `/v1/payment-links/${link.id}`, { key: stack.merchant.apiKey });
      return r.body.totals.succeeded === 5 ? r.body.totals : undefined;
    });
    expect(totals.places_left).toBe(0);
    const page = pages[0]!;
    await page.goto(link.url);
    const raised = await page.locator('#raised').textContent();
    expect(raised).toContain(`sur 50\u202f000\u00a0FCFA`);
    expect(raised).toContain('5 contributeur(s)');
    expect(raised).toContain(`${String(totals.raised).replace(/\B(?=(\d{3})+(?!\d))/g, '\u202f')}\u00a0FCFA`);
    await expectAccessible(page, 'collection');
    await page.screenshot({ path: path.join(SHOTS, '8-link-collection.png') });
    // Sold: the page says so, and takes no one.
    expect(await page.getByText('nombre maximal de paiements').count()).toBe(1);
    expect(await page.getByRole('button', { name: 'Continuer vers le paiement' }).count()).toBe(0);
    await context.close();
  });
});
