import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openCallbackRequest } from '../../db/callbacks.js';
import { createMerchant } from '../../db/merchants.js';
import { openPhone } from '../../db/personal-vault.js';
import { cardVaultRing } from '../../lib/config.js';
import { DEV_TMONEY_NOTIFICATION_TOKEN } from '../../lib/operator-settings/tmoney.js';
import { fundMerchant } from '../support/money.js';
import {
  api,
  eventually,
  payinReaches,
  startStack,
  type PayinBody,
  type TestStack,
} from '../support/stack.js';

/**
 * Issue 19, "Card data": no phone number and no OTP in any log or in any database column
 * outside the vault. Every way a number comes in (the merchant's payin, payout, refund and
 * transfer; the payer on the operator's page, reported back by its callback; an OTP; an
 * operator's notification with the number in its query string) and every table searched for it.
 */
let stack: TestStack;
const logLines: string[] = [];

beforeAll(async () => {
  stack = await startStack({ logs: { write: (line: string) => void logLines.push(line) } });
});
afterAll(async () => {
  await stack?.stop();
});

/**
 * The tables outside the vault (their columns as text; bytea as hex) that hold any of the texts.
 * The vault's own tables hold ciphertext, whose hex may spell any digits by chance.
 */
async function tablesHolding(texts: string[]): Promise<string[]> {
  const { rows: tables } = await stack.pool.query<{ table_name: string }>(
    `SELECT table_name FROM information_schema.tables
      WHERE table_schema = 'public' AND table_type = 'BASE TABLE' AND table_name NOT IN ('card_vault', 'personal_vault')`,
  );
  const patterns = texts.flatMap((t) => [`%${t}%`, `%${Buffer.from(t).toString('hex')}%`]);
  const found: string[] = [];
  for (const { table_name: table } of tables) {
    const { rows } = await stack.pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM "${table}" t WHERE t::text LIKE ANY($1::text[])`,
      [patterns],
    );
    if (rows[0]!.n > 0) found.push(table);
  }
  return found;
}

describe('personal data', () => {
  it('no phone number or OTP in any table outside the vault, nor in any log line; the API shows numbers masked', async () => {
    const ring = cardVaultRing(stack.config);
    const m = await createMerchant(stack.pool, 'Personal data');
    const key = m.apiKey;

    // 1. A payin paid on the operator's page by 22676000001 (the callback reports the number).
    const [paid] = await fundMerchant(stack, key, [20_000]);
    const payer = await api<PayinBody & { customer: { phone?: string } }>(
      stack,
      'GET',
      `/v1/payins/${paid}`,
      {
        key,
      },
    );
    expect(payer.body.customer.phone).toBe('+226******01');

    // 2. A direct payin with an OTP (Orange Burkina).
    const otpPhone = '+22676123459';
    const ussd = await fetch(`${stack.sandboxUrl}/ligdicash/_sandbox/otp`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ customer: otpPhone, amount: 3000 }),
    });
    const { otp } = (await ussd.json()) as { otp: string };
    const direct = await api<PayinBody & { customer: { phone?: string } }>(stack, 'POST', '/v1/payins', {
      key,
      body: { amount: 3000, currency: 'XOF', mode: 'direct', customer: { phone: otpPhone }, otp },
    });
    expect(direct.status).toBe(201);
    expect(direct.body.customer.phone).toBe('+226******59');
    const directDone = await payinReaches(
      { ...stack, merchant: { ...stack.merchant, apiKey: key } },
      direct.body.id,
      ['succeeded', 'failed', 'expired'],
    );
    expect(directDone.status).toBe('succeeded');
    // The vault opens the payer's number for whoever holds the key ring.
    const { rows: stored } = await stack.pool.query<{
      customer: { phoneToken: string; phoneMasked: string };
    }>('SELECT customer FROM payments WHERE id = $1', [direct.body.id]);
    expect(stored[0]!.customer.phoneMasked).toBe('+226******59');
    expect(await openPhone(stack.pool, ring, stored[0]!.customer.phoneToken)).toBe(otpPhone);
    // The OTP was forgotten once used, vault included: no OTP is left in the vault without its payin.
    const { rowCount: payinOtp } = await stack.pool.query(
      'SELECT 1 FROM payin_authorisations WHERE payment_id = $1',
      [direct.body.id],
    );
    expect(payinOtp).toBe(0);
    const { rowCount: orphans } = await stack.pool.query(
      `SELECT 1 FROM personal_vault v WHERE kind = 'otp'
          AND NOT EXISTS (SELECT 1 FROM payin_authorisations a WHERE a.otp_token = v.token)`,
    );
    expect(orphans).toBe(0);

    // 3. A payout, and 4. a refund to the payer of payin 1.
    const payoutPhone = '+22676555123';
    const payout = await api<{ id: string; recipient: { phone: string } }>(stack, 'POST', '/v1/payouts', {
      key,
      body: { amount: 1_000, currency: 'XOF', recipient: { phone: payoutPhone } },
    });
    expect(payout.status).toBe(201);
    expect(payout.body.recipient.phone).toBe('+226******23');
    const refund = await api<{ id: string; recipient: { phone: string } }>(
      stack,
      'POST',
      `/v1/payins/${paid}/refunds`,
      { key, body: { amount: 500 } },
    );
    expect(refund.status).toBe(201);
    for (const [path, id] of [
      ['payouts', payout.body.id],
      ['refunds', refund.body.id],
    ] as const) {
      await eventually(`${path} ${id} ended`, async () => {
        const res = await api<{ status: string }>(stack, 'GET', `/v1/${path}/${id}`, { key });
        return res.body.status === 'succeeded' ? true : undefined;
      });
    }
    // Sent to the operator in full: the vault opened them for the send.
    expect(stack.sandbox.ligdicash.payouts.findByTransactionId(refund.body.id)[0]!.customer).toBe(
      '22676000001',
    );
    expect(stack.sandbox.ligdicash.payouts.findByTransactionId(payout.body.id)[0]!.customer).toBe(
      '22676555123',
    );

    // 5. A transfer from a Togocel number to a Moov Togo number.
    const sender = '+22890456781';
    const recipient = '+22897456782';
    const transfer = await api<{ id: string; sender: { phone: string }; recipient: { phone: string } }>(
      stack,
      'POST',
      '/v1/transfers',
      {
        key,
        body: { amount: 2_000, currency: 'XOF', sender: { phone: sender }, recipient: { phone: recipient } },
      },
    );
    expect(transfer.status).toBe(201);
    expect(transfer.body.sender.phone).toBe('+228******81');
    expect(transfer.body.recipient.phone).toBe('+228******82');
    const transferDone = await eventually(
      'the transfer ended',
      async () => {
        const res = await api<{ status: string }>(stack, 'GET', `/v1/transfers/${transfer.body.id}`, { key });
        return ['completed', 'refunded', 'failed', 'needs_review'].includes(res.body.status)
          ? res.body
          : undefined;
      },
      45_000,
    );
    expect(transferDone.status).toBe('completed');

    // 6. An operator's notification with a number in its query string (TMoney's is a GET).
    const queryPhone = '22890654321';
    const notified = await fetch(
      `${stack.apiUrl}/v1/callbacks/tmoney/${DEV_TMONEY_NOTIFICATION_TOKEN}?${new URLSearchParams({
        purchaseref: 'pay_aaaaaaaaaaaaaaaaaaaaaaaa',
        amount: '100',
        currency: '952',
        status: 'OK',
        error: '',
        payid: '1',
        paymentref: 'x',
        mobile: queryPhone,
        clientid: '',
        cname: '',
        timestamp: '1',
      }).toString()}`,
    );
    const { id: callbackId } = (await notified.json()) as { id: number };
    expect((await openCallbackRequest(stack.pool, ring, callbackId))!.query).toContain(
      `mobile=${queryPhone}`,
    );

    // 7. TMoney's online payment: a form the payer's browser posts, pre-filled with the number.
    const online = await api<{
      id: string;
      next_action: {
        type: string;
        fields: Record<string, string>;
        redirect_url: string;
        payer_number_field?: string;
      };
    }>(stack, 'POST', '/v1/payins', {
      key,
      body: { amount: 1_500, currency: 'XOF', customer: { phone: '+22890777111' } },
    });
    expect(online.status).toBe(201);
    expect(online.body.next_action).toMatchObject({ type: 'form_post', payer_number_field: 'phonennumber' });
    expect(online.body.next_action.fields).not.toHaveProperty('phonennumber');
    // Our page that posts the form adds it, from the vault.
    const formPage = await (await fetch(online.body.next_action.redirect_url)).text();
    expect(formPage).toContain('name="phonennumber" value="22890777111"');

    // 8. MTN, whose status answers name the payer (payer.partyId): a payin and a payout.
    const mtnPayin = await api<{ id: string }>(stack, 'POST', '/v1/payins', {
      key,
      body: { amount: 2_000, currency: 'XOF', mode: 'direct', customer: { phone: '+2250501234568' } },
    });
    const mtnPayout = await api<{ id: string }>(stack, 'POST', '/v1/payouts', {
      key,
      body: { amount: 1_000, currency: 'XOF', recipient: { phone: '+2290196123457' } },
    });
    for (const [path, id] of [
      ['payins', mtnPayin.body.id],
      ['payouts', mtnPayout.body.id],
    ] as const) {
      await eventually(
        `${path} ${id} ended`,
        async () => {
          const res = await api<{ status: string }>(stack, 'GET', `/v1/${path}/${id}`, { key });
          return res.body.status === 'succeeded' ? true : undefined;
        },
        30_000,
      );
    }

    // Every number by its national digits, and the OTP: in no table but the vault, in no log line.
    const secrets = [
      '76000001',
      '76123459',
      '76555123',
      '90456781',
      '97456782',
      '90654321',
      '0501234568',
      '0196123457',
      '90777111',
    ];
    expect(await tablesHolding(secrets)).toEqual([]);
    // The search finds what is there: the masked numbers, in the payments and the transfers.
    expect(await tablesHolding(['******59', '******82'])).toEqual(
      expect.arrayContaining(['payments', 'transfers']),
    );
    expect(await tablesHolding([`"${otp}"`, `'${otp}'`])).toEqual([]);
    const logs = logLines.join('');
    expect(logs).toContain(direct.body.id);
    for (const secret of secrets) expect(logs, secret).not.toContain(secret);
  });
});
