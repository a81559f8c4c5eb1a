import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listCallbacks, openCallbackRequest } from '../../db/callbacks.js';
import { cardVaultRing } from '../../lib/config.js';
import { createMerchant } from '../../db/merchants.js';
import { listPaymentEvents } from '../../db/payments.js';
import {
  api,
  eventually,
  ligdicashControl,
  payinReaches,
  startStack,
  type PayinBody,
  type TestStack,
} from '../support/stack.js';

/** Callback intake (DESIGN.md rule 1): stored raw, verified, a hint to the workflow, never the truth. */
let stack: TestStack;
beforeAll(async () => {
  stack = await startStack({ env: { LIGDICASH_PAYIN_DEADLINE_SECONDS: '4' } });
});
afterAll(async () => {
  await stack?.stop();
});

async function createPayin(amount: number) {
  const res = await api<PayinBody>(stack, 'POST', '/v1/payins', {
    key: stack.merchant.apiKey,
    body: { amount, currency: 'XOF', description: 'Callback test' },
  });
  expect(res.status).toBe(201);
  return res.body;
}

function postCallback(body: string, contentType: string) {
  return fetch(`${stack.apiUrl}/v1/callbacks/ligdicash`, {
    method: 'POST',
    headers: { 'Content-Type': contentType },
    body,
  });
}

function forgedCompleted(paymentId: string, amount: number) {
  return JSON.stringify({
    date: '2026-11-23 09:46:27+00',
    method: 'post',
    response_code: '00',
    response_text: null,
    token: '',
    montant: String(amount),
    status: 'completed',
    custom_data: [{ id_invoice: 1, keyof_customdata: 'transaction_id', valueof_customdata: paymentId }],
    operator_name: 'ORANGE BURKINA',
    operator_id: '11',
    transaction_id: paymentId,
    hash: 'deadbeef',
  });
}

