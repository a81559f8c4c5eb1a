import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listCallbacks } from '../../db/callbacks.js';
import { listPaymentEvents } from '../../db/payments.js';
import {
  activitiesIn,
  api,
  eventually,
  ligdicashControl,
  payinReaches,
  recordHistory,
  startStack,
  type PayinBody,
  type TestStack,
} from '../support/stack.js';

/** Every LigdiCash payin flow, through the API, the workflow and the sandbox over HTTP. */
let stack: TestStack;
beforeAll(async () => {
  stack = await startStack({ env: { LIGDICASH_PAYIN_DEADLINE_SECONDS: '6' } });
});
afterAll(async () => {
  await stack?.stop();
});

async function createPayin(body: Record<string, unknown>, key = stack.merchant.apiKey) {
  return api<PayinBody>(stack, 'POST', '/v1/payins', {
    key,
    body: { currency: 'XOF', description: 'Order 42', ...body },
  });
}

/** What the payer does on the checkout page: post its form, as a browser would. */
async function submitCheckout(url: string, action: 'pay' | 'cancel'): Promise<Response> {
  const page = await fetch(url);
  expect(page.status).toBe(200);
  const html = await page.text();
  expect(html).toContain('Payer');
  return fetch(url, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ action, method: 'Orange Money', phone: '22670000000' }).toString(),
    redirect: 'manual',
  });
}

