import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, eventually, ligdicashControl, startStack, type TestStack } from '../support/stack.js';

/**
 * LigdiCash as its own clients see it: the sandbox driven over raw HTTP as LigdiCash's official
 * SDKs drive it (the requests they send, the answers they expect), and what our API refuses
 * before anything is sent. Sources: ligdicash-api-guide.md, ligdicash-api-complement.md,
 * operators-facts.md.
 */
let stack: TestStack;
beforeAll(async () => {
  stack = await startStack({ worker: false });
});
afterAll(async () => {
  await stack?.stop();
});

type Answer = {
  response_code: string;
  token: string;
  response_text: string | null;
  description?: string;
  status?: string;
  operator_name?: string;
  operator_id?: string;
  wiki?: string;
};

const headers = {
  Apikey: 'sandbox-ligdicash-apikey',
  Authorization: 'Bearer sandbox-ligdicash-token',
  Accept: 'application/json',
  'Content-Type': 'application/json',
};

async function ligdicash(method: 'GET' | 'POST', path: string, body?: unknown): Promise<Answer> {
  const res = await fetch(`${stack.sandboxUrl}/ligdicash/pay/v01/${path}`, {
    method,
    headers,
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  expect(res.status).toBe(200);
  return (await res.json()) as Answer;
}

/** An invoice as the SDKs create it (their default currency spelling is "xof"). */
function invoice(
  kind: 'redirect' | 'straight',
  over: { amount?: number; customer?: string; devise?: string; otp?: string } = {},
) {
  const amount = over.amount ?? 1_500;
  return ligdicash('POST', `${kind}/checkout-invoice/create`, {
    commande: {
      invoice: {
        items: [
          { name: 'Article', description: 'Article', quantity: 1, unit_price: amount, total_price: amount },
        ],
        total_amount: amount,
        devise: over.devise ?? 'XOF',
        description: 'Commande',
        customer: over.customer ?? '',
        customer_firstname: '',
        customer_lastname: '',
        customer_email: '',
        external_id: '',
        otp: over.otp ?? '',
      },
      store: { name: 'Boutique', website_url: 'https://shop.example' },
      actions: { cancel_url: '', return_url: '', callback_url: '' },
      // The guide's examples nest values in custom_data.
      custom_data: { transaction_id: `sdk-${Date.now()}`, order: { id: 42, lines: ['a', 'b'] } },
    },
  });
}

function payout(path: string, customer: string, over: Record<string, unknown> = {}) {
  return ligdicash('POST', path, {
    commande: {
      amount: 1_000,
      devise: 'xof',
      description: 'Remboursement',
      customer,
      custom_data: { transaction_id: `sdk-payout-${Date.now()}-${Math.random()}` },
      callback_url: '',
      ...over,
    },
  });
}

describe('LigdiCash status calls, as the official SDKs read them', () => {
  it('answer response_code "00" for a known invoice whatever its state, the state in status, with a wiki', async () => {
    const created = await invoice('redirect', { devise: 'xof' });
    expect(created.response_code).toBe('00');
    const pending = await ligdicash(
      'GET',
      `redirect/checkout-invoice/confirm/?invoiceToken=${created.token}`,
    );
    expect(pending).toMatchObject({ response_code: '00', status: 'pending' });
    expect(pending.wiki).toMatch(/^https:\/\//);
    await ligdicashControl(stack, created.token, 'cancel');
    const cancelled = await ligdicash(
      'GET',
      `redirect/checkout-invoice/confirm/?invoiceToken=${created.token}`,
    );
    expect(cancelled).toMatchObject({ response_code: '00', status: 'notcompleted' });
  });

  it('answer Echec (Code02), "facture introuvable", for a token LigdiCash does not know', async () => {
    const unknown = await ligdicash('GET', 'redirect/checkout-invoice/confirm/?invoiceToken=not-a-token');
    expect(unknown).toMatchObject({ response_code: '01', response_text: 'Echec (Code02)' });
    const payoutUnknown = await ligdicash('GET', 'withdrawal/confirm/?withdrawalToken=not-a-token');
    expect(payoutUnknown).toMatchObject({ response_code: '01', response_text: 'Echec (Code02)' });
  });

  it('name the network the payer chose on the page (operator_name, operator_id)', async () => {
    const created = await invoice('redirect');
    await ligdicashControl(stack, created.token, 'pay', '+22660123456');
    const paid = await ligdicash('GET', `redirect/checkout-invoice/confirm/?invoiceToken=${created.token}`);
    expect(paid).toMatchObject({ operator_name: 'MOOV BURKINA', operator_id: '12' });
  });
});

describe('LigdiCash creations, as the documents and SDKs send them', () => {
  it('take "xof" in any case and nested custom_data; a direct payin accepted answers an empty response_text', async () => {
    const direct = await invoice('straight', { devise: 'xof', customer: '22660123457' });
    expect(direct).toMatchObject({ response_code: '00', response_text: '' });
    expect(direct.token).not.toBe('');
  });

  it('refuse a Moov Burkina direct payin under 100 XOF (Code02)', async () => {
    const small = await invoice('straight', { amount: 99, customer: '22660123458' });
    expect(small).toMatchObject({ response_code: '01', response_text: 'Echec (Code02)' });
  });

  it('serve merchant payout status at straight/payout/confirm?payoutToken= too, naming the recipient network', async () => {
    const created = await payout('straight/payout', '22660123459');
    expect(created.response_code).toBe('00');
    // Read both paths once the sandbox has executed it: before, the two reads may straddle it.
    const byGuide = await eventually('the payout to be executed', async () => {
      const r = await ligdicash('GET', `withdrawal/confirm/?withdrawalToken=${created.token}`);
      return r.status === 'completed' ? r : undefined;
    });
    const bySdk = await ligdicash('GET', `straight/payout/confirm/?payoutToken=${created.token}`);
    expect(bySdk).toEqual(byGuide);
    expect(bySdk).toMatchObject({ response_code: '00', operator_name: 'MOOV BURKINA', operator_id: '12' });
  });

  it('refuse an invalid payout request without Code08, which means "balance too low" for merchant payouts', async () => {
    const invalid = await payout('straight/payout', '22660123460', {
      amount: 'beaucoup',
      customer: undefined,
    });
    expect(invalid.response_code).toBe('01');
    expect(invalid.response_text).not.toContain('Code08');
  });
});

describe("LigdiCash's test platform", () => {
  it('refuses direct payins and payouts with a clear configuration error before anything is sent', async () => {
    const onTest = await startStack({
      env: { LIGDICASH_BASE_URL: 'https://test.ligdicash.com/pay/v01/' },
      worker: false,
    });
    try {
      const direct = await api<{ code?: string; detail?: string }>(onTest, 'POST', '/v1/payins', {
        key: onTest.merchant.apiKey,
        body: { amount: 1_500, currency: 'XOF', mode: 'direct', customer: { phone: '+22660123461' } },
      });
      expect(direct.status).toBe(422);
      expect(direct.body.detail).toContain('test platform');
      const payoutRefused = await api<{ code?: string; detail?: string }>(onTest, 'POST', '/v1/payouts', {
        key: onTest.merchant.apiKey,
        body: { amount: 1_000, currency: 'XOF', recipient: { phone: '+22660123462' } },
      });
      expect(payoutRefused.status).toBe(422);
      expect(payoutRefused.body.detail).toContain('test platform');
    } finally {
      await onTest.stop();
    }
  });
});
