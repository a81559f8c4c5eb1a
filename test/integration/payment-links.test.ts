import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  api,
  eventually,
  payinReaches,
  startStack,
  type PayinBody,
  type TestStack,
} from '../support/stack.js';
import { hiddenFields, postForm } from '../support/togo.js';

/**
 * Payment links over HTTP (docs/payment-links.md): the merchant API, the public page, a place
 * per payer under a sales limit, totals from the ledger. test/browser/payment-links.test.ts
 * drives the pages in a browser.
 */
let stack: TestStack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(async () => {
  await stack?.stop();
});

type Link = {
  id: string;
  url: string;
  slug: string;
  pricing: string;
  amount: number | null;
  sales_limit: number | null;
  active: boolean;
  totals: {
    succeeded: number;
    collected: number;
    refunded: number;
    raised: number;
    places_left: number | null;
  };
};

async function createLink(body: Record<string, unknown>) {
  return api<Link & { type?: string; code?: string; errors?: { field: string }[] }>(
    stack,
    'POST',
    '/v1/payment-links',
    { key: stack.merchant.apiKey, body: { currency: 'XOF', title: 'Pagne wax', ...body } },
  );
}

/** A payer on the link's page: the form, then on to the hosted page (its URL). */
async function payerStarts(link: Link, fields: Record<string, string> = {}) {
  const res = await postForm(link.url, fields);
  return {
    status: res.status,
    location: res.headers.get('location'),
    html: res.status === 303 ? '' : await res.text(),
  };
}

/** On the hosted page: an approval network, and the sandbox payer approves. */
async function payerPays(hostedPath: string, phone = '70112233') {
  const url = `${stack.apiUrl}${hostedPath}`;
  const nonce = hiddenFields(await (await fetch(url)).text()).nonce!;
  const res = await postForm(url, { action: 'pay', nonce, network: 'moov_bf', phone });
  expect(res.status).toBe(303);
}

