import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMerchant } from '../../db/merchants.js';
import { api, startStack, type PayinBody, type TestStack } from '../support/stack.js';

/** The merchant API's contract: auth, validation, idempotency, isolation, listing, health. */
let stack: TestStack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(async () => {
  await stack?.stop();
});

type Problem = {
  type: string;
  title: string;
  status: number;
  detail?: string;
  errors?: { field: string; message: string }[];
};

const payin = { amount: 5000, currency: 'XOF', description: 'Idempotent order' };

describe('authentication', () => {
  it('refuses a missing or unknown key with 401 problem+json', async () => {
    const none = await api<Problem>(stack, 'GET', '/v1/payins');
    expect(none.status).toBe(401);
    expect(none.headers.get('content-type')).toContain('application/problem+json');
    expect(none.body.type).toBe('/problems/unauthenticated');
    const wrong = await api<Problem>(stack, 'GET', '/v1/payins', { key: 'sk_notarealkey' });
    expect(wrong.status).toBe(401);
  });

  it("gives 404 for another merchant's payin, and never lists it", async () => {
    const mine = await api<PayinBody>(stack, 'POST', '/v1/payins', {
      key: stack.merchant.apiKey,
      body: payin,
    });
    const other = await createMerchant(stack.pool, 'Other merchant');
    const peek = await api<Problem>(stack, 'GET', `/v1/payins/${mine.body.id}`, { key: other.apiKey });
    expect(peek.status).toBe(404);
    expect(peek.body.type).toBe('/problems/not-found');
    const events = await api<Problem>(stack, 'GET', `/v1/payins/${mine.body.id}/events`, {
      key: other.apiKey,
    });
    expect(events.status).toBe(404);
    const list = await api<{ data: PayinBody[] }>(stack, 'GET', '/v1/payins', { key: other.apiKey });
    expect(list.body.data).toEqual([]);
  });
});

describe('validation', () => {
  it.each([
    ['amount missing', { currency: 'XOF' }, 'amount'],
    ['amount as a float', { amount: 10.5, currency: 'XOF' }, 'amount'],
    ['amount as a string', { amount: '100', currency: 'XOF' }, 'amount'],
    ['negative amount', { amount: -5, currency: 'XOF' }, 'amount'],
    ['unknown currency', { amount: 100, currency: 'ABC' }, 'currency'],
    ['unknown field', { amount: 100, currency: 'XOF', colour: 'red' }, 'colour'],
    ['bad phone', { amount: 100, currency: 'XOF', customer: { phone: 'call me' } }, 'customer.phone'],
    [
      'foreign phone',
      { amount: 100, currency: 'XOF', customer: { phone: '+33612345678' } },
      'customer.phone',
    ],
    ['bad email', { amount: 100, currency: 'XOF', customer: { email: 'nope' } }, 'customer.email'],
    ['bad return url', { amount: 100, currency: 'XOF', return_url: 'javascript:alert(1)' }, 'return_url'],
    ['NUL in description', { amount: 100, currency: 'XOF', description: 'a\u0000b' }, 'description'],
    ['direct without phone', { amount: 100, currency: 'XOF', mode: 'direct' }, 'customer.phone'],
    ['otp on redirect', { amount: 100, currency: 'XOF', otp: '123456' }, 'otp'],
  ])('%s gets 400 naming the field', async (_name, body, field) => {
    const res = await api<Problem>(stack, 'POST', '/v1/payins', { key: stack.merchant.apiKey, body });
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toContain('application/problem+json');
    expect(res.body.type).toBe('/problems/validation-error');
    expect(res.body.errors?.map((e) => e.field)).toContain(field);
  });

  it('malformed JSON gets 400, a non-JSON body 415, and an operator-impossible payin 422', async () => {
    const malformed = await api<Problem>(stack, 'POST', '/v1/payins', {
      key: stack.merchant.apiKey,
      rawBody: '{"amount": 1',
    });
    expect(malformed.status).toBe(400);
    expect(malformed.body.type).toBe('/problems/malformed-json');
    const form = await api<Problem>(stack, 'POST', '/v1/payins', {
      key: stack.merchant.apiKey,
      rawBody: 'amount=1',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    });
    expect(form.status).toBe(415);
    const eur = await api<Problem>(stack, 'POST', '/v1/payins', {
      key: stack.merchant.apiKey,
      body: { amount: 100, currency: 'EUR' },
    });
    expect(eur.status).toBe(422);
    expect(eur.body.type).toBe('/problems/payment-not-possible');
  });

  it('unknown routes and ids get 404 problem+json', async () => {
    const route = await api<Problem>(stack, 'GET', '/v1/nothing', { key: stack.merchant.apiKey });
    expect(route.status).toBe(404);
    expect(route.headers.get('content-type')).toContain('application/problem+json');
    const id = await api<Problem>(stack, 'GET', '/v1/payins/not-an-id', { key: stack.merchant.apiKey });
    expect(id.status).toBe(404);
  });

  it('a known path asked with a method it does not serve gets 405 with Allow', async () => {
    const payin = await api<Problem>(stack, 'DELETE', '/v1/payins/pay_x', { key: stack.merchant.apiKey });
    expect(payin.status).toBe(405);
    expect(payin.headers.get('allow')).toBe('GET, HEAD');
    expect(payin.body.type).toBe('/problems/method-not-allowed');
    expect(payin.headers.get('content-type')).toContain('application/problem+json');
    const endpoint = await api<Problem>(stack, 'PUT', '/v1/webhook-endpoints/we_x', {
      key: stack.merchant.apiKey,
    });
    expect(endpoint.status).toBe(405);
    expect(endpoint.headers.get('allow')!.split(', ').sort()).toEqual(['DELETE', 'GET', 'HEAD', 'PATCH']);
    const list = await api<Problem>(stack, 'DELETE', '/v1/payins', { key: stack.merchant.apiKey });
    expect(list.headers.get('allow')!.split(', ').sort()).toEqual(['GET', 'HEAD', 'POST']);
    expect((await api(stack, 'DELETE', '/v1/nothing', { key: stack.merchant.apiKey })).status).toBe(404);
  });
});

