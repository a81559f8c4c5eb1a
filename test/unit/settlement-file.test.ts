import { describe, expect, it } from 'vitest';
import { OPERATOR_TABLE } from '../../lib/operators.js';
import {
  locateColumns,
  normaliseHeader,
  parseExportAmount,
  readExportLine,
} from '../../lib/settlement-file.js';

describe("reading an operator's export", () => {
  it.each([
    ['5000', 5000],
    ['5 000', 5000],
    ['5\u202f000', 5000],
    ['5\u00a0000,00', 5000],
    ['5.000', 5000],
    ['5,000', 5000],
    ['5000.00', 5000],
    ['1 234 567', 1234567],
    ['1,5', undefined],
    ['5000.50', undefined],
    ['-100', undefined],
    ['abc', undefined],
    ['', undefined],
  ])('amount %j is %s', (text, amount) => {
    expect(parseExportAmount(text)).toBe(amount);
  });

  it('matches headers without case, accents or punctuation', () => {
    expect(normaliseHeader('  Référence  Marchand ')).toBe('reference marchand');
    expect(normaliseHeader('Statut:')).toBe('statut');
  });

  it('names the fields no header gives, and reads a line with its format', () => {
    const format = OPERATOR_TABLE.ligdicash.settlementFile;
    expect(locateColumns(['Date', 'Montant'], format)).toEqual({
      ok: false,
      missing: ['ourReference', 'operatorReference', 'status'],
    });
    const located = locateColumns(
      ['Date', 'Référence marchand', 'Token', 'Type', 'Montant', 'Devise', 'Statut'],
      format,
    );
    expect(located.ok).toBe(true);
    if (!located.ok) return;
    expect(
      readExportLine(
        ['2026-11-22', 'pay_x', 'tok', 'Retrait', '1 000', 'xof', 'completed'],
        located.index,
        format,
      ),
    ).toEqual({
      ourReference: 'pay_x',
      operatorReference: 'tok',
      kind: 'payout',
      amount: 1000,
      currency: 'XOF',
      statusWord: 'completed',
      occurredAt: '2026-11-22',
    });
    expect(readExportLine(['', '', '', '', '', '', ''], located.index, format)).toBeNull();
    expect(
      readExportLine(['d', 'pay_y', 't', 'paiement', '12,5', 'XOF', 'completed'], located.index, format),
    ).toEqual({
      error: 'unreadable amount "12,5"',
    });
  });
});
