import { StringDecoder } from 'node:string_decoder';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { from as copyFrom } from 'pg-copy-streams';
import type { Pool, PoolClient, Queryable } from './pool.js';

/**
 * Reconciliation runs and their discrepancies, and the set-based matching of an operator's report
 * (loaded into a temporary table) against our payments and ledger. Everything here is SQL over
 * whole sets: a million report lines are joined, not looped over.
 */
export const DISCREPANCY_CLASSES = [
  'missing_on_our_side',
  'missing_on_operator_side',
  'amount_mismatch',
  'status_mismatch',
  'duplicate_line',
  'ledger_mismatch',
] as const;
export type DiscrepancyClass = (typeof DISCREPANCY_CLASSES)[number];

export interface ReconciliationRun {
  id: string;
  operator: string;
  kind: 'settlement' | 'sweep';
  periodStart: Date | null;
  periodEnd: Date | null;
  status: 'running' | 'completed' | 'failed';
  triggeredBy: string;
  workflowId: string | null;
  linesIngested: number;
  paymentsChecked: number;
  summary: Record<string, number>;
  error: string | null;
  startedAt: Date;
  finishedAt: Date | null;
}

interface RunRow {
  id: string;
  operator: string;
  kind: 'settlement' | 'sweep';
  period_start: Date | null;
  period_end: Date | null;
  status: 'running' | 'completed' | 'failed';
  triggered_by: string;
  workflow_id: string | null;
  lines_ingested: number;
  payments_checked: number;
  summary: Record<string, number>;
  error: string | null;
  started_at: Date;
  finished_at: Date | null;
}

function toRun(r: RunRow): ReconciliationRun {
  return {
    id: r.id,
    operator: r.operator,
    kind: r.kind,
    periodStart: r.period_start,
    periodEnd: r.period_end,
    status: r.status,
    triggeredBy: r.triggered_by,
    workflowId: r.workflow_id,
    linesIngested: r.lines_ingested,
    paymentsChecked: r.payments_checked,
    summary: r.summary,
    error: r.error,
    startedAt: r.started_at,
    finishedAt: r.finished_at,
  };
}

export async function startRun(
  db: Queryable,
  r: {
    id: string;
    operator: string;
    kind: 'settlement' | 'sweep';
    periodStart?: Date;
    periodEnd?: Date;
    triggeredBy: string;
    workflowId?: string;
  },
): Promise<void> {
  // A re-run activity restarts its own run from scratch: its discrepancies are rebuilt.
  await db.query('DELETE FROM reconciliation_discrepancies WHERE run_id = $1', [r.id]);
  await db.query(
    `INSERT INTO reconciliation_runs (id, operator, kind, period_start, period_end, status, triggered_by, workflow_id)
     VALUES ($1, $2, $3, $4, $5, 'running', $6, $7)
     ON CONFLICT (id) DO UPDATE SET status = 'running', error = NULL, started_at = now(), finished_at = NULL,
                                    period_start = EXCLUDED.period_start, period_end = EXCLUDED.period_end,
                                    workflow_id = COALESCE(EXCLUDED.workflow_id, reconciliation_runs.workflow_id)`,
    [
      r.id,
      r.operator,
      r.kind,
      r.periodStart ?? null,
      r.periodEnd ?? null,
      r.triggeredBy,
      r.workflowId ?? null,
    ],
  );
}

/**
 * Records a run the API has just started, so that its `Location` answers at once; its first
 * activity fills in the period (startRun). A run already recorded is left as it is.
 */
export async function announceRun(
  db: Queryable,
  r: { id: string; operator: string; kind: 'settlement' | 'sweep'; triggeredBy: string; workflowId: string },
): Promise<void> {
  await db.query(
    `INSERT INTO reconciliation_runs (id, operator, kind, status, triggered_by, workflow_id)
     VALUES ($1, $2, $3, 'running', $4, $5) ON CONFLICT (id) DO NOTHING`,
    [r.id, r.operator, r.kind, r.triggeredBy, r.workflowId],
  );
}

export async function finishRun(
  db: Queryable,
  r: {
    id: string;
    status: 'completed' | 'failed';
    linesIngested?: number;
    paymentsChecked?: number;
    summary?: Record<string, number>;
    error?: string;
  },
): Promise<void> {
  await db.query(
    `UPDATE reconciliation_runs SET status = $2, lines_ingested = COALESCE($3, lines_ingested), payments_checked = COALESCE($4, payments_checked),
            summary = COALESCE($5::jsonb, summary), error = $6, finished_at = now()
      WHERE id = $1`,
    [
      r.id,
      r.status,
      r.linesIngested ?? null,
      r.paymentsChecked ?? null,
      r.summary ? JSON.stringify(r.summary) : null,
      r.error ?? null,
    ],
  );
}

