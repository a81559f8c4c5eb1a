import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  MoneyError,
  addMoney,
  formatMoney,
  money,
  parseMajorUnits,
  subtractMoney,
  toMajorUnitString,
} from '../../lib/money.js';

describe('money', () => {
  it('refuses non-integer amounts and unknown currencies', () => {
    expect(() => money(10.5, 'XOF')).toThrow(MoneyError);
    expect(() => money(Number.MAX_SAFE_INTEGER + 1, 'XOF')).toThrow(MoneyError);
    expect(() => money(1, 'ABC' as 'XOF')).toThrow(MoneyError);
    expect(() => addMoney(money(1, 'XOF'), money(1, 'EUR'))).toThrow(/currency mismatch/);
  });

  it('prints major units exactly', () => {
    expect(toMajorUnitString(money(5000, 'XOF'))).toBe('5000');
    expect(toMajorUnitString(money(150, 'EUR'))).toBe('1.50');
    expect(toMajorUnitString(money(5, 'EUR'))).toBe('0.05');
    expect(toMajorUnitString(money(-5, 'EUR'))).toBe('-0.05');
    expect(formatMoney(money(1000, 'XOF'))).toBe('1000 XOF');
  });

  it('parses operator amounts only when exact in the currency', () => {
    expect(parseMajorUnits('100', 'XOF')).toBe(100);
    expect(parseMajorUnits('100.00', 'XOF')).toBe(100);
    expect(parseMajorUnits(100, 'XOF')).toBe(100);
    expect(parseMajorUnits('100.5', 'XOF')).toBeUndefined();
    expect(parseMajorUnits('1.5', 'EUR')).toBe(150);
    expect(parseMajorUnits('1.555', 'EUR')).toBeUndefined();
    expect(parseMajorUnits('1e3', 'XOF')).toBeUndefined();
    expect(parseMajorUnits('', 'XOF')).toBeUndefined();
  });

  it('round-trips minor units through major-unit text (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: -1e12, max: 1e12 }),
        fc.constantFrom('XOF', 'EUR', 'GHS'),
        (amount, currency) => {
          const m = money(amount, currency);
          expect(parseMajorUnits(toMajorUnitString(m), currency)).toBe(amount);
        },
      ),
    );
  });

  it('adds and subtracts without drift (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 1e12 }), fc.integer({ min: 0, max: 1e12 }), (a, b) => {
        const sum = addMoney(money(a, 'XOF'), money(b, 'XOF'));
        expect(subtractMoney(sum, money(b, 'XOF')).amount).toBe(a);
      }),
    );
  });
});
