import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { from as copyFrom } from 'pg-copy-streams';
import type { SettlementFileLine } from '../lib/settlement-file.js';
import { inTransaction, type Pool, type Queryable } from './pool.js';
import { copyText } from './reconciliation.js';

/** An operator's export uploaded by operations, as stored. */
export interface ReconciliationUpload {
  id: string;
  operator: string;
  sha256: string;
  filename: string | null;
  contentType: string;
  periodStart: Date;
  periodEnd: Date;
  lines: number;
  unreadable: number;
  runId: string | null;
}

type UploadRow = {
  id: string;
  operator: string;
  sha256: string;
  filename: string | null;
  content_type: string;
  period_start: Date;
  period_end: Date;
  lines: string;
  unreadable: string;
  run_id: string | null;
};

function toUpload(r: UploadRow): ReconciliationUpload {
  return {
    id: r.id,
    operator: r.operator,
    sha256: r.sha256,
    filename: r.filename,
    contentType: r.content_type,
    periodStart: r.period_start,
    periodEnd: r.period_end,
    lines: Number(r.lines),
    unreadable: Number(r.unreadable),
    runId: r.run_id,
  };
}

/**
 * Stores an upload's lines as they are read (COPY, memory flat), and the upload once its file's
 * hash is known. The same file for the same operator and period again stores nothing and answers
 * the first upload (`duplicate`).
 */
export async function storeUpload(
  pool: Pool,
  u: {
    id: string;
    operator: string;
    filename: string | null;
    contentType: string;
    periodStart: Date;
    periodEnd: Date;
    /** The file's lines as read, and the hash of its bytes once they are all read. */
    lines: AsyncIterable<SettlementFileLine | { error: string }>;
    sha256: () => string;
  },
): Promise<{ kind: 'stored' | 'duplicate'; upload: ReconciliationUpload }> {
  const counts = { lines: 0, unreadable: 0 };
  const stored = await inTransaction(pool, async (client) => {
    await client.query(
      `INSERT INTO reconciliation_uploads (id, operator, sha256, filename, content_type, period_start, period_end)
       VALUES ($1, $2, $3, $4, $5, $6, $7)`,
      [u.id, u.operator, `pending:${u.id}`, u.filename, u.contentType, u.periodStart, u.periodEnd],
    );
    await pipeline(
      Readable.from(copyText(uploadRows(u.id, u.lines, counts))),
      client.query(
        copyFrom(
          'COPY reconciliation_upload_lines (upload_id, line_no, our_reference, operator_reference, kind, amount, currency, status_word, occurred_at, error) FROM STDIN',
        ),
      ),
    );
    const updated = await client.query<UploadRow>(
      `UPDATE reconciliation_uploads SET sha256 = $2, lines = $3, unreadable = $4
        WHERE id = $1
          AND NOT EXISTS (SELECT 1 FROM reconciliation_uploads o
                           WHERE o.operator = $5 AND o.sha256 = $2 AND o.period_start = $6 AND o.period_end = $7)
        RETURNING *`,
      [u.id, u.sha256(), counts.lines, counts.unreadable, u.operator, u.periodStart, u.periodEnd],
    );
    if (!updated.rows[0]) throw new DuplicateUpload();
    return toUpload(updated.rows[0]);
  }).catch((err: unknown) => {
    if (!(err instanceof DuplicateUpload) && !isUniqueViolation(err)) throw err;
    return undefined;
  });
  if (stored) {
    // Fresh statistics, so that reading the lines back (uploadLines) walks the primary key
    // instead of planning each page of a table the planner has never measured (a bitmap scan and
    // a sort a page: about 0.25 s each, 45 s for a million lines). Best effort: autovacuum would
    // get there later.
    await pool.query('ANALYZE reconciliation_upload_lines').catch(() => undefined);
    return { kind: 'stored', upload: stored };
  }
  const first = await findUpload(pool, {
    operator: u.operator,
    sha256: u.sha256(),
    periodStart: u.periodStart,
    periodEnd: u.periodEnd,
  });
  if (!first) throw new Error('upload neither stored nor found');
  return { kind: 'duplicate', upload: first };
}

class DuplicateUpload extends Error {}

function isUniqueViolation(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === '23505';
}

export async function findUpload(
  db: Queryable,
  q: { operator: string; sha256: string; periodStart: Date; periodEnd: Date },
): Promise<ReconciliationUpload | undefined> {
  const { rows } = await db.query<UploadRow>(
    `SELECT * FROM reconciliation_uploads WHERE operator = $1 AND sha256 = $2 AND period_start = $3 AND period_end = $4`,
    [q.operator, q.sha256, q.periodStart, q.periodEnd],
  );
  return rows[0] && toUpload(rows[0]);
}

export async function getUpload(db: Queryable, id: string): Promise<ReconciliationUpload | undefined> {
  const { rows } = await db.query<UploadRow>('SELECT * FROM reconciliation_uploads WHERE id = $1', [id]);
  return rows[0] && toUpload(rows[0]);
}

export async function setUploadRun(db: Queryable, id: string, runId: string): Promise<void> {
  await db.query('UPDATE reconciliation_uploads SET run_id = $2 WHERE id = $1', [id, runId]);
}

/** An upload's lines in order, a page at a time (a file may have a million). */
export async function* uploadLines(
  db: Queryable,
  uploadId: string,
): AsyncGenerator<SettlementFileLine | { error: string }> {
  let after = 0;
  for (;;) {
    const { rows } = await db.query<{
      line_no: string;
      our_reference: string | null;
      operator_reference: string | null;
      kind: 'payin' | 'payout' | null;
      amount: string | null;
      currency: string | null;
      status_word: string | null;
      occurred_at: string | null;
      error: string | null;
    }>(
      `SELECT * FROM reconciliation_upload_lines WHERE upload_id = $1 AND line_no > $2 ORDER BY line_no LIMIT 5000`,
      [uploadId, after],
    );
    if (!rows.length) return;
    for (const r of rows) {
      yield r.error !== null
        ? { error: r.error }
        : {
            ourReference: r.our_reference ?? '',
            operatorReference: r.operator_reference ?? '',
            kind: r.kind === 'payout' ? 'payout' : 'payin',
            amount: Number(r.amount),
            currency: r.currency ?? '',
            statusWord: r.status_word ?? '',
            occurredAt: r.occurred_at ?? '',
          };
    }
    after = Number(rows[rows.length - 1]!.line_no);
  }
}

/** The hash of an upload's bytes, fed as they stream. */
export function uploadHasher(): { update(chunk: Buffer): void; digest(): string } {
  const hash = createHash('sha256');
  let digest: string | undefined;
  return {
    update: (chunk) => hash.update(chunk),
    digest: () => (digest ??= hash.digest('hex')),
  };
}

/** An upload's lines as COPY rows, counted as they pass. */
async function* uploadRows(
  uploadId: string,
  lines: AsyncIterable<SettlementFileLine | { error: string }>,
  counts: { lines: number; unreadable: number },
) {
  for await (const line of lines) {
    const n = ++counts.lines;
    if ('error' in line) {
      counts.unreadable++;
      yield [uploadId, n, null, null, null, null, null, null, null, line.error];
    } else {
      yield [
        uploadId,
        n,
        line.ourReference,
        line.operatorReference,
        line.kind,
        line.amount,
        line.currency,
        line.statusWord,
        line.occurredAt,
        null,
      ];
    }
  }
}