export async function getRun(db: Queryable, id: string): Promise<ReconciliationRun | undefined> {
  const { rows } = await db.query<RunRow>('SELECT * FROM reconciliation_runs WHERE id = $1', [id]);
  return rows[0] && toRun(rows[0]);
}

export async function listRuns(
  db: Queryable,
  q: { operator?: string; kind?: string; limit: number; beforeStartedAt?: string },
): Promise<ReconciliationRun[]> {
  const { rows } = await db.query<RunRow>(
    `SELECT * FROM reconciliation_runs
      WHERE ($1::text IS NULL OR operator = $1) AND ($2::text IS NULL OR kind = $2)
        AND ($3::timestamptz IS NULL OR started_at < $3)
      ORDER BY started_at DESC LIMIT $4`,
    [q.operator ?? null, q.kind ?? null, q.beforeStartedAt ?? null, q.limit],
  );
  return rows.map(toRun);
}

/** `open`: for a person; `auto_resolved`: a policy acted; `resolved`: a person closed it, with a note. */
export const DISCREPANCY_RESOLUTIONS = ['open', 'auto_resolved', 'resolved'] as const;
export type DiscrepancyResolution = (typeof DISCREPANCY_RESOLUTIONS)[number];

export interface Discrepancy {
  id: number;
  runId: string;
  operator: string;
  class: DiscrepancyClass;
  paymentId: string | null;
  merchantId: string | null;
  ourReference: string | null;
  operatorReference: string | null;
  lineNo: number | null;
  ourAmount: number | null;
  theirAmount: number | null;
  ourStatus: string | null;
  theirStatus: string | null;
  resolution: DiscrepancyResolution;
  action: string | null;
  actionReason: string | null;
  /** Closed by a person: who, when, and their note (it stays in the reports). */
  resolvedBy: string | null;
  resolvedAt: Date | null;
  resolutionNote: string | null;
}

export async function listDiscrepancies(
  db: Queryable,
  q: { runId: string; class?: string; resolution?: string; limit?: number; afterId?: number },
): Promise<Discrepancy[]> {
  const { rows } = await db.query<DiscrepancyRow>(
    `SELECT * FROM reconciliation_discrepancies
      WHERE run_id = $1 AND ($2::text IS NULL OR class = $2) AND ($3::text IS NULL OR resolution = $3) AND ($5::bigint IS NULL OR id > $5)
      ORDER BY id LIMIT $4`,
    [q.runId, q.class ?? null, q.resolution ?? null, q.limit ?? 1000, q.afterId ?? null],
  );
  return rows.map(toDiscrepancy);
}

/**
 * The open discrepancies of a run that an automatic policy may act on (activities/reconciliation/
 * policies.ts): a payin the report shows paid that we ended otherwise, and payments of unknown
 * outcome; never a transfer's leg. The others (most of a large report's) are left for a person
 * without a look-up each.
 */
export async function listPolicyCandidates(
  db: Queryable,
  q: { runId: string; limit?: number; afterId?: number },
): Promise<Discrepancy[]> {
  const { rows } = await db.query<DiscrepancyRow>(
    `SELECT d.* FROM reconciliation_discrepancies d JOIN payments p ON p.id = d.payment_id
      WHERE d.run_id = $1 AND d.resolution = 'open' AND d.class IN ('status_mismatch', 'missing_on_operator_side')
        AND ($3::bigint IS NULL OR d.id > $3) AND p.transfer_id IS NULL
        AND (p.status = 'unknown'
          OR (p.kind = 'payin' AND d.class = 'status_mismatch' AND d.their_status = 'succeeded'
              AND p.status IN ('expired', 'failed', 'cancelled')))
      ORDER BY d.id LIMIT $2`,
    [q.runId, q.limit ?? 1000, q.afterId ?? null],
  );
  return rows.map(toDiscrepancy);
}

function toDiscrepancy(r: DiscrepancyRow): Discrepancy {
  return {
    id: r.id,
    runId: r.run_id,
    operator: r.operator,
    class: r.class,
    paymentId: r.payment_id,
    merchantId: r.merchant_id,
    ourReference: r.our_reference,
    operatorReference: r.operator_reference,
    lineNo: r.line_no,
    ourAmount: r.our_amount,
    theirAmount: r.their_amount,
    ourStatus: r.our_status,
    theirStatus: r.their_status,
    resolution: r.resolution,
    action: r.action,
    actionReason: r.action_reason,
    resolvedBy: r.resolved_by,
    resolvedAt: r.resolved_at,
    resolutionNote: r.resolution_note,
  };
}