describe('redirect payin', () => {
  it('is paid on the checkout page, confirmed by the status API and found in Temporal by payment id', async () => {
    const created = await createPayin({
      amount: 5000,
      return_url: 'https://shop.example/ok',
      metadata: { order: '42' },
    });
    expect(created.status).toBe(201);
    expect(created.body.status).toBe('action_required');
    expect(created.body.next_action?.type).toBe('redirect');
    const back = await submitCheckout(created.body.next_action!.url!, 'pay');
    expect(back.status).toBe(303);
    expect(back.headers.get('location')).toBe('https://shop.example/ok');

    const done = await payinReaches(stack, created.body.id, [
      'succeeded',
      'failed',
      'cancelled',
      'expired',
      'unknown',
    ]);
    expect(done.status).toBe('succeeded');
    expect(done.completed_at).toBeTruthy();
    expect(done.metadata).toEqual({ order: '42' });

    const events = await listPaymentEvents(stack.pool, created.body.id);
    expect(events.map((e) => e.toStatus)).toEqual(['created', 'action_required', 'succeeded']);
    expect(events[2]!.operatorStatus).toBe('completed');

    // The operations view: search attributes mirror the database.
    const found = await eventually('workflow visible by PaymentId', async () => {
      for await (const wf of stack.temporal.workflow.list({ query: `PaymentId = '${created.body.id}'` })) {
        if (wf.searchAttributes.PaymentStatus?.[0] === 'succeeded') return wf;
      }
      return undefined;
    });
    expect(found.workflowId).toBe(`payin-${created.body.id}`);
    expect(found.searchAttributes.MerchantId).toEqual([stack.merchant.id]);
    expect(found.searchAttributes.AmountMinor).toEqual([5000]);
    await recordHistory(stack, created.body.id, 'payin-redirect-succeeded');
  });

  it('is cancelled by the payer', async () => {
    const created = await createPayin({ amount: 2500, cancel_url: 'https://shop.example/cancel' });
    const back = await submitCheckout(created.body.next_action!.url!, 'cancel');
    expect(back.headers.get('location')).toBe('https://shop.example/cancel');
    const done = await payinReaches(stack, created.body.id, ['cancelled', 'failed', 'succeeded', 'expired']);
    expect(done.status).toBe('cancelled');
    expect(done.failure?.code).toBe('cancelled');
    await recordHistory(stack, created.body.id, 'payin-redirect-cancelled');
  });

  it('declined by the operator ends failed with the operator sub-code kept', async () => {
    const created = await createPayin({ amount: 1001 });
    await ligdicashControl(stack, created.body.operator_reference!, 'pay');
    const done = await payinReaches(stack, created.body.id, ['failed', 'cancelled', 'succeeded', 'expired']);
    expect(done.status).toBe('failed');
    expect(done.failure?.code).toBe('operator_processing_failed');
    expect(done.failure?.message).toContain('Echec (Code04)');
    expect(done.operator_status).toBe('nocompleted');
  });

  it('without any callback is settled by polling the status API', async () => {
    const created = await createPayin({ amount: 1003 });
    await ligdicashControl(stack, created.body.operator_reference!, 'pay');
    const done = await payinReaches(stack, created.body.id, ['succeeded', 'failed', 'expired']);
    expect(done.status).toBe('succeeded');
    expect(await listCallbacks(stack.pool, { paymentId: created.body.id })).toHaveLength(0);
  });

  it('where nothing ever happens ends expired at the deadline', async () => {
    const created = await createPayin({ amount: 1009 });
    expect(created.body.status).toBe('action_required');
    const done = await payinReaches(stack, created.body.id, ['expired', 'failed', 'succeeded'], 20_000);
    expect(done.status).toBe('expired');
    expect(done.failure?.code).toBe('expired');
    await recordHistory(stack, created.body.id, 'payin-expired');

    // While it waited, the status API was polled again and again by the retries of one activity,
    // which left nothing in the history: waiting costs no workflow task and no event per poll.
    const polls = stack.sandbox.ligdicash.invoices.get(created.body.operator_reference!)!.statusCalls;
    // The end is in the database as soon as the local activity that records it has run; its marker
    // is in the history once the workflow task it ran in completes: read the history once ended.
    const handle = stack.temporal.workflow.getHandle(`payin-${created.body.id}`);
    await handle.result();
    const history = await handle.fetchHistory();
    const ran = activitiesIn(history.events ?? []).map((a) => a.name);
    expect(ran.filter((name) => name === 'pollPayinUntilEnded')).toHaveLength(1);
    // The last look at the deadline, which also records the end: nothing else runs. The send and
    // the last look are local activities (shape 3), the polling an activity on the polling queue.
    expect(ran.filter((name) => name === 'confirmPayinOutcomeLocally')).toHaveLength(1);
    expect(ran).toEqual(['initiatePayinLocally', 'pollPayinUntilEnded', 'confirmPayinOutcomeLocally']);
    expect(polls).toBeGreaterThanOrEqual(3);
  });

  it('whose status API fails twice still succeeds', async () => {
    const created = await createPayin({ amount: 1010 });
    await ligdicashControl(stack, created.body.operator_reference!, 'pay');
    const done = await payinReaches(stack, created.body.id, ['succeeded', 'failed', 'expired']);
    expect(done.status).toBe('succeeded');
    expect(
      stack.sandbox.ligdicash.invoices.get(created.body.operator_reference!)!.statusCalls,
    ).toBeGreaterThanOrEqual(3);
  });

  it('survives a slow operator answer', async () => {
    const started = Date.now();
    const created = await createPayin({ amount: 1008 });
    expect(Date.now() - started).toBeGreaterThanOrEqual(1400);
    expect(created.status).toBe(201);
    expect(created.body.status).toBe('action_required');
  });

  it('whose creation answers 5xx is retried, then fails without charging anyone', async () => {
    const created = await createPayin({ amount: 1007 });
    expect(created.status).toBe(201);
    expect(created.body.status).toBe('failed');
    expect(created.body.failure?.code).toBe('operator_unavailable');
    await recordHistory(stack, created.body.id, 'payin-operator-unavailable');
    expect(stack.sandbox.ligdicash.invoices.findByTransactionId(created.body.id)).toHaveLength(0);
  });
});

