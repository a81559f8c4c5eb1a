import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listCallbacks } from '../../db/callbacks.js';
import { createMerchant } from '../../db/merchants.js';
import { mtnReferenceId } from '../../operators/mtn/protocol.js';
import { api, eventually, startStack, type PayinBody, type TestStack } from '../support/stack.js';
import { balanceOf, expectBalancedLedger, fundMerchant } from '../support/money.js';

/**
 * MTN MoMo as a direct operator: request to pay and transfer by an X-Reference-Id derived from our
 * payment id; the status GET decides, the (unsigned, single) PUT callback only hints. Everything
 * through the API and the sandbox over HTTP.
 */
let stack: TestStack;
beforeAll(async () => {
  stack = await startStack({
    env: { MTN_PAYIN_DEADLINE_SECONDS: '15', MTN_PAYOUT_DEADLINE_SECONDS: '12', MTN_HTTP_TIMEOUT_MS: '2500' },
    sandboxEnv: { SANDBOX_AMBIGUOUS_DELAY_MS: '3000' },
  });
});
afterAll(async () => {
  await stack?.stop();
});

const MTN_CI = '+2250501234567';
const MTN_BJ = '+2290196123456';
const MTN_GH = '+233241234567';
type Payment = PayinBody & {
  operator_reference?: string | null;
  failure?: { code: string; message: string } | null;
};
type Problem = { type: string; code?: string };
const ended = ['succeeded', 'failed', 'cancelled', 'expired', 'unknown'];

function createPayin(body: Record<string, unknown>, key = stack.merchant.apiKey) {
  return api<Payment & Problem>(stack, 'POST', '/v1/payins', {
    key,
    body: {
      currency: 'XOF',
      description: 'Commande Cotonou',
      mode: 'direct',
      customer: { phone: MTN_CI },
      ...body,
    },
  });
}

async function reaches(kind: 'payins' | 'payouts' | 'refunds', id: string, key = stack.merchant.apiKey) {
  return eventually(
    `${kind} ${id} ended`,
    async () => {
      const res = await api<Payment>(stack, 'GET', `/v1/${kind}/${id}`, { key });
      return ended.includes(res.body.status) ? res.body : undefined;
    },
    30_000,
  );
}