type DiscrepancyRow = {
  id: number;
  run_id: string;
  operator: string;
  class: DiscrepancyClass;
  payment_id: string | null;
  merchant_id: string | null;
  our_reference: string | null;
  operator_reference: string | null;
  line_no: number | null;
  our_amount: number | null;
  their_amount: number | null;
  our_status: string | null;
  their_status: string | null;
  resolution: DiscrepancyResolution;
  action: string | null;
  action_reason: string | null;
  resolved_by: string | null;
  resolved_at: Date | null;
  resolution_note: string | null;
};

export async function getDiscrepancy(db: Queryable, id: number): Promise<Discrepancy | undefined> {
  const { rows } = await db.query<DiscrepancyRow>(
    'SELECT * FROM reconciliation_discrepancies WHERE id = $1',
    [id],
  );
  return rows[0] && toDiscrepancy(rows[0]);
}

/**
 * A person closes a discrepancy with a note. Repeating the same note is a no-op; a discrepancy a
 * policy already acted on, or one closed with another note, is not changed.
 */
export async function resolveDiscrepancyByPerson(
  db: Queryable,
  r: { id: number; note: string; resolvedBy: string },
): Promise<
  | { kind: 'resolved'; discrepancy: Discrepancy }
  | { kind: 'not_found' }
  | { kind: 'conflict'; discrepancy: Discrepancy }
> {
  const { rows } = await db.query<DiscrepancyRow>(
    `UPDATE reconciliation_discrepancies
        SET resolution = 'resolved', resolution_note = $2, resolved_by = $3, resolved_at = now()
      WHERE id = $1 AND resolution = 'open'
      RETURNING *`,
    [r.id, r.note, r.resolvedBy],
  );
  if (rows[0]) return { kind: 'resolved', discrepancy: toDiscrepancy(rows[0]) };
  const existing = await getDiscrepancy(db, r.id);
  if (!existing) return { kind: 'not_found' };
  return existing.resolution === 'resolved' && existing.resolutionNote === r.note
    ? { kind: 'resolved', discrepancy: existing }
    : { kind: 'conflict', discrepancy: existing };
}

export async function countDiscrepancies(db: Queryable, runId: string): Promise<number> {
  const { rows } = await db.query<{ n: number }>(
    'SELECT count(*)::int AS n FROM reconciliation_discrepancies WHERE run_id = $1',
    [runId],
  );
  return rows[0]!.n;
}

export async function resolveDiscrepancy(
  db: Queryable,
  id: number,
  action: string,
  reason: string,
): Promise<void> {
  await db.query(
    `UPDATE reconciliation_discrepancies SET resolution = 'auto_resolved', action = $2, action_reason = $3 WHERE id = $1`,
    [id, action, reason],
  );
}

export async function noteDiscrepancy(db: Queryable, id: number, reason: string): Promise<void> {
  await db.query('UPDATE reconciliation_discrepancies SET action_reason = $2 WHERE id = $1', [id, reason]);
}

export async function insertDiscrepancy(
  db: Queryable,
  d: Omit<
    Discrepancy,
    'id' | 'resolution' | 'action' | 'actionReason' | 'resolvedBy' | 'resolvedAt' | 'resolutionNote'
  > & {
    resolution?: 'open' | 'auto_resolved';
    action?: string;
    actionReason?: string;
  },
): Promise<void> {
  await db.query(
    `INSERT INTO reconciliation_discrepancies (run_id, operator, class, payment_id, merchant_id, our_reference, operator_reference,
       line_no, our_amount, their_amount, our_status, their_status, resolution, action, action_reason)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)`,
    [
      d.runId,
      d.operator,
      d.class,
      d.paymentId,
      d.merchantId,
      d.ourReference,
      d.operatorReference,
      d.lineNo,
      d.ourAmount,
      d.theirAmount,
      d.ourStatus,
      d.theirStatus,
      d.resolution ?? 'open',
      d.action ?? null,
      d.actionReason ?? null,
    ],
  );
}

// ------------------------------------------------------------------ the matching

/** One line of an operator's report, in our words, as it is staged (operators/types.ts ReportLine). */
export interface StagedLine {
  ourReference: string;
  operatorReference: string;
  kind: string;
  amount: number;
  currency: string;
  status: string;
  operatorStatus: string;
  occurredAt: string;
}

