import { describe, expect, it } from 'vitest';
import { NETWORK_CODES, NUMBERING_PLANS } from '../../lib/networks.js';
import { parseMsisdn } from '../../lib/phone.js';
import { DEFAULT_ROUTES, chooseRoutes } from '../../lib/routing.js';

describe('default routing table, derived from the operator table', () => {
  it('routes each network to the operators that carry it, in the table order', () => {
    const ligdicashOnly = { payin: ['ligdicash'], payout: ['ligdicash'] };
    // The network's own operator first, LigdiCash (an aggregator) as the fallback where it serves.
    const direct = (operator: string) => ({ payin: [operator], payout: [operator] });
    const thenLigdicash = (operator: string) => ({
      payin: [operator, 'ligdicash'],
      payout: [operator, 'ligdicash'],
    });
    expect(DEFAULT_ROUTES).toEqual({
      togocel_tg: { payin: ['tmoney', 'paygate'], payout: ['tmoney', 'paygate'] },
      moov_tg: { payin: ['paygate'], payout: ['paygate'] },
      orange_bf: ligdicashOnly,
      moov_bf: ligdicashOnly,
      orange_ci: thenLigdicash('orange'),
      moov_ci: ligdicashOnly,
      mtn_ci: thenLigdicash('mtn'),
      mtn_bj: thenLigdicash('mtn'),
      moov_bj: ligdicashOnly,
      orange_ml: thenLigdicash('orange'),
      orange_sn: direct('orange'),
      orange_cm: direct('orange'),
      orange_gn: direct('orange'),
      mtn_cm: direct('mtn'),
      mtn_gh: direct('mtn'),
      mtn_gn: direct('mtn'),
    });
  });
});

describe('Togo routing table', () => {
  const togocel = ['70', '71', '72', '90', '91', '92', '93'];
  const moov = ['78', '79', '96', '97', '98', '99'];
  it.each([
    ...togocel.map((p) => [p, 'togocel_tg', ['tmoney', 'paygate']]),
    ...moov.map((p) => [p, 'moov_tg', ['paygate']]),
  ] as [string, string, string[]][])('+228 %s… is %s, routed to %j', (prefix, network, routes) => {
    const parsed = parseMsisdn(`+228${prefix}123456`);
    expect(parsed.ok && parsed.value.network).toBe(network);
    expect(chooseRoutes({ network: network as 'togocel_tg', kind: 'payin' })).toEqual({ ok: true, routes });
    expect(chooseRoutes({ network: network as 'togocel_tg', kind: 'payout' })).toEqual({ ok: true, routes });
  });

  it('knows every prefix of the Togo plan and nothing else', () => {
    expect(Object.keys(NUMBERING_PLANS.TG.prefixes).sort()).toEqual([...togocel, ...moov].sort());
    const unknown = parseMsisdn('+22822123456');
    expect(unknown.ok && unknown.value.network).toBeUndefined();
  });

  it.each([
    ['+2289011223', 'has 8 digits'],
    ['+228901122334', 'has 8 digits'],
    ['+33612345678', 'country not supported'],
    ['+1 202 555 0100', 'country not supported'],
    ['90112233', 'country not supported'],
  ])('refuses %s (%s)', (input, reason) => {
    const parsed = parseMsisdn(input);
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.reason).toContain(reason);
  });

  it('honours an explicit operator only when it serves the network and the merchant allows it', () => {
    expect(chooseRoutes({ network: 'togocel_tg', kind: 'payin', operator: 'paygate' })).toEqual({
      ok: true,
      routes: ['paygate'],
    });
    expect(chooseRoutes({ network: 'moov_tg', kind: 'payin', operator: 'tmoney' })).toMatchObject({
      ok: false,
      code: 'network_not_served',
    });
    expect(chooseRoutes({ network: 'togocel_tg', kind: 'payin', operator: 'ligdicash' })).toMatchObject({
      ok: false,
      code: 'network_not_served',
    });
    expect(
      chooseRoutes({ network: 'togocel_tg', kind: 'payin', operator: 'tmoney', merchantRoutes: ['paygate'] }),
    ).toMatchObject({
      ok: false,
      code: 'operator_not_allowed',
    });
    expect(
      chooseRoutes({ network: 'togocel_tg', kind: 'payin', merchantRoutes: ['paygate', 'tmoney'] }),
    ).toEqual({
      ok: true,
      routes: ['paygate', 'tmoney'],
    });
    expect(chooseRoutes({ network: 'moov_tg', kind: 'payin', merchantRoutes: ['tmoney'] })).toMatchObject({
      ok: false,
      code: 'no_route',
    });
    const unserved = NETWORK_CODES.find((n) => !(n in DEFAULT_ROUTES))!;
    expect(chooseRoutes({ network: unserved, kind: 'payin' })).toMatchObject({
      ok: false,
      code: 'network_not_served',
    });
    expect(chooseRoutes({ network: undefined, kind: 'payin' })).toEqual({ ok: true, routes: ['ligdicash'] });
  });
});