describe('MTN MoMo', () => {
  it('an MTN CI payin is a request to pay under our derived reference; the PUT callback hints, the GET decides', async () => {
    const created = await createPayin({ amount: 2_000 });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ operator: 'mtn', network: 'mtn_ci' });
    expect(created.body.next_action?.type).toBe('approve_on_phone');
    const done = await reaches('payins', created.body.id);
    expect(done.status).toBe('succeeded');
    expect(done.operator_reference).toBe(mtnReferenceId(created.body.id));
    const tx = stack.sandbox.mtn.byExternalId(created.body.id)!;
    expect(tx).toMatchObject({
      referenceId: mtnReferenceId(created.body.id),
      targetEnvironment: 'mtnivorycoast',
      currency: 'XOF',
      amountMinor: 2_000,
      party: { partyIdType: 'MSISDN', partyId: '2250501234567' },
    });
    const inbox = await eventually('mtn callback', async () => {
      const rows = await listCallbacks(stack.pool, { paymentId: created.body.id });
      return rows.length ? rows : undefined;
    });
    expect(['confirmed', 'signalled', 'late']).toContain(inbox[0]!.verdict);
    expect(inbox).toHaveLength(1);
  });

  it('a repeat of our reference is a 409 at MTN, never a second debit', async () => {
    const created = await createPayin({ amount: 2_100 });
    await reaches('payins', created.body.id);
    const collection = stack.config.testOperators.mtn.collection;
    const headers = {
      'Ocp-Apim-Subscription-Key': collection.subscriptionKey,
      Authorization: `Basic ${Buffer.from(`${collection.apiUser}:${collection.apiKey}`).toString('base64')}`,
    };
    const token = (await (
      await fetch(`${stack.sandboxUrl}/mtn/collection/token/`, { method: 'POST', headers })
    ).json()) as { access_token: string };
    const again = await fetch(`${stack.sandboxUrl}/mtn/collection/v1_0/requesttopay`, {
      method: 'POST',
      headers: {
        ...headers,
        Authorization: `Bearer ${token.access_token}`,
        'X-Reference-Id': mtnReferenceId(created.body.id),
        'X-Target-Environment': 'mtnivorycoast',
        'Content-Type': 'application/json',
      },
      body: JSON.stringify({
        amount: '2100',
        currency: 'XOF',
        externalId: created.body.id,
        payer: { partyIdType: 'MSISDN', partyId: '2250501234567' },
      }),
    });
    expect(again.status).toBe(409);
    const txs = [...stack.sandbox.mtn.transactions.values()].filter((t) => t.externalId === created.body.id);
    expect(txs).toHaveLength(1);
  });

  it('scenarios: declined, payer refuses, no callback, callback three times, wrong amount; and cedis (GHS, two decimals)', async () => {
    const [declined, refused, silent, repeated, wrong, cedis] = await Promise.all([
      createPayin({ amount: 6_001 }),
      createPayin({ amount: 6_002 }),
      createPayin({ amount: 6_003 }),
      createPayin({ amount: 6_005 }),
      createPayin({ amount: 6_006 }),
      createPayin({ amount: 1_050, currency: 'GHS', customer: { phone: MTN_GH } }),
    ]);
    for (const p of [declined, refused, silent, repeated, wrong, cedis]) expect(p.status).toBe(201);
    const [d, r, s, rep, w, c] = await Promise.all(
      [declined, refused, silent, repeated, wrong, cedis].map((p) => reaches('payins', p.body.id)),
    );
    expect([d!.status, d!.failure?.code]).toEqual(['failed', 'insufficient_funds']);
    expect(r!.status).toBe('cancelled');
    expect(s!.status).toBe('succeeded');
    expect(rep!.status).toBe('succeeded');
    // MTN states one unit less than we asked: never credited as ours (rule 9).
    expect(w!.status).toBe('unknown');
    expect(w!.failure?.code).toBe('amount_mismatch');
    expect(c!).toMatchObject({ status: 'succeeded', currency: 'GHS', network: 'mtn_gh' });
    expect(stack.sandbox.mtn.byExternalId(cedis.body.id)).toMatchObject({
      targetEnvironment: 'mtnghana',
      currency: 'GHS',
      amountMinor: 1_050,
    });
    const repeats = await eventually('three callbacks', async () => {
      const rows = await listCallbacks(stack.pool, { paymentId: repeated.body.id });
      return rows.length >= 3 ? rows.map((x) => x.verdict) : undefined;
    });
    expect(repeats.filter((v) => v === 'duplicate')).toHaveLength(2);
  });

  it('transfers: paid, ambiguous found executed, lost found never executed, declined; a refund of an MTN payin is a transfer back', async () => {
    const m = await createMerchant(stack.pool, `MTN payouts ${Date.now()}`);
    await fundMerchant(stack, m.apiKey, [60_000]);
    const payout = (amount: number) =>
      api<Payment & Problem>(stack, 'POST', '/v1/payouts', {
        key: m.apiKey,
        body: { amount, currency: 'XOF', recipient: { phone: MTN_BJ } },
      });
    const [plain, ambiguous, lost, declined] = await Promise.all([7_000, 6_102, 6_106, 6_101].map(payout));
    for (const p of [plain!, ambiguous!, lost!, declined!]) {
      expect(p.status).toBeLessThan(300);
      expect(p.body.operator).toBe('mtn');
    }
    const [a, b, c, d] = await Promise.all(
      [plain!, ambiguous!, lost!, declined!].map((p) => reaches('payouts', p.body.id, m.apiKey)),
    );
    expect([a!.status, b!.status, c!.status, d!.status]).toEqual([
      'succeeded',
      'succeeded',
      'failed',
      'failed',
    ]);
    const atMtn = (id: string) =>
      [...stack.sandbox.mtn.transactions.values()].filter((t) => t.externalId === id);
    // One transfer per payout at MTN, whatever was re-sent; the lost one was never registered.
    expect(atMtn(plain!.body.id).map((t) => t.status)).toEqual(['SUCCESSFUL']);
    expect(atMtn(ambiguous!.body.id).map((t) => t.status)).toEqual(['SUCCESSFUL']);
    expect(atMtn(lost!.body.id)).toEqual([]);

    const paid = await createPayin({ amount: 4_000, customer: { phone: MTN_BJ } }, m.apiKey);
    expect((await reaches('payins', paid.body.id, m.apiKey)).status).toBe('succeeded');
    const refund = await api<Payment & Problem>(stack, 'POST', `/v1/payins/${paid.body.id}/refunds`, {
      key: m.apiKey,
      body: { amount: 4_000 },
    });
    expect(refund.status).toBeLessThan(300);
    expect((await reaches('refunds', refund.body.id, m.apiKey)).status).toBe('succeeded');
    expect(stack.sandbox.mtn.byExternalId(refund.body.id)).toMatchObject({
      product: 'disbursement',
      amountMinor: 4_000,
      party: { partyId: '2290196123456' },
    });
    expect(await balanceOf(stack, m.apiKey)).toMatchObject({ on_hold: 0 });
    await expectBalancedLedger(stack.pool);
  });

  it('every other scenario: late callback, HTTP 500, slow answer, never approved, expired; transfers 502 after executing, funds low, pending forever', async () => {
    const m = await createMerchant(stack.pool, `MTN scenarios ${Date.now()}`);
    await fundMerchant(stack, m.apiKey, [40_000]);
    const payins = await Promise.all(
      [6004, 6007, 6008, 6009, 6010].map((amount) => createPayin({ amount }, m.apiKey)),
    );
    const payouts = await Promise.all(
      [6103, 6104, 6105].map((amount) =>
        api<Payment & Problem>(stack, 'POST', '/v1/payouts', {
          key: m.apiKey,
          body: { amount, currency: 'XOF', recipient: { phone: MTN_BJ } },
        }),
      ),
    );
    const endedPayins = await Promise.all(payins.map((p) => reaches('payins', p.body.id, m.apiKey)));
    const [late, failedCreate, slow, never, expired] = endedPayins;
    expect(late!.status).toBe('succeeded');
    expect(slow!.status).toBe('succeeded');
    expect(never!.status).toBe('expired');
    expect([expired!.status, expired!.failure?.code]).toEqual(['expired', 'expired']);
    // MTN answered 500 and registered nothing: never succeeded, and nothing at MTN to pay.
    expect(failedCreate!.status).not.toBe('succeeded');
    expect(stack.sandbox.mtn.byExternalId(payins[1]!.body.id)).toBeUndefined();
    const endedPayouts = await Promise.all(payouts.map((p) => reaches('payouts', p.body.id, m.apiKey)));
    expect(endedPayouts.map((p) => [p.status, p.failure?.code ?? null])).toEqual([
      ['succeeded', null],
      ['failed', 'insufficient_funds'],
      ['unknown', 'operator_outcome_unknown'],
    ]);
    expect(await balanceOf(stack, m.apiKey)).toMatchObject({ on_hold: 6_105 });
    await expectBalancedLedger(stack.pool);
  });
});