/** What one settlement run judges: an operator's report for a period, against our payments of some modes. */
export interface SettlementScope {
  runId: string;
  operator: string;
  periodStart: Date;
  periodEnd: Date;
  wholeDay?: boolean;
  /** The modes whose payments the report covers: a live report never judges test payments. */
  livemodes: boolean[];
}

/**
 * Streams an operator's report into a staging table with COPY and classifies it against our
 * payments: memory stays flat whatever the report's size. Returns the number of data lines and
 * the discrepancies found per class.
 *
 * Everything the run records is written in one transaction, on one connection (`main`): a run
 * that fails stores nothing. When the pool has a second connection free at once, the report is
 * staged and classified there (`staging`, which writes nothing but its temporary table) while
 * `main` checks the ledger (which does not read the report) during the COPY, then records the
 * findings in batches as the staging connection computes the next ones. With no connection free,
 * `main` does it all, one step after the other.
 */
export async function ingestSettlementReport(
  pool: Pool,
  report: { body: Readable; parseLine: (line: string) => StagedLine | null | { error: string } },
  run: SettlementScope,
): Promise<{ lines: number; counts: Record<string, number>; timingsMs: Record<string, number> }> {
  const counter = { lines: 0, unreadable: 0 };
  const timingsMs: Record<string, number> = {};
  const timed = async <T>(phase: string, step: () => Promise<T>): Promise<T> => {
    const started = performance.now();
    try {
      return await step();
    } finally {
      timingsMs[phase] = Math.round(performance.now() - started);
    }
  };
  const main = await pool.connect();
  const spare = await spareConnection(pool);
  const staging = spare ?? main;
  /** A statement of `main`'s that may still run when something else fails. */
  let pending: Promise<unknown> | undefined;
  const broken = new Map<PoolClient, Error>();
  try {
    await main.query('BEGIN');
    if (spare) await spare.query('BEGIN');
    for (const client of new Set([main, staging])) {
      // The sort and the hash joins over a whole report (a million lines) fit in memory instead
      // of spilling to disk; compiling statements whose estimated cost is that high (JIT) takes
      // longer than it saves on expressions this simple: for these transactions only.
      await client.query(`SET LOCAL work_mem = '${CLASSIFY_WORK_MEM}'`);
      await client.query('SET LOCAL jit = off');
    }
    await staging.query(`CREATE TEMP TABLE recon_lines (
        line_no bigint NOT NULL, our_reference text, operator_reference text, amount bigint, status text,
        operator_status text, error text
      ) ON COMMIT DROP`);
    // The ledger check reads no report line: on `main` while the report streams into `staging`
    // (after it, when they are one connection), its payments set aside until the COPY is over.
    const findUnposted = () => timed('ledger_find', () => findUnpostedPayments(main, run));
    const found = spare ? findUnposted() : undefined;
    // Awaited after the COPY; a failure meanwhile is not an unhandled rejection.
    found?.catch(() => undefined);
    pending = found;
    await timed('copy', () =>
      pipeline(
        Readable.from(copyChunks(report.body, report.parseLine, counter)),
        staging.query(copyFrom(`COPY recon_lines (${STAGED_COLUMNS}) FROM STDIN`)),
      ),
    );
    await (found ?? findUnposted());
    // Recorded by `main` while `staging` computes the report's first findings.
    const unposted = timed('ledger_record', () => recordUnposted(main, run));
    unposted.catch(() => undefined);
    pending = unposted;
    const counts = await timed('classify', () => classifyStagedReport(staging, main, run, timed));
    counts.ledger_mismatch = await unposted;
    counts.unreadable_lines = counter.unreadable;
    const carried = await timed('carry_resolutions', () => carryPersonResolutions(main, run.runId));
    if (carried) counts.resolved_earlier = carried;
    // The staging connection wrote nothing to keep: its transaction ends, dropping the table (a
    // failure there is no reason to lose the run's findings).
    if (spare)
      await spare.query('ROLLBACK').catch((rollbackError: unknown) => {
        broken.set(spare, rollbackError instanceof Error ? rollbackError : new Error(String(rollbackError)));
      });
    await timed('commit', () => main.query('COMMIT'));
    return { lines: counter.lines, counts, timingsMs };
  } catch (err) {
    report.body.destroy();
    // A statement may still be running on `main`: its end comes before the rollback.
    await pending?.catch(() => undefined);
    for (const client of new Set([main, staging])) {
      await client.query('ROLLBACK').catch((rollbackError: unknown) => {
        broken.set(client, rollbackError instanceof Error ? rollbackError : new Error(String(rollbackError)));
      });
    }
    throw err;
  } finally {
    // A connection whose rollback failed may still hold a transaction: destroyed, not reused.
    main.release(broken.get(main));
    spare?.release(broken.get(spare));
  }
}

