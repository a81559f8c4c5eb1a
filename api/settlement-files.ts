import { Transform, pipeline, type Readable } from 'node:stream';
import { parse as parseCsv } from 'csv-parse';
import ExcelJS from 'exceljs';
import { storeUpload, uploadHasher, type ReconciliationUpload } from '../db/reconciliation-uploads.js';
import type { Pool } from '../db/pool.js';
import { newId } from '../lib/ids.js';
import { errorSummary } from '../lib/logger.js';
import { OPERATOR_TABLE, type OperatorName } from '../lib/operators.js';
import { locateColumns, readExportLine } from '../lib/settlement-file.js';
import { Problem } from './problems.js';

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

/**
 * Reads an operator's export as it streams (hashed, sized, parsed, read with the operator's
 * column mapping from the operator table) and stores its lines; the same file for the same
 * operator and period answers the first upload. A file that cannot be read is a 400 Problem.
 */
export async function storeExport(
  pool: Pool,
  e: {
    operator: OperatorName;
    body: Readable;
    type: ExportType;
    contentType: string;
    filename: string | null;
    periodStart: Date;
    periodEnd: Date;
    maxBytes: number;
    /** Lines read at most: a compressed workbook may inflate far beyond its bytes (a zip bomb). */
    maxLines: number;
  },
): Promise<{ kind: 'stored' | 'duplicate'; upload: ReconciliationUpload }> {
  const format = OPERATOR_TABLE[e.operator].settlementFile;
  const hasher = uploadHasher();
  let bytes = 0;
  const tap = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      bytes += chunk.length;
      if (bytes > e.maxBytes)
        return done(new Problem('payload-too-large', `An export is at most ${e.maxBytes / 1024 / 1024} MB`));
      hasher.update(chunk);
      done(null, chunk);
    },
  });
  e.body.on('error', (err) => tap.destroy(err));
  const records = exportRows(e.body.pipe(tap), e.type);
  async function* lines() {
    let index: ReturnType<typeof locateColumns> | undefined;
    let count = 0;
    for await (const record of records) {
      if (++count > e.maxLines + 1)
        throw new Problem(
          'payload-too-large',
          `An export has at most ${e.maxLines.toLocaleString('en')} lines`,
        );
      if (!index) {
        index = locateColumns(record, format);
        if (!index.ok) {
          throw new Problem(
            'validation-error',
            `The export's header names no column for ${index.missing.join(', ')} (${e.operator} exports are read as docs/reconciliation.md says)`,
          );
        }
        continue;
      }
      if (!index.ok) return;
      const line = readExportLine(record, index.index, format);
      if (line) yield line;
    }
    if (!index) throw new Problem('validation-error', 'The export is empty');
  }
  // A file the reader cannot make lines of (a broken workbook, a line beyond 64 KB) is the file's fault.
  async function* readable() {
    try {
      yield* lines();
    } catch (err) {
      if (err instanceof Problem) throw err;
      throw new Problem('validation-error', `The export cannot be read: ${errorSummary(err).message}`);
    }
  }
  return storeUpload(pool, {
    id: newId('upl'),
    operator: e.operator,
    filename: e.filename,
    contentType: e.contentType,
    periodStart: e.periodStart,
    periodEnd: e.periodEnd,
    lines: readable(),
    sha256: () => hasher.digest(),
  });
}