describe('Idempotency-Key', () => {
  it('same key and body return the same payin; another body gets 409', async () => {
    const key = `order-${Date.now()}`;
    const first = await api<PayinBody>(stack, 'POST', '/v1/payins', {
      key: stack.merchant.apiKey,
      body: payin,
      headers: { 'Idempotency-Key': key },
    });
    expect(first.status).toBe(201);
    // Same body with its keys in another order is the same request.
    const again = await api<PayinBody>(stack, 'POST', '/v1/payins', {
      key: stack.merchant.apiKey,
      body: { description: payin.description, currency: payin.currency, amount: payin.amount },
      headers: { 'Idempotency-Key': key },
    });
    expect(again.status).toBe(201);
    expect(again.body.id).toBe(first.body.id);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    const conflict = await api<Problem>(stack, 'POST', '/v1/payins', {
      key: stack.merchant.apiKey,
      body: { ...payin, amount: 6000 },
      headers: { 'Idempotency-Key': key },
    });
    expect(conflict.status).toBe(409);
    expect(conflict.body.type).toBe('/problems/idempotency-key-reused');
    // Exactly one invoice reached the operator.
    expect(stack.sandbox.ligdicash.invoices.findByTransactionId(first.body.id)).toHaveLength(1);
  });

  it('concurrent requests with one key create one payin', async () => {
    const key = `burst-${Date.now()}`;
    const answers = await Promise.all(
      Array.from({ length: 5 }, () =>
        api<PayinBody>(stack, 'POST', '/v1/payins', {
          key: stack.merchant.apiKey,
          body: payin,
          headers: { 'Idempotency-Key': key },
        }),
      ),
    );
    // Each answers with the one payin: 201 once its first step is known, or 202 when a concurrent
    // update-with-start could not wait for it (seen once under a loaded CI): still the same payin.
    const statuses = answers.map((a) => a.status);
    expect(
      statuses.filter((st) => st !== 201 && st !== 202),
      JSON.stringify(answers.map((a) => a.body)),
    ).toEqual([]);
    expect(statuses).toContain(201);
    expect(new Set(answers.map((a) => a.body.id)).size).toBe(1);
    expect(stack.sandbox.ligdicash.invoices.findByTransactionId(answers[0]!.body.id)).toHaveLength(1);
  });

  it('keys belong to one merchant: another merchant may use the same key', async () => {
    const key = `shared-${Date.now()}`;
    const other = await createMerchant(stack.pool, 'Second merchant');
    const a = await api<PayinBody>(stack, 'POST', '/v1/payins', {
      key: stack.merchant.apiKey,
      body: payin,
      headers: { 'Idempotency-Key': key },
    });
    const b = await api<PayinBody>(stack, 'POST', '/v1/payins', {
      key: other.apiKey,
      body: payin,
      headers: { 'Idempotency-Key': key },
    });
    expect(a.status).toBe(201);
    expect(b.status).toBe(201);
    expect(a.body.id).not.toBe(b.body.id);
  });

  it('a key longer than 255 characters is refused', async () => {
    const res = await api<Problem>(stack, 'POST', '/v1/payins', {
      key: stack.merchant.apiKey,
      body: payin,
      headers: { 'Idempotency-Key': 'k'.repeat(256) },
    });
    expect(res.status).toBe(400);
    expect(res.body.errors?.[0]?.field).toBe('Idempotency-Key');
  });
});

