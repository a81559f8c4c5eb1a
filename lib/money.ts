import { z } from 'zod';

/**
 * Money is an integer count of the currency's minor unit (XOF has none: 1 = one franc).
 * Never a float: amounts are added, compared and stored as integers (bigint in PostgreSQL).
 */
export const CURRENCIES = {
  XOF: { exponent: 0, name: 'West African CFA franc', numeric: '952' },
  XAF: { exponent: 0, name: 'Central African CFA franc', numeric: '950' },
  GNF: { exponent: 0, name: 'Guinean franc', numeric: '324' },
  GHS: { exponent: 2, name: 'Ghanaian cedi', numeric: '936' },
  NGN: { exponent: 2, name: 'Nigerian naira', numeric: '566' },
  EUR: { exponent: 2, name: 'Euro', numeric: '978' },
  USD: { exponent: 2, name: 'US dollar', numeric: '840' },
} as const;

export type CurrencyCode = keyof typeof CURRENCIES;
export const CURRENCY_CODES = Object.keys(CURRENCIES) as [CurrencyCode, ...CurrencyCode[]];

export interface Money {
  /** Integer number of minor units. */
  readonly amount: number;
  readonly currency: CurrencyCode;
}

export class MoneyError extends Error {
  override name = 'MoneyError';
}

export const zCurrency = z.enum(CURRENCY_CODES);
export const zMinorUnits = z.number().int().positive().max(Number.MAX_SAFE_INTEGER);

export function isCurrencyCode(code: string): code is CurrencyCode {
  return Object.prototype.hasOwnProperty.call(CURRENCIES, code);
}

export function money(amount: number, currency: CurrencyCode): Money {
  if (!Number.isSafeInteger(amount)) {
    throw new MoneyError(`amount must be a whole number of minor units, got ${amount}`);
  }
  if (!isCurrencyCode(currency)) throw new MoneyError(`unknown currency ${String(currency)}`);
  return { amount, currency };
}

function sameCurrency(a: Money, b: Money): void {
  if (a.currency !== b.currency) throw new MoneyError(`currency mismatch: ${a.currency} vs ${b.currency}`);
}

export function addMoney(a: Money, b: Money): Money {
  sameCurrency(a, b);
  return money(a.amount + b.amount, a.currency);
}

export function subtractMoney(a: Money, b: Money): Money {
  sameCurrency(a, b);
  return money(a.amount - b.amount, a.currency);
}

export function equalsMoney(a: Money, b: Money): boolean {
  return a.currency === b.currency && a.amount === b.amount;
}

/** "1.50" style major-unit string, for operators that want one; exact (no float arithmetic). */
export function toMajorUnitString({ amount, currency }: Money): string {
  const exponent = CURRENCIES[currency].exponent;
  if (exponent === 0) return String(amount);
  const sign = amount < 0 ? '-' : '';
  const digits = String(Math.abs(amount)).padStart(exponent + 1, '0');
  return `${sign}${digits.slice(0, -exponent)}.${digits.slice(-exponent)}`;
}

/**
 * Parses an operator's major-unit amount ("100", "100.00", 100) into minor units. Returns
 * undefined when the text is not an exact amount in that currency (e.g. "100.5" in XOF).
 */
export function parseMajorUnits(value: string | number, currency: CurrencyCode): number | undefined {
  const text = typeof value === 'number' ? String(value) : value.trim();
  const match = /^(-?)(\d+)(?:\.(\d+))?$/.exec(text);
  if (!match) return undefined;
  const [, sign, whole, fraction = ''] = match;
  const exponent = CURRENCIES[currency].exponent;
  const significant = fraction.replace(/0+$/, '');
  if (significant.length > exponent) return undefined;
  const minor = Number(`${whole}${fraction.padEnd(exponent, '0').slice(0, exponent)}`);
  if (!Number.isSafeInteger(minor)) return undefined;
  return sign === '-' ? -minor : minor;
}

export function formatMoney(m: Money): string {
  return `${toMajorUnitString(m)} ${m.currency}`;
}
