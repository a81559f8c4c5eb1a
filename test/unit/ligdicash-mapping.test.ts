import { describe, expect, it } from 'vitest';
import { LigdicashOperator } from '../../operators/ligdicash/adapter.js';
import {
  mapPayinStatus,
  mapPayoutStatus,
  parseSubCode,
  payinFailure,
  payoutFailure,
  topUpWalletFlag,
} from '../../operators/ligdicash/mapping.js';

describe('LigdiCash status words', () => {
  it.each([
    ['completed', undefined, 'succeeded'],
    ['pending', undefined, 'pending'],
    ['notcompleted', undefined, 'cancelled'],
    ['nocompleted', undefined, 'cancelled'],
    ['notcompleted', 'Echec (Code04)', 'failed'],
    ['nocompleted', 'Echec (Code13)', 'failed'],
    ['COMPLETED', undefined, 'succeeded'],
    ['something-new', undefined, 'unknown'],
    [undefined, undefined, 'unknown'],
  ])('%s with %s is %s', (status, text, ours) => {
    expect(mapPayinStatus(status, text).status).toBe(ours);
  });

  it('keeps the operator words in the failure', () => {
    const f = mapPayinStatus('nocompleted', 'Echec (Code04)', 'Solde insuffisant').failure!;
    expect(f.code).toBe('operator_processing_failed');
    expect(f.message).toContain('Echec (Code04)');
    expect(f.message).toContain('Solde insuffisant');
  });
});

describe('LigdiCash error sub-codes', () => {
  it.each([
    ['Echec (Code00)', '00', 'operator_authentication_failed'],
    ['Echec (Code02)', '02', 'invalid_amount'],
    ['Echec (Code07)', '07', 'network_not_configured'],
    ['Echec (Code03a)', '03a', 'operator_declined'],
    ['Echec(code 11)', '11', 'operator_hash_invalid'],
    ['Erreur inconnue', undefined, 'operator_declined'],
  ])('%s -> sub-code %s -> %s', (text, sub, code) => {
    expect(parseSubCode(text)).toBe(sub);
    expect(payinFailure(text, undefined).code).toBe(code);
  });
});

describe('LigdiCash callbacks', () => {
  const adapter = new LigdicashOperator({
    baseUrl: 'http://127.0.0.1:1/ligdicash/pay/v01/',
    apiKey: 'k',
    apiToken: 't',
    httpTimeoutMs: 1000,
    storeName: 'S',
    storeUrl: 'http://s',
  });
  const json = {
    date: '2023-10-29 09:46:27+00',
    method: 'post',
    response_code: '00',
    response_text: null,
    token: '',
    montant: '100',
    status: 'completed',
    custom_data: [
      { id_invoice: 1, keyof_customdata: 'order_id', valueof_customdata: 'X' },
      { id_invoice: 1, keyof_customdata: 'transaction_id', valueof_customdata: 'pay_abc' },
    ],
    operator_name: 'ORANGE BURKINA',
    transaction_id: 'pay_abc',
    hash: '8bd5dc60ef2d75641fa311fbb44c5067e0040a17',
  };

  it('reads the JSON body', () => {
    const r = adapter.parseCallback({
      method: 'POST',
      query: {},
      contentType: 'application/json',
      rawBody: JSON.stringify(json),
    });
    expect(r.ok && r.callback).toMatchObject({
      paymentId: 'pay_abc',
      reportedStatus: 'succeeded',
      amount: 100,
      operatorReference: undefined,
    });
  });

  it('reads the form body, custom_data as a JSON string, to the same event key', () => {
    const form = new URLSearchParams({
      ...Object.fromEntries(
        Object.entries(json).map(([k, v]) => [
          k,
          v === null ? '' : typeof v === 'string' ? v : JSON.stringify(v),
        ]),
      ),
      transaction_id: '',
    });
    const fromForm = adapter.parseCallback({
      method: 'POST',
      query: {},
      contentType: 'application/x-www-form-urlencoded',
      rawBody: form.toString(),
    });
    const fromJson = adapter.parseCallback({
      method: 'POST',
      query: {},
      contentType: 'application/json',
      rawBody: JSON.stringify(json),
    });
    expect(fromForm.ok && fromForm.callback.paymentId).toBe('pay_abc');
    expect(fromForm.ok && fromJson.ok && fromForm.callback.eventKey === fromJson.callback.eventKey).toBe(
      true,
    );
  });

  it('refuses what it cannot read', () => {
    expect(
      adapter.parseCallback({ method: 'POST', query: {}, contentType: 'text/plain', rawBody: 'hello' }).ok,
    ).toBe(false);
    expect(
      adapter.parseCallback({
        method: 'POST',
        query: {},
        contentType: 'application/json',
        rawBody: '{"status":"completed"}',
      }),
    ).toEqual({
      ok: false,
      reason: 'no transaction_id in the callback',
    });
    expect(
      adapter.parseCallback({ method: 'POST', query: {}, contentType: 'application/json', rawBody: '[1,2]' })
        .ok,
    ).toBe(false);
  });

  it('reports an unreadable amount as absent rather than guessing', () => {
    const r = adapter.parseCallback({
      method: 'POST',
      query: {},
      contentType: 'application/json',
      rawBody: JSON.stringify({ ...json, montant: '100.5' }),
    });
    expect(r.ok && r.callback.amount).toBeUndefined();
  });
});