describe('listing', () => {
  it('pages newest first with a cursor, and filters by status', async () => {
    const merchant = await createMerchant(stack.pool, 'Lister');
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      const res = await api<PayinBody>(stack, 'POST', '/v1/payins', {
        key: merchant.apiKey,
        body: { ...payin, amount: 100 + i },
      });
      ids.push(res.body.id);
    }
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: {
        status: number;
        body: { data: PayinBody[]; has_more: boolean; next_cursor: string | null };
      } = await api(stack, 'GET', `/v1/payins?limit=2${cursor ? `&cursor=${cursor}` : ''}`, {
        key: merchant.apiKey,
      });
      expect(page.status).toBe(200);
      expect(page.body.data.length).toBeLessThanOrEqual(2);
      seen.push(...page.body.data.map((p) => p.id));
      cursor = page.body.next_cursor;
    } while (cursor);
    expect(seen).toEqual([...ids].reverse());

    const pending = await api<{ data: PayinBody[] }>(stack, 'GET', '/v1/payins?status=action_required', {
      key: merchant.apiKey,
    });
    expect(pending.body.data.length).toBe(5);
    const none = await api<{ data: PayinBody[] }>(stack, 'GET', '/v1/payins?status=succeeded', {
      key: merchant.apiKey,
    });
    expect(none.body.data).toEqual([]);
    const bad = await api<Problem>(stack, 'GET', '/v1/payins?status=paid&limit=1000', {
      key: merchant.apiKey,
    });
    expect(bad.status).toBe(400);
    expect(bad.body.errors?.map((e) => e.field).sort()).toEqual(['limit', 'status']);
    const badCursor = await api<Problem>(stack, 'GET', '/v1/payins?cursor=garbage', { key: merchant.apiKey });
    expect(badCursor.status).toBe(400);
  });
});

describe('service endpoints', () => {
  it('/healthz is 200 when PostgreSQL and Temporal answer', async () => {
    const res = await api<{ status: string; checks: Record<string, string> }>(stack, 'GET', '/healthz');
    expect(res.status).toBe(200);
    expect(res.body.checks).toEqual({ postgres: 'ok', temporal: 'ok' });
  });

  it('serves the OpenAPI document and echoes a request id', async () => {
    const res = await api<{ openapi: string; paths: Record<string, unknown> }>(
      stack,
      'GET',
      '/openapi.json',
      {
        headers: { 'X-Request-Id': 'req-123' },
      },
    );
    expect(res.body.openapi).toBe('3.1.0');
    expect(Object.keys(res.body.paths)).toContain('/v1/payins');
    expect(res.headers.get('x-request-id')).toBe('req-123');
    // A body the server requires is required in the document; the optional ones say so.
    const optional: string[] = [];
    for (const [path, item] of Object.entries(
      res.body.paths as Record<string, Record<string, { requestBody?: { required?: boolean } }>>,
    )) {
      for (const [method, op] of Object.entries(item)) {
        if (op.requestBody && !op.requestBody.required) optional.push(`${method} ${path}`);
      }
    }
    expect(optional.sort()).toEqual([
      'post /v1/api-keys/{id}/rotate',
      'post /v1/events/{id}/resend',
      'post /v1/webhook-endpoints/{id}/rotate-secret',
    ]);
    // Every operation behind a key declares its 401.
    const undeclared: string[] = [];
    for (const [path, item] of Object.entries(
      res.body.paths as Record<string, Record<string, { security?: unknown[]; responses?: object }>>,
    )) {
      for (const [method, op] of Object.entries(item)) {
        if (op.security?.length && !Object.keys(op.responses ?? {}).includes('401'))
          undeclared.push(`${method} ${path}`);
      }
    }
    expect(undeclared).toEqual([]);
    // Each operator's callback intake is documented with the methods it is called with.
    expect(Object.keys(res.body.paths['/v1/callbacks/tmoney'] as object).sort()).toEqual(['get', 'post']);
    expect(Object.keys(res.body.paths['/v1/callbacks/ligdicash'] as object)).toEqual(['post']);
  });
});