describe('LigdiCash callbacks', () => {
  it('both bodies and their repeats cause exactly one transition; every delivery is kept', async () => {
    const payin = await createPayin(1005);
    await ligdicashControl(stack, payin.operator_reference!, 'pay');
    const done = await payinReaches(stack, payin.id, ['succeeded', 'failed', 'expired']);
    expect(done.status).toBe('succeeded');
    // Three copies of the event, each as form and as JSON.
    const inbox = await eventually('six deliveries in the inbox', async () => {
      const rows = await listCallbacks(stack.pool, { paymentId: payin.id });
      return rows.length === 6 && rows.every((r) => r.verdict !== 'received' && r.verdict !== 'signalled')
        ? rows
        : undefined;
    });
    expect(inbox.filter((r) => r.verdict === 'confirmed')).toHaveLength(1);
    expect(inbox.filter((r) => r.verdict === 'duplicate')).toHaveLength(5);
    expect(new Set(inbox.map((r) => r.contentType?.split(';')[0]))).toEqual(
      new Set(['application/x-www-form-urlencoded', 'application/json']),
    );
    const events = await listPaymentEvents(stack.pool, payin.id);
    expect(events.filter((e) => e.toStatus === 'succeeded')).toHaveLength(1);
  });

  it('only the methods each operator calls back with are heard; others get 405 and store nothing', async () => {
    // Only the methods this test uses: other files store callbacks in the same database meanwhile.
    const count = async () =>
      Number(
        (
          await stack.pool.query<{ n: string }>(
            `SELECT count(*) AS n FROM operator_callbacks WHERE http_method IN ('PUT', 'DELETE', 'PATCH')
                OR (operator = 'ligdicash' AND http_method = 'GET')`,
          )
        ).rows[0]!.n,
      );
    const before = await count();
    for (const [operator, method, allow] of [
      ['ligdicash', 'PUT', 'POST'],
      ['ligdicash', 'DELETE', 'POST'],
      ['ligdicash', 'GET', 'POST'],
      ['paygate', 'PATCH', 'POST'],
      ['tmoney', 'DELETE', 'GET, POST'],
    ] as const) {
      const res = await fetch(`${stack.apiUrl}/v1/callbacks/${operator}`, {
        method,
        ...(method === 'GET' || method === 'DELETE' ? {} : { body: '{"transaction_id":"x"}' }),
      });
      expect(res.status, `${method} ${operator}`).toBe(405);
      expect(res.headers.get('allow')).toBe(allow);
      expect(res.headers.get('content-type')).toContain('application/problem+json');
    }
    expect(await count()).toBe(before);
  });

  it('a callback for an unknown reference changes nothing and is kept as rejected', async () => {
    const res = await postCallback(forgedCompleted('pay_aaaaaaaaaaaaaaaaaaaaaaaa', 100), 'application/json');
    expect(res.status).toBe(200);
    const { id } = (await res.json()) as { id: number };
    const row = (await listCallbacks(stack.pool, { operator: 'ligdicash' })).find((r) => r.id === id)!;
    expect(row.verdict).toBe('rejected');
    expect(row.rejectReason).toBe('unknown payment reference');
    // Its body as it arrived is in the vault: the row holds a token, and the vault opens it.
    const { rows: stored } = await stack.pool.query<{ raw_body: Buffer | null; raw_body_token: string }>(
      'SELECT raw_body, raw_body_token FROM operator_callbacks WHERE id = $1',
      [id],
    );
    expect(stored[0]!.raw_body).toBeNull();
    expect(stored[0]!.raw_body_token).toMatch(/^pd_/);
    const request = await openCallbackRequest(stack.pool, cardVaultRing(stack.config), id);
    expect(request!.body.toString('utf8')).toContain('pay_aaaaaaaaaaaaaaaaaaaaaaaa');
  });

  it('a forged "completed" callback the status API contradicts changes nothing and ends rejected', async () => {
    const payin = await createPayin(1009); // the payer never pays
    const res = await postCallback(forgedCompleted(payin.id, 1009), 'application/json');
    expect(res.status).toBe(200);
    const row = await eventually('forged callback weighed', async () => {
      const rows = await listCallbacks(stack.pool, { paymentId: payin.id });
      return rows[0]?.verdict === 'rejected' ? rows[0] : undefined;
    });
    expect(row.rejectReason).toBe('not confirmed by the operator status API');
    const now = await api<PayinBody>(stack, 'GET', `/v1/payins/${payin.id}`, { key: stack.merchant.apiKey });
    expect(now.body.status).toBe('action_required');
    const done = await payinReaches(stack, payin.id, ['expired', 'succeeded', 'failed'], 15_000);
    expect(done.status).toBe('expired');
  });

  it('a body that is neither JSON nor form, or lacks our reference, is rejected and stored raw', async () => {
    const garbage = await postCallback('\u0000\u0001 not a callback', 'application/octet-stream');
    expect(garbage.status).toBe(200);
    const noRef = await postCallback('status=completed&montant=100', 'application/x-www-form-urlencoded');
    expect(noRef.status).toBe(200);
    const rows = await listCallbacks(stack.pool, { operator: 'ligdicash' });
    const last = rows.slice(-2);
    expect(last.map((r) => r.verdict)).toEqual(['rejected', 'rejected']);
    expect(last[1]!.rejectReason).toBe('no transaction_id in the callback');
  });

  it('a callback with another amount is rejected, and the payin is not declared succeeded', async () => {
    const payin = await createPayin(1006); // the operator records one franc less
    await ligdicashControl(stack, payin.operator_reference!, 'pay');
    const done = await payinReaches(stack, payin.id, ['unknown', 'succeeded', 'failed', 'expired']);
    expect(done.status).toBe('unknown');
    expect(done.failure?.code).toBe('amount_mismatch');
    const rows = await eventually('callbacks rejected', async () => {
      const r = await listCallbacks(stack.pool, { paymentId: payin.id });
      return r.length >= 2 ? r : undefined;
    });
    expect(
      rows.every((r) => r.verdict === 'rejected' && r.rejectReason?.startsWith('amount 1005 differs')),
    ).toBe(true);
  });

  it('a success notified after our deadline is kept as late for reconciliation', async () => {
    const payin = await createPayin(1004);
    await ligdicashControl(stack, payin.operator_reference!, 'pay');
    const done = await payinReaches(stack, payin.id, ['expired', 'succeeded'], 15_000);
    expect(done.status).toBe('expired');
    const late = await eventually(
      'late callback',
      async () => {
        const rows = await listCallbacks(stack.pool, { paymentId: payin.id });
        return rows.some((r) => r.verdict === 'late') ? rows : undefined;
      },
      20_000,
    );
    expect(late.filter((r) => r.verdict === 'late').length).toBeGreaterThanOrEqual(1);
    const after = await api<PayinBody>(stack, 'GET', `/v1/payins/${payin.id}`, {
      key: stack.merchant.apiKey,
    });
    expect(after.body.status).toBe('expired');
  });
});

describe('callback source allow-list', () => {
  it('refuses a callback from an address not allowed, whatever it says', async () => {
    // The allow-list is a live-mode setting: test mode (the sandbox's defaults) has none.
    const guarded = await startStack({
      env: { LIGDICASH_CALLBACK_ALLOWED_IPS: '10.9.8.7', INITIATION_WAIT_SECONDS: '1' },
      worker: false,
    });
    try {
      const live = (await createMerchant(guarded.pool, 'Guarded', { live: true })).liveApiKey!;
      const payin = await api<PayinBody>(guarded, 'POST', '/v1/payins', {
        key: live,
        body: { amount: 1500, currency: 'XOF' },
      });
      expect(payin.body.livemode).toBe(true);
      const res = await fetch(`${guarded.apiUrl}/v1/callbacks/ligdicash`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: forgedCompleted(payin.body.id, 1500),
      });
      const { id } = (await res.json()) as { id: number };
      const row = (await listCallbacks(guarded.pool)).find((r) => r.id === id)!;
      expect(row.verdict).toBe('rejected');
      expect(row.rejectReason).toContain('not allowed for a live payment');
    } finally {
      await guarded.stop();
    }
  });
});