/** Memory for the classification's sort and hash joins (one transaction at a time per run). */
const CLASSIFY_WORK_MEM = '256MB';

/**
 * A second connection, only if the pool can give one at once: waiting for one while holding
 * another could wait for ever (a pool of one connection; every connection held by runs waiting
 * likewise). One taken meanwhile by someone else is waited for only until its holder, which waits
 * on nothing of ours, releases it.
 */
async function spareConnection(pool: Pool): Promise<PoolClient | undefined> {
  const max = pool.options.max ?? 10;
  if (pool.idleCount === 0 && pool.totalCount >= max) return undefined;
  // Not getting one is no reason to fail the run: the main connection does it all.
  return pool.connect().catch(() => undefined);
}

/**
 * A discrepancy a person closed stops being reported as open: the same class found again for the
 * same payment by a later run is recorded resolved, carrying the person's note.
 */
async function carryPersonResolutions(client: PoolClient, runId: string): Promise<number> {
  const { rowCount } = await client.query(
    `UPDATE reconciliation_discrepancies d
        SET resolution = 'resolved',
            (resolved_by, resolved_at, resolution_note) = (
              SELECT e.resolved_by, e.resolved_at, e.resolution_note FROM reconciliation_discrepancies e
               WHERE e.payment_id = d.payment_id AND e.class = d.class AND e.resolution = 'resolved'
               ORDER BY e.resolved_at DESC LIMIT 1)
      WHERE d.run_id = $1 AND d.resolution = 'open'
        AND EXISTS (SELECT 1 FROM reconciliation_discrepancies e
                     WHERE e.payment_id = d.payment_id AND e.class = d.class AND e.resolution = 'resolved')`,
    [runId],
  );
  return rowCount ?? 0;
}

const COPY_SPECIAL = /[\\\t\n\r]/;

/** One COPY text-format field: NULL as \N, and the characters COPY reserves escaped. */
function copyField(v: string | number | null | undefined): string {
  if (v === null || v === undefined) return '\\N';
  const text = String(v);
  // Most fields have nothing to escape: one test instead of four replacements.
  if (!COPY_SPECIAL.test(text)) return text;
  return text.replace(/\\/g, '\\\\').replace(/\t/g, '\\t').replace(/\n/g, '\\n').replace(/\r/g, '\\r');
}

/** The staging table's columns, in the order copyChunks writes them. */
const STAGED_COLUMNS = 'line_no, our_reference, operator_reference, amount, status, operator_status, error';

/**
 * Reads the report (LF or CRLF lines) and yields its lines as COPY text rows of the staging
 * table, in chunks of about 64 KB: a chunk's last, unfinished line waits for the next chunk;
 * nothing else is kept. Each line is parsed and written as it is split, with no intermediate
 * row: the classification reads only these columns (the kind, currency and date are the
 * adapter's, unused by the matching).
 */
async function* copyChunks(
  body: Readable,
  parseLine: (line: string) => StagedLine | null | { error: string },
  counter: { lines: number; unreadable: number },
): AsyncGenerator<string> {
  /** One report line as a COPY row ('' when the adapter skips it: a header, a blank line). */
  const row = (line: string): string => {
    const parsed = parseLine(line);
    if (parsed === null) return '';
    const n = ++counter.lines;
    if ('error' in parsed) {
      counter.unreadable++;
      return `${n}\t\\N\t\\N\t\\N\t\\N\t\\N\t${copyField(parsed.error)}\n`;
    }
    return `${n}\t${copyField(parsed.ourReference)}\t${copyField(parsed.operatorReference)}\t${copyField(parsed.amount)}\t${copyField(parsed.status)}\t${copyField(parsed.operatorStatus)}\t\\N\n`;
  };
  const decoder = new StringDecoder('utf8');
  let out = '';
  let rest = '';
  for await (const chunk of body as AsyncIterable<Buffer | string>) {
    const text = rest + (typeof chunk === 'string' ? chunk : decoder.write(chunk));
    let from = 0;
    for (let nl = text.indexOf('\n'); nl !== -1; nl = text.indexOf('\n', from)) {
      out += row(text.slice(from, nl > from && text.charCodeAt(nl - 1) === 13 ? nl - 1 : nl));
      from = nl + 1;
      if (out.length >= 65_536) {
        yield out;
        out = '';
      }
    }
    rest = text.slice(from);
  }
  rest += decoder.end();
  if (rest) out += row(rest.endsWith('\r') ? rest.slice(0, -1) : rest);
  if (out) yield out;
}

