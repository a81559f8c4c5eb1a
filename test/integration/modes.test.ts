import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listPaymentEvents } from '../../db/payments.js';
import { publishEvents } from '../../db/events.js';
import { createMerchant } from '../../db/merchants.js';
import {
  api,
  ligdicashControl,
  payinReaches,
  startStack,
  type PayinBody,
  type TestStack,
} from '../support/stack.js';

/**
 * Test and live modes: a test key's payments go to the sandbox whatever the live configuration
 * says, and neither mode sees the other's payments, events, endpoints, balances or entries.
 * Here live LigdiCash is configured at an address where nothing answers.
 */
let stack: TestStack;
let test: string;
let live: string;
beforeAll(async () => {
  stack = await startStack({
    env: { LIGDICASH_BASE_URL: 'http://127.0.0.1:9/pay/v01/', INITIATION_WAIT_SECONDS: '1' },
  });
  const created = await createMerchant(stack.pool, 'Two modes', { live: true });
  test = created.apiKey;
  live = created.liveApiKey!;
});
afterAll(async () => {
  await stack?.stop();
});

type List<T> = { data: T[] };

describe('test and live modes', () => {
  let testPayin: PayinBody;
  let livePayin: PayinBody;

  it('sends a test payin to the sandbox and a live one to the configured operator', async () => {
    const idempotencyKey = `same-key-${Date.now()}`;
    const body = { amount: 2500, currency: 'XOF', description: 'Mode check' };
    const t = await api<PayinBody>(stack, 'POST', '/v1/payins', {
      key: test,
      body,
      headers: { 'Idempotency-Key': idempotencyKey },
    });
    // The same Idempotency-Key in the other mode is another request, not a replay.
    const l = await api<PayinBody>(stack, 'POST', '/v1/payins', {
      key: live,
      body,
      headers: { 'Idempotency-Key': idempotencyKey },
    });
    expect(t.body.livemode).toBe(false);
    expect(l.body.livemode).toBe(true);
    expect(l.body.id).not.toBe(t.body.id);

    testPayin = await payinReaches({ ...stack, merchant: { id: '', apiKey: test } }, t.body.id, [
      'action_required',
    ]);
    expect(testPayin.next_action?.url).toContain(stack.sandboxUrl);
    livePayin = await payinReaches(
      { ...stack, merchant: { id: '', apiKey: live } },
      l.body.id,
      ['failed'],
      60_000,
    );
    expect(livePayin.failure?.code).toBe('operator_unavailable');
    const reasons = (await listPaymentEvents(stack.pool, livePayin.id)).map((e) => e.reason ?? '').join(' ');
    expect(reasons).toMatch(/127\.0\.0\.1:9|ECONNREFUSED|unreachable|connect/i);
  });

  it('never shows one mode what belongs to the other', async () => {
    await ligdicashControl(stack, testPayin.operator_reference!, 'pay', '22676000001');
    await payinReaches({ ...stack, merchant: { id: '', apiKey: test } }, testPayin.id, ['succeeded']);

    // By id, and in lists.
    expect((await api(stack, 'GET', `/v1/payins/${livePayin.id}`, { key: test })).status).toBe(404);
    expect((await api(stack, 'GET', `/v1/payins/${testPayin.id}`, { key: live })).status).toBe(404);
    const testList = await api<List<PayinBody>>(stack, 'GET', '/v1/payins', { key: test });
    const liveList = await api<List<PayinBody>>(stack, 'GET', '/v1/payins', { key: live });
    expect(testList.body.data.map((p) => p.id)).toEqual([testPayin.id]);
    expect(liveList.body.data.map((p) => p.id)).toEqual([livePayin.id]);

    // Events.
    await publishEvents(stack.pool);
    type Ev = { id: string; livemode: boolean; resource: { id: string } };
    const testEvents = await api<List<Ev>>(stack, 'GET', '/v1/events?limit=100', { key: test });
    const liveEvents = await api<List<Ev>>(stack, 'GET', '/v1/events?limit=100', { key: live });
    expect(new Set(testEvents.body.data.map((e) => e.resource.id))).toEqual(new Set([testPayin.id]));
    expect(new Set(liveEvents.body.data.map((e) => e.resource.id))).toEqual(new Set([livePayin.id]));
    expect(testEvents.body.data.every((e) => e.livemode === false)).toBe(true);
    const liveEventId = liveEvents.body.data[0]!.id;
    expect((await api(stack, 'GET', `/v1/events/${liveEventId}`, { key: test })).status).toBe(404);

    // Balances and the ledger: the test payin credited the test balance only.
    type Balance = { livemode: boolean; balances: { currency: string; available: number }[] };
    const testBalance = await api<Balance>(stack, 'GET', '/v1/balance', { key: test });
    const liveBalance = await api<Balance>(stack, 'GET', '/v1/balance', { key: live });
    expect(testBalance.body.livemode).toBe(false);
    expect(testBalance.body.balances.find((b) => b.currency === 'XOF')?.available).toBe(2500);
    expect(liveBalance.body.balances.find((b) => b.currency === 'XOF')?.available ?? 0).toBe(0);
    const liveEntries = await api<List<unknown>>(stack, 'GET', '/v1/ledger/entries', { key: live });
    expect(liveEntries.body.data).toEqual([]);
    const testEntries = await api<List<{ payment_id: string }>>(stack, 'GET', '/v1/ledger/entries', {
      key: test,
    });
    expect(testEntries.body.data.map((e) => e.payment_id)).toEqual([testPayin.id]);
    const { rows } = await stack.pool.query<{ livemode: boolean }>(
      `SELECT DISTINCT a.livemode FROM ledger_lines l JOIN journal_entries e ON e.id = l.entry_id
         JOIN ledger_accounts a ON a.id = l.account_id WHERE e.payment_id = $1`,
      [testPayin.id],
    );
    expect(rows).toEqual([{ livemode: false }]);
  });

  it('keeps webhook endpoints to their mode, and delivers each mode its own events', async () => {
    const made = await api<{ id: string; livemode: boolean }>(stack, 'POST', '/v1/webhook-endpoints', {
      key: test,
      body: { url: 'http://127.0.0.1:9/hooks', event_types: ['*'] },
    });
    expect(made.status).toBe(201);
    expect(made.body.livemode).toBe(false);
    expect((await api(stack, 'GET', `/v1/webhook-endpoints/${made.body.id}`, { key: live })).status).toBe(
      404,
    );
    const liveEndpoints = await api<List<{ id: string }>>(stack, 'GET', '/v1/webhook-endpoints', {
      key: live,
    });
    expect(liveEndpoints.body.data.map((e) => e.id)).not.toContain(made.body.id);
    // A live payin's events are never delivered to the test endpoint.
    const another = await api<PayinBody>(stack, 'POST', '/v1/payins', {
      key: live,
      body: { amount: 2600, currency: 'XOF' },
    });
    const mine = await api<PayinBody>(stack, 'POST', '/v1/payins', {
      key: test,
      body: { amount: 2700, currency: 'XOF' },
    });
    await publishEvents(stack.pool);
    const delivered = async (resourceId: string) =>
      (
        await stack.pool.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM webhook_deliveries d JOIN events e ON e.id = d.event_id
            WHERE d.endpoint_id = $1 AND e.resource_id = $2`,
          [made.body.id, resourceId],
        )
      ).rows[0]!.n;
    expect(await delivered(another.body.id)).toBe(0);
    expect(await delivered(mine.body.id)).toBeGreaterThan(0);
  });
});