describe('direct payin', () => {
  it('with an OTP (Orange Burkina) succeeds', async () => {
    const phone = '+22676123456';
    const ussd = await fetch(`${stack.sandboxUrl}/ligdicash/_sandbox/otp`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ customer: phone, amount: 3000 }),
    });
    const { otp } = (await ussd.json()) as { otp: string };
    const created = await createPayin({ amount: 3000, mode: 'direct', customer: { phone }, otp });
    expect(created.status).toBe(201);
    expect(created.body.network).toBe('orange_bf');
    expect(['pending', 'succeeded']).toContain(created.body.status);
    const done = await payinReaches(stack, created.body.id, ['succeeded', 'failed', 'expired']);
    expect(done.status).toBe('succeeded');
    // The OTP was single-use and is not kept once the operator answered.
    const { rowCount } = await stack.pool.query('SELECT 1 FROM payin_authorisations WHERE payment_id = $1', [
      done.id,
    ]);
    expect(rowCount).toBe(0);
  });

  it('with a wrong OTP is refused by the operator', async () => {
    const created = await createPayin({
      amount: 3000,
      mode: 'direct',
      customer: { phone: '+22676123457' },
      otp: '000000',
    });
    expect(created.status).toBe(201);
    expect(created.body.status).toBe('failed');
    expect(created.body.failure?.message).toContain('OTP');
  });

  it('with approval on the phone (Moov Burkina) succeeds', async () => {
    const created = await createPayin({
      amount: 2000,
      mode: 'direct',
      customer: { phone: '+22670123456', first_name: 'Awa' },
    });
    expect(created.status).toBe(201);
    expect(created.body.network).toBe('moov_bf');
    expect(created.body.status).toBe('action_required');
    expect(created.body.next_action?.type).toBe('approve_on_phone');
    // The transition that recorded the operator's answer gave the send lease back with it.
    const { rows: lease } = await stack.pool.query(
      'SELECT send_lease_until, send_lease_owner, initiation_attempts FROM payments WHERE id = $1',
      [created.body.id],
    );
    expect(lease).toEqual([{ send_lease_until: null, send_lease_owner: null, initiation_attempts: 1 }]);
    const done = await payinReaches(stack, created.body.id, ['succeeded', 'failed', 'expired']);
    expect(done.status).toBe('succeeded');
    const sent = stack.sandbox.ligdicash.invoices.findByTransactionId(done.id);
    expect(sent).toHaveLength(1);
    expect(sent[0]!.customer).toBe('22670123456');
    await recordHistory(stack, done.id, 'payin-direct-approval-succeeded');
  });

  it('refused when the OTP is missing or the network has no direct payin', async () => {
    const noOtp = await createPayin({ amount: 3000, mode: 'direct', customer: { phone: '+22676123456' } });
    expect(noOtp.status).toBe(422);
    expect(noOtp.headers.get('content-type')).toContain('application/problem+json');
    expect((noOtp.body as unknown as { code: string }).code).toBe('otp_required');
    const telecel = await createPayin({ amount: 3000, mode: 'direct', customer: { phone: '+22658123456' } });
    expect(telecel.status).toBe(422);
    expect((telecel.body as unknown as { code: string }).code).toBe('network_not_served');
  });
});

describe('operator credentials', () => {
  it('a payin sent with a wrong LigdiCash key is refused by the operator as LigdiCash refuses', async () => {
    // A live key: test mode would use the sandbox's own (right) key whatever LIGDICASH_API_KEY says.
    const wrongKey = await startStack({ env: { LIGDICASH_API_KEY: 'not-the-key' }, liveKey: true });
    try {
      const res = await api<PayinBody>(wrongKey, 'POST', '/v1/payins', {
        key: wrongKey.merchant.apiKey,
        body: { amount: 5000, currency: 'XOF' },
      });
      expect(res.status).toBe(201);
      expect(res.body.status).toBe('failed');
      expect(res.body.failure?.code).toBe('operator_authentication_failed');
      expect(res.body.failure?.message).toContain('Echec (Code00)');
      expect(wrongKey.sandbox.ligdicash.invoices.findByTransactionId(res.body.id)).toHaveLength(0);
    } finally {
      await wrongKey.stop();
    }
  });
});