/** Rows as COPY text, in chunks of about 64 KB: no row is kept after it is written. */
export async function* copyText(
  rows: AsyncIterable<readonly (string | number | null | undefined)[]>,
): AsyncGenerator<string> {
  let chunk = '';
  for await (const fields of rows) {
    let row = '';
    for (let i = 0; i < fields.length; i++) row += (i ? '\t' : '') + copyField(fields[i]);
    chunk += `${row}\n`;
    if (chunk.length >= 65_536) {
      yield chunk;
      chunk = '';
    }
  }
  if (chunk) yield chunk;
}

const MONEY_MOVED = `('succeeded', 'partially_refunded', 'refunded')`;

/** The modes a run judges, as an SQL list of boolean literals (nothing else is ever written there). */
const modesList = (r: SettlementScope) =>
  `(${r.livemodes.map((m) => (m ? 'true' : 'false')).join(', ') || 'NULL'})`;

const DISCREPANCY_COLUMNS = `(run_id, operator, class, payment_id, merchant_id, our_reference, operator_reference, line_no, our_amount, their_amount, our_status, their_status)`;

/** How many findings the staging connection hands over at a time (about 1.5 MB of JSON). */
const FINDINGS_BATCH = 5_000;

/**
 * Classifies the staged report against our payments of the operator and the period, and records
 * one discrepancy per finding. Returns the counts per class (the ledger's apart).
 *
 * One statement, on the staging connection: the report's lines and our payments of the period in
 * one full join (one scan of each, one hash): a line repeated, a line we have no payment for,
 * another amount, another outcome (one class at most per line), and a payment of ours no line
 * mentions (missing on the operator's side). A line whose payment is not of the period (paid the
 * day after it was created, say) is looked up by its reference, alone. Its findings are read
 * through a cursor, a batch at a time, and inserted by the main connection while the next batch
 * is computed: the rows are never all held here.
 */
