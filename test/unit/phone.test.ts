import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  NUMBERING_PLANS,
  networkForNationalNumber,
  type CountryCode,
  type Network,
} from '../../lib/networks.js';
import { PHONE_PATTERN, parseMsisdn } from '../../lib/phone.js';

describe('parseMsisdn', () => {
  it.each([
    ['+22670123456', '22670123456', 'BF', 'moov_bf'],
    ['00226 76 27 57 26', '22676275726', 'BF', 'orange_bf'],
    ['22654000000', '22654000000', 'BF', 'orange_bf'],
    ['+22658123456', '22658123456', 'BF', 'telecel_bf'],
    ['+228 90 11 22 33', '22890112233', 'TG', 'togocel_tg'],
    ['+22897112233', '22897112233', 'TG', 'moov_tg'],
    ['+2250700000000', '2250700000000', 'CI', 'orange_ci'],
    ['+2250500000000', '2250500000000', 'CI', 'mtn_ci'],
    ['+2290145000000', '2290145000000', 'BJ', 'moov_bj'],
    ['+2290146000000', '2290146000000', 'BJ', 'mtn_bj'],
    ['+2290147000000', '2290147000000', 'BJ', 'celtiis_bj'],
    ['+22376000000', '22376000000', 'ML', 'orange_ml'],
    ['+221771234567', '221771234567', 'SN', 'orange_sn'],
  ])('%s is %s on %s (%s)', (input, international, country, network) => {
    const parsed = parseMsisdn(input);
    expect(parsed).toEqual({
      ok: true,
      value: expect.objectContaining({
        international,
        country,
        network,
        e164: `+${international}`,
      }) as unknown,
    });
  });

  it.each([
    ['not a number', 'must be an international number'],
    ['+33612345678', 'country not supported'],
    ['+2267012345', 'has 8 digits'],
    ['+22507000000', 'has 10 digits'],
  ])('%s is refused (%s)', (input, reason) => {
    const parsed = parseMsisdn(input);
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.reason).toContain(reason);
  });
});

describe('numbering plans', () => {
  it('map every Togo prefix of operators-facts.md', () => {
    const expected: Record<string, Network> = {
      '70': 'togocel_tg',
      '71': 'togocel_tg',
      '72': 'togocel_tg',
      '90': 'togocel_tg',
      '91': 'togocel_tg',
      '92': 'togocel_tg',
      '93': 'togocel_tg',
      '78': 'moov_tg',
      '79': 'moov_tg',
      '96': 'moov_tg',
      '97': 'moov_tg',
      '98': 'moov_tg',
      '99': 'moov_tg',
    };
    for (const [prefix, network] of Object.entries(expected)) {
      expect(networkForNationalNumber('TG', `${prefix}000000`)).toBe(network);
    }
    expect(networkForNationalNumber('TG', '22000000')).toBeUndefined();
  });

  it('gives each prefix to one network only in each country', () => {
    for (const country of Object.keys(NUMBERING_PLANS) as CountryCode[]) {
      const prefixes = Object.keys(NUMBERING_PLANS[country].prefixes);
      expect(new Set(prefixes).size).toBe(prefixes.length);
    }
  });
});

describe('PHONE_PATTERN (the API document states it)', () => {
  const pattern = new RegExp(PHONE_PATTERN);
  it('matches every number the parser accepts, whatever its separators', () => {
    const plans = Object.values(NUMBERING_PLANS);
    const sep = fc.constantFrom('', ' ', '.', '-', ' (', ') ');
    fc.assert(
      fc.property(
        fc.constantFrom(...plans),
        fc.constantFrom('+', '00', ''),
        fc.array(fc.integer({ min: 0, max: 9 }), { minLength: 6, maxLength: 12 }),
        fc.array(sep, { minLength: 13, maxLength: 13 }),
        (plan, lead, digits, seps) => {
          const prefix = Object.keys(plan.prefixes)[digits[0]! % Object.keys(plan.prefixes).length]!;
          const national = `${prefix}${digits.join('')}`
            .padEnd(plan.nationalLength, '0')
            .slice(0, plan.nationalLength);
          const number = `${lead}${plan.callingCode}${[...national].map((d, i) => `${seps[i] ?? ''}${d}`).join('')}`;
          if (parseMsisdn(number).ok) expect(pattern.test(number), number).toBe(true);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('refuses what the parser refuses for its shape', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 20 }), (s) => {
        if (pattern.test(s)) expect(s.replace(/[\s.()-]/g, '')).toMatch(/^(\+|00)?\d{8,15}$/);
      }),
      { numRuns: 500 },
    );
    for (const refused of ['not a number', '+33612345678', '+2267012345', '+22507000000']) {
      expect(pattern.test(refused), refused).toBe(false);
    }
  });
});
