import type { SettlementFileFormat } from './operator-settings/settings.js';

/**
 * Reading an operator's export file (lines already split into cells by a CSV or XLSX reader)
 * with its format from the operator table. Pure: the API streams the file through it.
 */

/** One line of an export, in our words except for the operator's status word. */
export interface SettlementFileLine {
  ourReference: string;
  operatorReference: string;
  kind: 'payin' | 'payout';
  /** Minor units. */
  amount: number;
  currency: string;
  statusWord: string;
  occurredAt: string;
}

type Field = keyof SettlementFileFormat['columns'];

/** A header without case, accents, or punctuation: "Référence  marchand" -> "reference marchand". */
export function normaliseHeader(header: string): string {
  return header
    .normalize('NFD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9_]+/g, ' ')
    .trim();
}

/** Where each field stands in the header row, or the fields no header names. */
export function locateColumns(
  headers: readonly string[],
  format: SettlementFileFormat,
): { ok: true; index: Partial<Record<Field, number>> } | { ok: false; missing: Field[] } {
  const normalised = headers.map(normaliseHeader);
  const index: Partial<Record<Field, number>> = {};
  const missing: Field[] = [];
  for (const [field, names] of Object.entries(format.columns) as [Field, readonly string[] | undefined][]) {
    if (!names) continue;
    const at = normalised.findIndex((h) => names.some((n) => normaliseHeader(n) === h));
    if (at >= 0) index[field] = at;
    else if (field !== 'kind' && field !== 'currency') missing.push(field);
  }
  return missing.length ? { ok: false, missing } : { ok: true, index };
}

/**
 * An amount as exports write it, in whole units of a currency without minor units (XOF): "5000",
 * "5 000" (any space), "5000,00", "5.000" (thousands) or "5000.00". Anything not whole is refused.
 */
export function parseExportAmount(text: string): number | undefined {
  const compact = text.replace(/[\s\u00a0\u202f]/g, '');
  const match = /^(\d{1,3}(?:[.,]\d{3})+|\d+)(?:[.,](\d{1,2}))?$/.exec(compact);
  if (!match) return undefined;
  if (match[2] && Number(match[2]) !== 0) return undefined;
  const whole = Number(match[1]!.replace(/[.,]/g, ''));
  return Number.isSafeInteger(whole) ? whole : undefined;
}

/** A data line in our words, `null` for a blank one, or why it cannot be read. */
export function readExportLine(
  cells: readonly string[],
  index: Partial<Record<Field, number>>,
  format: SettlementFileFormat,
): SettlementFileLine | null | { error: string } {
  if (cells.every((c) => c.trim() === '')) return null;
  const cell = (field: Field) =>
    index[field] === undefined ? undefined : (cells[index[field]] ?? '').trim();
  const ourReference = cell('ourReference');
  const amountText = cell('amount') ?? '';
  const amount = parseExportAmount(amountText);
  const statusWord = cell('status');
  if (!ourReference) return { error: 'no merchant reference' };
  if (amount === undefined) return { error: `unreadable amount "${amountText.slice(0, 40)}"` };
  if (!statusWord) return { error: 'no status' };
  const kindWord = normaliseHeader(cell('kind') ?? '');
  return {
    ourReference,
    operatorReference: cell('operatorReference') ?? '',
    kind: format.payoutKinds.some((k) => normaliseHeader(k) === kindWord) ? 'payout' : 'payin',
    amount,
    currency: (cell('currency') || format.currency).toUpperCase(),
    statusWord,
    occurredAt: cell('date') ?? '',
  };
}