async function classifyStagedReport(
  staging: PoolClient,
  main: PoolClient,
  r: SettlementScope,
  timed: <T>(phase: string, step: () => Promise<T>) => Promise<T>,
): Promise<Record<string, number>> {
  const modes = modesList(r);
  await timed('classify_analyze', async () => {
    // The row count and the references' spread for the planner: a small sample is enough.
    await staging.query('SET LOCAL default_statistics_target = 10');
    await staging.query('ANALYZE recon_lines');
    // A cursor's plan is chosen for its first rows unless told it will be read to the end.
    await staging.query('SET LOCAL cursor_tuple_fraction = 1');
  });
  await staging.query(
    `DECLARE recon_findings NO SCROLL CURSOR FOR
     WITH lines AS (
            -- Each readable line with its rank among the lines for the same reference (1: the first).
            SELECT line_no, our_reference, operator_reference, amount, status, operator_status,
                   row_number() OVER (PARTITION BY our_reference ORDER BY line_no) AS rank
              FROM recon_lines WHERE error IS NULL),
          ours AS (
            -- Our payments the report must list: the period's, and for a day's run the day before's
            -- disbursements of unknown outcome (executed at 23:59:59, they may be on this day's).
            SELECT id, merchant_id, amount, status, operator_reference FROM payments
             WHERE operator = $1 AND livemode IN ${modes} AND created_at < $3
               AND (created_at >= $2
                 OR ($4 AND kind IN ('payout', 'refund') AND status = 'unknown'
                     AND created_at >= $2::timestamptz - interval '1 day'))),
          matched AS (
            SELECT l.line_no, l.our_reference, l.operator_reference, l.amount, l.status, l.operator_status, l.rank,
                   p.id AS p_id, p.operator_reference AS p_operator_reference,
                   -- A line with no payment of the period: its payment, if we have it, from another
                   -- day (looked up for those lines only).
                   CASE WHEN p.id IS NULL AND l.line_no IS NOT NULL THEN
                     (SELECT q FROM payments q
                       WHERE q.id = l.our_reference AND q.operator = $1 AND q.livemode IN ${modes}) END AS other,
                   p.merchant_id AS p_merchant_id, p.amount AS p_amount, p.status AS p_status
              FROM lines l FULL JOIN ours p ON p.id = l.our_reference
            OFFSET 0),
          paired AS (
            SELECT line_no, our_reference, operator_reference, amount, status, operator_status, rank,
                   p_operator_reference,
                   COALESCE(p_id, (other).id) AS payment_id, COALESCE(p_merchant_id, (other).merchant_id) AS merchant_id,
                   COALESCE(p_amount, (other).amount) AS our_amount, COALESCE(p_status, (other).status) AS our_status
              FROM matched),
          classified AS (
            SELECT m.*,
                   CASE
                     -- A payment of ours no line mentions (those of the day before are all of unknown outcome).
                     WHEN m.line_no IS NULL THEN
                       CASE WHEN m.our_status IN ${MONEY_MOVED} OR m.our_status = 'unknown' THEN 'missing_on_operator_side' END
                     WHEN m.rank > 1 THEN 'duplicate_line'
                     WHEN m.payment_id IS NULL THEN CASE WHEN m.status = 'succeeded' THEN 'missing_on_our_side' END
                     WHEN m.amount <> m.our_amount THEN CASE WHEN m.status <> 'pending' THEN 'amount_mismatch' END
                     WHEN m.amount = m.our_amount
                      AND ((m.status = 'succeeded' AND m.our_status NOT IN ${MONEY_MOVED})
                        OR (m.status IN ('failed', 'cancelled', 'expired')
                            AND (m.our_status IN ${MONEY_MOVED} OR m.our_status = 'unknown'))) THEN 'status_mismatch'
                   END AS class
              FROM paired m)
     SELECT c.class, c.payment_id, c.merchant_id,
            CASE WHEN c.line_no IS NULL THEN c.payment_id ELSE c.our_reference END AS our_reference,
            CASE WHEN c.line_no IS NULL THEN c.p_operator_reference ELSE c.operator_reference END AS operator_reference,
            c.line_no, c.our_amount, c.amount AS their_amount, c.our_status,
            -- For a status mismatch, their outcome in our words; otherwise the operator's own word.
            CASE WHEN c.line_no IS NULL THEN NULL WHEN c.class = 'status_mismatch' THEN c.status
                 ELSE c.operator_status END AS their_status
       FROM classified c
      WHERE c.class IS NOT NULL`,
    [r.operator, r.periodStart, r.periodEnd, r.wholeDay === true],
  );
  const counts: Record<string, number> = Object.fromEntries(DISCREPANCY_CLASSES.map((c) => [c, 0]));
  const fetchBatch = () => staging.query<Finding>(`FETCH ${FINDINGS_BATCH} FROM recon_findings`);
  let next = timed('classify_first_batch', fetchBatch);
  for (;;) {
    const { rows } = await next;
    if (!rows.length) break;
    // The staging connection computes the next batch while this one is recorded (on the same
    // connection, when there is only one, the two simply take turns).
    next = fetchBatch();
    next.catch(() => undefined);
    for (const row of rows) counts[row.class] = (counts[row.class] ?? 0) + 1;
    await main.query(
      `INSERT INTO reconciliation_discrepancies ${DISCREPANCY_COLUMNS}
       SELECT $1, $2, f.class, f.payment_id, f.merchant_id, f.our_reference, f.operator_reference, f.line_no,
              f.our_amount, f.their_amount, f.our_status, f.their_status
         FROM json_to_recordset($3::json) AS f(class text, payment_id text, merchant_id text, our_reference text,
              operator_reference text, line_no bigint, our_amount bigint, their_amount bigint, our_status text,
              their_status text)`,
      [r.runId, r.operator, JSON.stringify(rows)],
    );
  }
  await staging.query('CLOSE recon_findings');
  return counts;
}

/** One finding of the classification, as the staging connection hands it over. */
interface Finding {
  class: DiscrepancyClass;
  payment_id: string | null;
  merchant_id: string | null;
  our_reference: string | null;
  operator_reference: string | null;
  line_no: number | null;
  our_amount: number | null;
  their_amount: number | null;
  our_status: string | null;
  their_status: string | null;
}

/**
 * Our payments of the period in a money-moved state with no ledger posting (a payin's credit, a
 * payout's or refund's capture), set aside in a temporary table of `main`'s: this reads no
 * report line.
 */
