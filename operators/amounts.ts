import { parseMajorUnits, type CurrencyCode } from '../lib/money.js';

/**
 * An amount as an operator states it, in minor units. A field the operator sent but we cannot
 * read ("1 000", "5000 FCFA") is reported as unreadable, never as absent: an amount check must
 * fail closed (DESIGN.md rule 9).
 */
export function statedAmount(
  value: string | number | null | undefined,
  currency: CurrencyCode,
): { amount?: number; amountUnreadable?: string } {
  if (value === undefined || value === null || (typeof value === 'string' && value.trim() === '')) return {};
  const amount = parseMajorUnits(value, currency);
  return amount === undefined ? { amountUnreadable: String(value).slice(0, 40) } : { amount };
}
