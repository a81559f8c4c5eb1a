import { pipeline, type Readable } from 'node:stream';
import { parse as parseCsv } from 'csv-parse';
import ExcelJS from 'exceljs';

/** The export formats operations can upload, by Content-Type. */
export const EXPORT_TYPES = {
  'text/csv': 'csv',
  'application/csv': 'csv',
  'text/plain': 'csv',
  'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet': 'xlsx',
} as const;

export type ExportType = (typeof EXPORT_TYPES)[keyof typeof EXPORT_TYPES];

/**
 * An export's rows as text cells, streamed (a file of a million lines is never held): CSV with
 * `;`, `,` or tab separators (csv-parse), or the first worksheet of an XLSX workbook (exceljs's
 * streaming reader).
 */
export function exportRows(body: Readable, type: ExportType): AsyncIterable<string[]> {
  if (type === 'csv') {
    const records = parseCsv({
      delimiter: [';', ',', '\t'],
      bom: true,
      relax_column_count: true,
      relax_quotes: true,
      skip_empty_lines: true,
      // A file with no line breaks must not become one record held whole in memory.
      max_record_size: 64 * 1024,
    });
    // Every stream of the chain ends on the first error (too large, unreadable), which the
    // reader of `records` then meets.
    pipeline(body, records, () => undefined);
    return records as AsyncIterable<string[]>;
  }
  return worksheetRows(body);
}

async function* worksheetRows(body: Readable): AsyncGenerator<string[]> {
  const workbook = new ExcelJS.stream.xlsx.WorkbookReader(body, {
    worksheets: 'emit',
    sharedStrings: 'cache',
    hyperlinks: 'ignore',
    styles: 'ignore',
  });
  for await (const worksheet of workbook) {
    for await (const row of worksheet) {
      const values = Array.isArray(row.values) ? (row.values as unknown[]).slice(1) : [];
      yield Array.from(values, cellText);
    }
    // The first worksheet is the export; the others (totals, notes) are not read.
    return;
  }
}

/** A spreadsheet cell as the text a CSV export would hold. */
function cellText(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (value instanceof Date) return value.toISOString();
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (typeof value === 'object') {
    const v = value as { richText?: { text: string }[]; text?: unknown; result?: unknown };
    if (v.richText) return v.richText.map((r) => r.text).join('');
    if (v.result !== undefined) return cellText(v.result);
    if (typeof v.text === 'string') return v.text;
  }
  return '';
}