async function findUnpostedPayments(main: PoolClient, r: SettlementScope): Promise<void> {
  await main.query(
    `CREATE TEMP TABLE recon_unposted ON COMMIT DROP AS
     SELECT p.id, p.merchant_id, p.operator_reference, p.amount, p.status
       FROM payments p
      WHERE p.operator = $1 AND p.livemode IN ${modesList(r)} AND p.created_at >= $2 AND p.created_at < $3
        AND ((p.kind = 'payin' AND p.status IN ${MONEY_MOVED}
              AND NOT EXISTS (SELECT 1 FROM journal_entries e WHERE e.payment_id = p.id AND e.credits_payment))
          OR (p.kind IN ('payout', 'refund') AND p.status = 'succeeded'
              AND NOT EXISTS (SELECT 1 FROM journal_entries e WHERE e.payment_id = p.id AND e.step = 'capture')))`,
    [r.operator, r.periodStart, r.periodEnd],
  );
}

/** Records the payments findUnpostedPayments set aside as ledger mismatches; returns how many. */
async function recordUnposted(main: PoolClient, r: SettlementScope): Promise<number> {
  const { rowCount } = await main.query(
    `INSERT INTO reconciliation_discrepancies ${DISCREPANCY_COLUMNS}
     SELECT $1, $2, 'ledger_mismatch', u.id, u.merchant_id, u.id, u.operator_reference, NULL, u.amount, NULL, u.status, NULL
       FROM recon_unposted u`,
    [r.runId, r.operator],
  );
  return rowCount ?? 0;
}

/**
 * Whether a disbursement was found missing on the operator's side by a completed run over an
 * earlier period than `before` (the report of its own day), other than `runId`.
 */
export async function missingFromEarlierReport(
  db: Queryable,
  q: { paymentId: string; runId: string; before: Date },
): Promise<boolean> {
  const { rows } = await db.query(
    `SELECT 1 FROM reconciliation_discrepancies d JOIN reconciliation_runs r ON r.id = d.run_id
      WHERE d.payment_id = $1 AND d.class = 'missing_on_operator_side' AND d.run_id <> $2
        AND r.status = 'completed' AND r.period_start < $3 LIMIT 1`,
    [q.paymentId, q.runId, q.before],
  );
  return rows.length > 0;
}

/** What a sweep takes in one go: how far back, how many, and how soon a payment is looked at again. */
export interface SweepWindow {
  operator: string;
  lookbackDays: number;
  batch: number;
  recheckMinutes: number;
}

/**
 * Claims the payins a sweep looks at again (marks them swept): ended or left unknown while the
 * operator may have been paid after all, or open past their deadline. Those looked at longest
 * ago first.
 */
export async function claimPayinsToSweep(db: Queryable, w: SweepWindow): Promise<string[]> {
  const { rows } = await db.query<{ id: string }>(
    `UPDATE payments SET last_swept_at = now()
      WHERE id IN (SELECT id FROM payments
                    WHERE operator = $1 AND kind = 'payin' AND transfer_id IS NULL
                      AND (status IN ('unknown', 'expired')
                           OR (status IN ('created', 'pending', 'action_required') AND deadline_at < now() - interval '5 minutes'))
                      AND created_at > now() - make_interval(days => $2)
                      AND (last_swept_at IS NULL OR last_swept_at < now() - make_interval(mins => $3))
                    ORDER BY last_swept_at NULLS FIRST LIMIT $4)
      RETURNING id`,
    [w.operator, w.lookbackDays, w.recheckMinutes, w.batch],
  );
  return rows.map((r) => r.id);
}

/**
 * Claims the payouts and refunds a sweep looks at again: of unknown outcome, or left open by a
 * workflow that may no longer run (terminated, cancelled, never started).
 */
export async function claimDisbursementsToSweep(db: Queryable, w: SweepWindow): Promise<string[]> {
  const { rows } = await db.query<{ id: string }>(
    `UPDATE payments SET last_swept_at = now()
      WHERE id IN (SELECT id FROM payments
                    WHERE operator = $1 AND kind IN ('payout', 'refund') AND transfer_id IS NULL
                      AND (status = 'unknown'
                           -- pending past its deadline, or untouched for a while: is its workflow still there?
                           OR (status = 'pending' AND (deadline_at < now() - interval '5 minutes'
                                                       OR updated_at < now() - interval '10 minutes'))
                           OR (status = 'created' AND created_at < now() - interval '10 minutes'))
                      AND created_at > now() - make_interval(days => $2)
                      AND (last_swept_at IS NULL OR last_swept_at < now() - make_interval(mins => $3))
                    ORDER BY last_swept_at NULLS FIRST, created_at LIMIT $4)
      RETURNING id`,
    [w.operator, w.lookbackDays, w.recheckMinutes, w.batch],
  );
  return rows.map((r) => r.id);
}