describe('payment links', () => {
  it('refuses what does not make sense, and a slug already taken', async () => {
    expect((await createLink({ pricing: 'fixed' })).body.errors?.[0]?.field).toBe('amount');
    expect((await createLink({ pricing: 'variable', amount: 100 })).status).toBe(400);
    expect((await createLink({ pricing: 'collection' })).body.errors?.[0]?.field).toBe('goal_amount');
    expect((await createLink({ pricing: 'fixed', amount: 100, goal_amount: 1000 })).status).toBe(400);
    expect((await createLink({ pricing: 'fixed', amount: 100, slug: 'Bad Slug' })).status).toBe(400);
    expect(
      (await createLink({ pricing: 'fixed', amount: 100, expires_at: '2020-01-01T00:00:00Z' })).status,
    ).toBe(400);
    const slug = `boutique-${Date.now()}`;
    expect((await createLink({ pricing: 'fixed', amount: 100, slug })).status).toBe(201);
    const taken = await createLink({ pricing: 'fixed', amount: 100, slug });
    expect(taken.status).toBe(409);
    expect(taken.body.code).toBe('slug_taken');
  });

  it('a fixed price: each payer gets a payin of their own, listed under the link, and the totals come from the ledger', async () => {
    const created = await createLink({
      pricing: 'fixed',
      amount: 2_500,
      collect: ['name', 'email'],
      after_payment: { type: 'message', message: 'Merci, à bientôt !' },
    });
    expect(created.status).toBe(201);
    const link = created.body;
    expect(link.url).toBe(`${stack.apiUrl}/l/${link.slug}`);
    const pageHtml = await (await fetch(link.url)).text();
    expect(pageHtml).toContain('2\u202f500\u00a0FCFA');
    expect(pageHtml).toContain('name="email"');
    // The price is the link's: an amount in the form changes nothing.
    const missing = await payerStarts(link, { amount: '1' });
    expect(missing.status).toBe(400);
    expect(missing.html).toContain('obligatoire');
    const started = await payerStarts(link, { amount: '1', name: 'Awa Traoré', email: 'awa@example.org' });
    expect(started.status).toBe(303);
    expect(started.location).toMatch(/^\/pay\/[\w-]{32}$/);
    await payerPays(started.location!);
    const payins = await eventually('the payer to have paid', async () => {
      const r = await api<{
        data: { id: string; status: string; amount: number; customer: Record<string, string> }[];
      }>(stack, 'GET', `/v1/payment-links/${link.id}/payins`, { key: stack.merchant.apiKey });
      return r.body.data[0]?.status === 'succeeded' ? r.body.data : undefined;
    });
    expect(payins).toHaveLength(1);
    expect(payins[0]).toMatchObject({
      amount: 2_500,
      customer: { name: 'Awa Traoré', email: 'awa@example.org' },
    });
    const payin = await payinReaches(stack, payins[0]!.id, ['succeeded']);
    expect(payin.return_url).toBe(`${stack.apiUrl}/l/${link.slug}/merci`);
    expect(await (await fetch(payin.return_url as string)).text()).toContain('Merci, à bientôt !');
    const read = await api<Link>(stack, 'GET', `/v1/payment-links/${link.id}`, {
      key: stack.merchant.apiKey,
    });
    expect(read.body.totals).toMatchObject({ succeeded: 1, collected: 2_500, refunded: 0, raised: 2_500 });
  });

  it('a floor price: less than the floor is refused, more is taken', async () => {
    const link = (await createLink({ pricing: 'floor', amount: 1_000 })).body;
    const low = await payerStarts(link, { amount: '999' });
    expect(low.status).toBe(400);
    expect(low.html).toContain('au moins');
    expect((await payerStarts(link, { amount: 'abc' })).status).toBe(400);
    const ok = await payerStarts(link, { amount: '1 500' });
    expect(ok.status).toBe(303);
    const list = await api<{ data: PayinBody[] }>(stack, 'GET', `/v1/payment-links/${link.id}/payins`, {
      key: stack.merchant.apiKey,
    });
    expect(list.body.data.map((p) => p.amount)).toEqual([1_500]);
  });

  it('a sales limit holds with 20 payers at once; deactivated or expired, the page takes no one', async () => {
    const link = (await createLink({ pricing: 'variable', sales_limit: 5 })).body;
    const answers = await Promise.all(
      Array.from({ length: 20 }, (_, i) => payerStarts(link, { amount: String(1_000 + i) })),
    );
    const through = answers.filter((a) => a.status === 303);
    expect(through).toHaveLength(5);
    expect(answers.filter((a) => a.status === 409)).toHaveLength(15);
    const read = await api<Link>(stack, 'GET', `/v1/payment-links/${link.id}`, {
      key: stack.merchant.apiKey,
    });
    expect(read.body.totals.places_left).toBe(5); // none paid yet: places held, none sold

    const off = await api<Link>(stack, 'PATCH', `/v1/payment-links/${link.id}`, {
      key: stack.merchant.apiKey,
      body: { active: false },
    });
    expect(off.body.active).toBe(false);
    const closed = await fetch(link.url);
    expect(closed.status).toBe(410);
    expect((await payerStarts(link, { amount: '1000' })).status).toBe(410);
    const other = (await createLink({ pricing: 'variable' })).body;
    const listed = await api<{ data: Link[] }>(stack, 'GET', '/v1/payment-links?limit=100', {
      key: stack.merchant.apiKey,
    });
    expect(listed.body.data.map((l) => l.id)).toEqual(expect.arrayContaining([link.id, other.id]));
    expect((await fetch(`${stack.apiUrl}/l/no-such-link`)).status).toBe(404);
  });
  // Last in this file: it uses up this address's minute.
  it('one address posting too fast is told to wait (429), and records nothing more', async () => {
    const link = (await createLink({ pricing: 'fixed', amount: 1_000, collect: ['email'] })).body;
    const statuses: number[] = [];
    for (let i = 0; i < 80 && !statuses.includes(429); i++) statuses.push((await payerStarts(link)).status);
    expect(statuses.filter((st) => st === 400).length).toBeGreaterThan(0); // the e-mail is missing
    const refused = await postForm(link.url, { email: 'late@example.org' });
    expect(refused.status).toBe(429);
    expect(refused.headers.get('retry-after')).toBe('60');
    const payins = await api<{ data: unknown[] }>(stack, 'GET', `/v1/payment-links/${link.id}/payins`, {
      key: stack.merchant.apiKey,
    });
    expect(payins.body.data).toHaveLength(0);
  });
});
