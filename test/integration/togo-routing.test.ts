import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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
import { MOOV, TOGOCEL, TOGO_STACK, togoPayins } from '../support/togo.js';
import { useOwnDatabase } from '../support/own-database.js';

/**
 * Togo's routing: by number, the merchant's routes, and failover between TMoney and PayGateGlobal.
 * Everything through the API and the sandboxes over HTTP.
 */
let stack: TestStack;
// Its checks read what every file's stack writes: a database of its own (test/support/own-database.ts).
useOwnDatabase();
beforeAll(async () => {
  stack = await startStack(TOGO_STACK);
});
afterAll(async () => {
  await stack?.stop();
});
const { createPayin } = togoPayins(() => stack);

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
      // Its cool-down over, the route is up again.
      await eventually('TMoney up again', async () => {
        const now = await api<{ data: { operator: string; status: string }[] }>(
          failing,
          'GET',
          '/v1/operators',
          {
            key: failing.merchant.apiKey,
          },
        );
        return now.body.data.find((o) => o.operator === 'tmoney')?.status === 'down' ? undefined : true;
      });
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