describe('LigdiCash payin validation', () => {
  const adapter = new LigdicashOperator({
    baseUrl: 'http://x/',
    apiKey: 'k',
    apiToken: 't',
    httpTimeoutMs: 1,
    storeName: 'S',
    storeUrl: 'http://s',
  });
  const base = { description: 'd', customer: { phone: '22676000000' } };
  it.each([
    [
      { amount: { amount: 100, currency: 'EUR' as const }, mode: 'redirect' as const },
      'currency_not_supported',
    ],
    [{ amount: { amount: 100, currency: 'XOF' as const }, mode: 'redirect' as const }, undefined],
    [
      {
        amount: { amount: 100, currency: 'XOF' as const },
        mode: 'direct' as const,
        network: 'orange_bf' as const,
      },
      'otp_required',
    ],
    [
      {
        amount: { amount: 5, currency: 'XOF' as const },
        mode: 'direct' as const,
        network: 'orange_bf' as const,
        otp: '1',
      },
      'amount_out_of_range',
    ],
    [
      {
        amount: { amount: 2_000_001, currency: 'XOF' as const },
        mode: 'direct' as const,
        network: 'orange_bf' as const,
        otp: '1',
      },
      'amount_out_of_range',
    ],
    [
      {
        amount: { amount: 50, currency: 'XOF' as const },
        mode: 'direct' as const,
        network: 'moov_bf' as const,
      },
      'amount_out_of_range',
    ],
    [
      {
        amount: { amount: 500, currency: 'XOF' as const },
        mode: 'direct' as const,
        network: 'telecel_bf' as const,
      },
      'network_not_supported',
    ],
    [
      {
        amount: { amount: 500, currency: 'XOF' as const },
        mode: 'direct' as const,
        network: 'moov_bf' as const,
      },
      undefined,
    ],
  ])('%j -> %s', (req, code) => {
    expect(adapter.validatePayin({ ...base, ...req })?.code).toBe(code);
  });
});

describe('LigdiCash payouts', () => {
  const adapter = new LigdicashOperator({
    baseUrl: 'http://x/',
    apiKey: 'k',
    apiToken: 't',
    httpTimeoutMs: 1,
    storeName: 'S',
    storeUrl: 'http://s',
  });

  it('keeps the client and merchant sub-code enums apart', () => {
    expect(payoutFailure(true, 'Echec (Code02)', undefined).code).toBe('recipient_unknown');
    expect(payoutFailure(false, 'Echec (Code02)', undefined).code).toBe('amount_out_of_range');
    expect(payoutFailure(true, 'Echec (Code04)', undefined).code).toBe('operator_balance_low');
    expect(payoutFailure(false, 'Echec (Code04)', undefined).code).toBe('recipient_payout_pending');
    expect(payoutFailure(true, 'Echec (Code03a)', undefined).code).toBe('recipient_payout_pending');
    expect(payoutFailure(false, 'Echec (Code08)', undefined).code).toBe('operator_balance_low');
    expect(payoutFailure(false, 'Echec (Code05)', undefined).code).toBe('recipient_network_unknown');
    expect(payoutFailure(true, 'Echec (Code05)', undefined).code).toBe('amount_out_of_range');
  });

  it.each([
    ['completed', 'succeeded'],
    ['pending', 'pending'],
    ['nocompleted', 'failed'],
    ['notcompleted', 'failed'],
    ['weird', 'unknown'],
  ])('payout status %s is %s (a payout is never "cancelled")', (word, ours) => {
    expect(mapPayoutStatus(word, false, undefined).status).toBe(ours);
  });

  it.each([
    [499, 'mobile_money', 'amount_below_minimum'],
    [500, 'mobile_money', undefined],
    [1_000_000, 'mobile_money', undefined],
    [1_000_001, 'mobile_money', 'amount_above_maximum'],
    [1_000_001, 'wallet', undefined],
  ] as const)('%i XOF by %s -> %s', (amount, method, code) => {
    expect(adapter.validatePayout({ amount: { amount, currency: 'XOF' }, method })?.code).toBe(code);
  });

  it('maps top_up_wallet as the complement says (0 stays in the wallet, 1 forwards)', () => {
    expect(topUpWalletFlag('wallet')).toBe(0);
    expect(topUpWalletFlag('wallet_to_mobile_money')).toBe(1);
  });

  it('accepts a payout callback whose token differs from the creation token, but not a payin one', () => {
    const cb = {
      reportedStatus: 'succeeded' as const,
      operatorStatus: 'completed',
      eventKey: 'k',
      fields: {},
      operatorReference: 'other',
    };
    expect(
      adapter.callbackReferenceMatches({ kind: 'payout', paymentId: 'pay_x', operatorReference: 'mine' }, cb),
    ).toBe(true);
    expect(
      adapter.callbackReferenceMatches({ kind: 'payin', paymentId: 'pay_x', operatorReference: 'mine' }, cb),
    ).toBe(false);
    expect(
      adapter.callbackReferenceMatches(
        { kind: 'payin', paymentId: 'pay_x', operatorReference: 'mine' },
        { ...cb, operatorReference: undefined },
      ),
    ).toBe(true);
  });
});
