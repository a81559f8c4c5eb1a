import { eventView, listMerchantEvents } from '../db/events.js';
import { timingSafeEqual } from 'node:crypto';
import { Router, type Request, type RequestHandler, type Response } from 'express';
import type { Client, WorkflowHandleWithFirstExecutionRunId } from '@temporalio/client';
import { z } from 'zod';
import { decodeCursor, listAnswer } from './views.js';
import { setUploadRun } from '../db/reconciliation-uploads.js';
import { OPERATORS } from '../lib/operators.js';
import type { Pool } from '../db/pool.js';
import {
  countDiscrepancies,
  type Discrepancy,
  DISCREPANCY_CLASSES,
  DISCREPANCY_RESOLUTIONS,
  getRun,
  listDiscrepancies,
  listRuns,
  type ReconciliationRun,
  resolveDiscrepancyByPerson,
  announceRun,
} from '../db/reconciliation.js';
import type { Config } from '../lib/config.js';
import { manualRunWorkflowId, reconciliationRunId } from '../lib/reconciliation.js';
import { settlementReconciliation, sweep } from '../workflows/reconciliation.js';
import { Problem, validationProblem } from './problems.js';
import { EXPORT_TYPES, storeExport } from './settlement-files.js';

/** Whether a request carries the operations key. */
export function requireAdminKey(config: Config): (req: Request) => boolean {
  const expected = config.ADMIN_API_KEY ? Buffer.from(config.ADMIN_API_KEY) : undefined;
  return (req) => {
    const given = Buffer.from(/^Bearer\s+(\S+)\s*$/i.exec(req.header('authorization') ?? '')?.[1] ?? '');
    return expected !== undefined && given.length === expected.length && timingSafeEqual(given, expected);
  };
}

/** Operations routes: a separate key (ADMIN_API_KEY), never a merchant's. */
export function requireAdmin(config: Config): RequestHandler {
  const expected = config.ADMIN_API_KEY ? Buffer.from(config.ADMIN_API_KEY) : undefined;
  return (req, _res, next) => {
    const given = /^Bearer\s+(\S+)\s*$/i.exec(req.header('authorization') ?? '')?.[1];
    if (!expected) throw new Problem('unauthenticated', 'Operations routes are off: set ADMIN_API_KEY');
    const buf = Buffer.from(given ?? '');
    if (buf.length !== expected.length || !timingSafeEqual(buf, expected)) {
      throw new Problem(
        'unauthenticated',
        'Send the operations key as "Authorization: Bearer <ADMIN_API_KEY>"',
      );
    }
    next();
  };
}

export const TriggerRun = z
  .object({
    operator: z.enum(OPERATORS),
    kind: z.enum(['settlement', 'sweep']).default('settlement'),
    date: z.iso.date().optional().meta({
      description: 'The day to reconcile (UTC); default: yesterday. Settlement only; not with from/to.',
    }),
    from: z.iso.datetime().optional().meta({ description: 'Or a period: from (included)…' }),
    to: z.iso.datetime().optional().meta({ description: '…to (excluded)' }),
  })
  .strict()
  .refine((b) => (b.from === undefined) === (b.to === undefined), {
    message: 'give both from and to',
    path: ['to'],
  })
  .refine((b) => !b.from || !b.to || Date.parse(b.to) > Date.parse(b.from), {
    message: 'to must be after from',
    path: ['to'],
  })
  .refine((b) => !(b.date && b.from), { message: 'give a date or a period, not both', path: ['date'] })
  // The same rules, stated in the document: a date or a period (from and to together), not both.
  .meta({ not: { required: ['date', 'from'] }, dependentRequired: { from: ['to'], to: ['from'] } });

export const DiscrepancyQuery = z
  .object({
    class: z.enum(DISCREPANCY_CLASSES).optional(),
    resolution: z.enum(DISCREPANCY_RESOLUTIONS).optional(),
    limit: z.coerce.number().int().min(1).max(1000).default(100),
    cursor: z
      .string()
      .regex(/^\d{1,15}$/, 'use next_cursor from the previous page')
      .transform(Number)
      .optional()
      .meta({ description: 'next_cursor of the previous page' }),
  })
  .strict();

/** `POST /v1/reconciliation/reports?operator=&date=` (or `from`/`to`): the period the export covers. */
export const UploadQuery = z
  .object({
    operator: z.enum(OPERATORS),
    date: z.iso
      .date()
      .optional()
      .meta({ description: 'The day the export covers (UTC); or give both from and to instead' }),
    from: z.iso.datetime().optional().meta({ description: 'Or a period: from (included)…' }),
    to: z.iso.datetime().optional().meta({ description: '…to (excluded)' }),
    filename: z.string().max(255).optional().meta({ description: "The file's name, kept with the upload" }),
  })
  .strict()
  .refine((q) => (q.date === undefined) !== (q.from === undefined || q.to === undefined), {
    message: 'give a date, or both from and to',
    path: ['date'],
  })
  .refine((q) => !q.from || !q.to || Date.parse(q.to) > Date.parse(q.from), {
    message: 'to must be after from',
    path: ['to'],
  });

/** The largest export accepted (a million lines is about 100 MB), and the most lines (an XLSX inflates). */
const MAX_UPLOAD_BYTES = 200 * 1024 * 1024;
const MAX_UPLOAD_LINES = 5_000_000;

export const RunListQuery = z
  .object({
    operator: z.enum(OPERATORS).optional(),
    kind: z.enum(['settlement', 'sweep']).optional(),
    limit: z.coerce.number().int().min(1).max(100).default(20),
  })
  .strict();

export const DiscrepancySchema = z
  .object({
    id: z.number().int(),
    class: z.enum(DISCREPANCY_CLASSES),
    payment_id: z.string().nullable(),
    merchant_id: z.string().nullable(),
    our_reference: z.string().nullable(),
    operator_reference: z.string().nullable(),
    line_no: z.number().int().nullable().meta({ description: "Line of the operator's report" }),
    our_amount: z.number().int().nullable(),
    their_amount: z.number().int().nullable(),
    our_status: z.string().nullable(),
    their_status: z.string().nullable(),
    resolution: z.enum(DISCREPANCY_RESOLUTIONS).meta({
      description:
        'open (for a person), auto_resolved (a policy acted) or resolved (closed by a person, with a note)',
    }),
    action: z
      .string()
      .nullable()
      .meta({ description: 'Automatic action taken: late_credit, late_credit_and_refund, capture, release' }),
    action_reason: z.string().nullable(),
    resolution_note: z.string().nullable().meta({ description: 'Why a person closed it' }),
    resolved_by: z.string().nullable(),
    resolved_at: z.string().nullable(),
  })
  .meta({ id: 'ReconciliationDiscrepancy' });

export const ResolveDiscrepancyRequest = z
  .object({
    note: z
      .string()
      .trim()
      .min(3)
      .max(2000)
      .meta({ description: 'What was done, or why nothing needs to be: it stays in the reports' }),
    resolved_by: z
      .string()
      .trim()
      .min(1)
      .max(100)
      .optional()
      .meta({ description: 'Who closes it (default: "operations")' }),
  })
  .strict()
  .meta({ id: 'ResolveDiscrepancyRequest' });

export const ReconciliationRunSchema = z
  .object({
    id: z.string().meta({ example: 'rcn_settlement-ligdicash-2026-11-22' }),
    object: z.literal('reconciliation_run'),
    operator: z.enum(OPERATORS),
    kind: z.enum(['settlement', 'sweep']),
    status: z.enum(['running', 'completed', 'failed']),
    period_start: z.string().nullable(),
    period_end: z.string().nullable(),
    triggered_by: z.string().meta({ description: 'schedule, api or cli' }),
    workflow_id: z.string().nullable(),
    lines_ingested: z.number().int(),
    payments_checked: z.number().int(),
    summary: z
      .record(z.string(), z.number().int())
      .meta({ description: 'Discrepancies and actions, by class' }),
    error: z.string().nullable(),
    started_at: z.string(),
    finished_at: z.string().nullable(),
  })
  .meta({ id: 'ReconciliationRun' });

function runView(r: ReconciliationRun) {
  return {
    id: r.id,
    object: 'reconciliation_run' as const,
    operator: r.operator,
    kind: r.kind,
    status: r.status,
    period_start: r.periodStart?.toISOString() ?? null,
    period_end: r.periodEnd?.toISOString() ?? null,
    triggered_by: r.triggeredBy,
    workflow_id: r.workflowId,
    lines_ingested: r.linesIngested,
    payments_checked: r.paymentsChecked,
    summary: r.summary,
    error: r.error,
    started_at: r.startedAt.toISOString(),
    finished_at: r.finishedAt?.toISOString() ?? null,
  };
}

function discrepancyView(d: Discrepancy) {
  return {
    id: d.id,
    class: d.class,
    payment_id: d.paymentId,
    merchant_id: d.merchantId,
    our_reference: d.ourReference,
    operator_reference: d.operatorReference,
    line_no: d.lineNo,
    our_amount: d.ourAmount,
    their_amount: d.theirAmount,
    our_status: d.ourStatus,
    their_status: d.theirStatus,
    resolution: d.resolution,
    action: d.action,
    action_reason: d.actionReason,
    resolution_note: d.resolutionNote,
    resolved_by: d.resolvedBy,
    resolved_at: d.resolvedAt?.toISOString() ?? null,
  };
}

const CSV_COLUMNS = [
  'id',
  'class',
  'payment_id',
  'merchant_id',
  'our_reference',
  'operator_reference',
  'line_no',
  'our_amount',
  'their_amount',
  'our_status',
  'their_status',
  'resolution',
  'action',
  'action_reason',
  'resolution_note',
  'resolved_by',
  'resolved_at',
] as const;

type Cell = string | number | null | undefined;

function csvCell(v: Cell): string {
  let s = v === null || v === undefined ? '' : String(v);
  // A text cell a spreadsheet would run as a formula (an operator's word, a reference from a
  // report) is neutralised with a leading apostrophe (OWASP, "CSV injection").
  if (typeof v === 'string' && /^[=+\-@\t\r]/.test(s)) s = `'${s}`;
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** A run's discrepancies a page at a time: an export of a million never sits in memory. */
async function* discrepancyPages(pool: Pool, runId: string) {
  let afterId: number | undefined;
  for (;;) {
    const page = await listDiscrepancies(pool, { runId, limit: 1000, afterId });
    if (page.length === 0) return;
    yield page.map(discrepancyView);
    afterId = page[page.length - 1]!.id;
  }
}

/** Writes a chunk, waiting for the socket to drain when its buffer is full. */
async function write(res: Response, chunk: string): Promise<void> {
  if (!res.write(chunk)) await new Promise<void>((resolve) => res.once('drain', () => resolve()));
}

const xml = (s: Cell) =>
  String(s ?? '').replace(
    /[<>&"']/g,
    (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c]!,
  );

/** Starts a reconciliation run asked for by a person (the API, the CLI); schedules start the others. */
export async function startReconciliationRun(
  temporal: Client,
  config: Config,
  run: {
    kind: 'sweep' | 'settlement';
    operator: string;
    date?: string;
    from?: string;
    to?: string;
    triggeredBy: string;
    /** An export uploaded by operations, reconciled instead of the operator's report. */
    uploadId?: string;
  },
): Promise<WorkflowHandleWithFirstExecutionRunId<typeof sweep | typeof settlementReconciliation>> {
  const { kind, operator, date, from, to, triggeredBy, uploadId } = run;
  const options = {
    workflowId: manualRunWorkflowId({ kind, operator, date, from, requestedAt: Date.now() }),
    taskQueue: config.TEMPORAL_TASK_QUEUE,
  };
  return kind === 'sweep'
    ? temporal.workflow.start(sweep, { ...options, args: [{ operator, triggeredBy }] })
    : temporal.workflow.start(settlementReconciliation, {
        ...options,
        args: [{ operator, day: date, from, to, triggeredBy, ...(uploadId ? { uploadId } : {}) }],
      });
}

export const OperationsEventQuery = z
  .object({
    created_after: z.iso.datetime({ offset: true }).optional(),
    limit: z.coerce.number().int().min(1).max(100).default(20),
    cursor: z.string().max(200).optional(),
  })
  .strict();

/**
 * `/v1/reconciliation/runs`: trigger a run, read runs and their discrepancies (filtered), and
 * export them as CSV or as the XML reconciliation report the integration specification asks for.
 */
export function reconciliationRoutes(deps: { config: Config; pool: Pool; temporal: Client }): Router {
  const { config, pool, temporal } = deps;
  const router = Router();
  router.use(requireAdmin(config));

  router.post('/runs', async (req, res) => {
    const parsed = TriggerRun.safeParse(req.body);
    if (!parsed.success) throw validationProblem(parsed.error);
    const { operator, kind, date, from, to } = parsed.data;
    const { workflowId } = await startReconciliationRun(temporal, config, {
      kind,
      operator,
      date,
      from,
      to,
      triggeredBy: 'api',
    });
    const id = reconciliationRunId(workflowId);
    // Readable at its Location as soon as this answers (the workflow's first step may not have run yet).
    await announceRun(pool, { id, operator, kind, triggeredBy: 'api', workflowId });
    res
      .status(202)
      .location(`/v1/reconciliation/runs/${id}`)
      .json({ id, object: 'reconciliation_run', status: 'running', workflow_id: workflowId });
  });

  // Operations events (no merchant): discrepancies found, newest first.
  router.get('/events', async (req, res) => {
    const q = OperationsEventQuery.safeParse(req.query);
    if (!q.success) throw validationProblem(q.error);
    const page = await listMerchantEvents(pool, {
      owner: null,
      limit: q.data.limit,
      createdAfter: q.data.created_after ? new Date(q.data.created_after) : undefined,
      before: q.data.cursor ? decodeCursor(q.data.cursor) : undefined,
    });
    res.json(listAnswer(page.items.map(eventView), page.next));
  });

  router.get('/runs', async (req, res) => {
    const q = RunListQuery.safeParse(req.query);
    if (!q.success) throw validationProblem(q.error);
    res.json({ object: 'list', data: (await listRuns(pool, q.data)).map(runView) });
  });

  const findRun = async (id: string) => {
    const run = await getRun(pool, id);
    if (!run) throw new Problem('not-found', `No reconciliation run ${id}`);
    return run;
  };

  router.get('/runs/:id', async (req, res) => {
    const run = await findRun(req.params.id);
    const q = DiscrepancyQuery.safeParse(req.query);
    if (!q.success) throw validationProblem(q.error);
    const rows = await listDiscrepancies(pool, {
      runId: run.id,
      class: q.data.class,
      resolution: q.data.resolution,
      limit: q.data.limit + 1,
      afterId: q.data.cursor,
    });
    const page = rows.slice(0, q.data.limit);
    res.json({
      ...runView(run),
      discrepancies: {
        object: 'list',
        data: page.map(discrepancyView),
        has_more: rows.length > q.data.limit,
        next_cursor: rows.length > q.data.limit ? String(page[page.length - 1]!.id) : null,
      },
    });
  });

  // An operator's export from its back-office (CSV), read with the operator's column mapping
  // (lib/operator-settings/) as it streams, then reconciled by the settlement workflow like a
  // report. The same file for the same operator and period again answers the first upload.
  router.post('/reports', async (req, res) => {
    const q = UploadQuery.safeParse(req.query);
    if (!q.success) throw validationProblem(q.error);
    const type = (req.header('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
    const exportType = Object.hasOwn(EXPORT_TYPES, type)
      ? EXPORT_TYPES[type as keyof typeof EXPORT_TYPES]
      : undefined;
    if (!exportType) {
      throw new Problem(
        'unsupported-media-type',
        'Send the export as text/csv or as an XLSX workbook (application/vnd.openxmlformats-officedocument.spreadsheetml.sheet)',
      );
    }
    const { operator, date } = q.data;
    const periodStart = new Date(date ? `${date}T00:00:00Z` : q.data.from!);
    const periodEnd = date ? new Date(periodStart.getTime() + 86_400_000) : new Date(q.data.to!);
    const stored = await storeExport(pool, {
      operator,
      body: req,
      type: exportType,
      contentType: type,
      filename: q.data.filename ?? null,
      periodStart,
      periodEnd,
      maxBytes: MAX_UPLOAD_BYTES,
      maxLines: MAX_UPLOAD_LINES,
    });
    let upload = stored.upload;
    if (!upload.runId) {
      const handle = await startReconciliationRun(temporal, config, {
        kind: 'settlement',
        operator,
        from: periodStart.toISOString(),
        to: periodEnd.toISOString(),
        triggeredBy: 'upload',
        uploadId: upload.id,
      });
      const runId = reconciliationRunId(handle.workflowId);
      await setUploadRun(pool, upload.id, runId);
      upload = { ...upload, runId };
    }
    req.log.info(
      {
        uploadId: upload.id,
        runId: upload.runId,
        lines: upload.lines,
        duplicate: stored.kind === 'duplicate',
      },
      'settlement export uploaded',
    );
    res
      .status(stored.kind === 'duplicate' ? 200 : 202)
      .location(`/v1/reconciliation/runs/${upload.runId}`)
      .json({
        id: upload.id,
        object: 'reconciliation_upload',
        operator: upload.operator,
        sha256: upload.sha256,
        filename: upload.filename,
        period_start: upload.periodStart.toISOString(),
        period_end: upload.periodEnd.toISOString(),
        lines: upload.lines,
        unreadable_lines: upload.unreadable,
        run_id: upload.runId,
        duplicate: stored.kind === 'duplicate',
      });
  });

  // A person closes a discrepancy that needs one, with a note; it stops being reported as open.
  router.post('/discrepancies/:id/resolve', async (req, res) => {
    const id = /^\d{1,15}$/.test(req.params.id) ? Number(req.params.id) : undefined;
    const parsed = ResolveDiscrepancyRequest.safeParse(req.body);
    if (!parsed.success) throw validationProblem(parsed.error);
    const result =
      id === undefined
        ? ({ kind: 'not_found' } as const)
        : await resolveDiscrepancyByPerson(pool, {
            id,
            note: parsed.data.note,
            resolvedBy: parsed.data.resolved_by ?? 'operations',
          });
    if (result.kind === 'not_found') throw new Problem('not-found', `No discrepancy ${req.params.id}`);
    if (result.kind === 'conflict') {
      throw new Problem(
        'conflict',
        result.discrepancy.resolution === 'resolved'
          ? `Discrepancy ${id} was already closed by ${result.discrepancy.resolvedBy ?? 'someone'} with another note`
          : `Discrepancy ${id} was resolved automatically (${result.discrepancy.action ?? 'a policy'}): nothing for a person to close`,
      );
    }
    req.log.info({ discrepancyId: id, runId: result.discrepancy.runId }, 'discrepancy resolved by a person');
    res.json(discrepancyView(result.discrepancy));
  });

  router.get('/runs/:id/discrepancies.csv', async (req, res) => {
    const run = await findRun(req.params.id);
    res.type('text/csv').attachment(`${run.id}.csv`);
    await write(res, `${CSV_COLUMNS.join(',')}\r\n`);
    for await (const rows of discrepancyPages(pool, run.id)) {
      await write(res, rows.map((d) => `${CSV_COLUMNS.map((c) => csvCell(d[c])).join(',')}\r\n`).join(''));
    }
    res.end();
  });

  router.get('/runs/:id/discrepancies.xml', async (req, res) => {
    const run = await findRun(req.params.id);
    const count = await countDiscrepancies(pool, run.id);
    const summary = Object.entries(run.summary)
      .map(([k, v]) => `    <count name="${xml(k)}">${xml(v)}</count>`)
      .join('\n');
    res.type('application/xml').attachment(`${run.id}.xml`);
    await write(
      res,
      `<?xml version="1.0" encoding="UTF-8"?>\n<reconciliationReport xmlns="urn:passerelle:reconciliation:1" runId="${xml(run.id)}" operator="${xml(run.operator)}" kind="${xml(run.kind)}"` +
        ` periodStart="${xml(run.periodStart?.toISOString() ?? '')}" periodEnd="${xml(run.periodEnd?.toISOString() ?? '')}" status="${xml(run.status)}" generatedAt="${new Date().toISOString()}">\n` +
        `  <summary linesIngested="${run.linesIngested}" paymentsChecked="${run.paymentsChecked}">\n${summary}\n  </summary>\n` +
        `  <discrepancies count="${count}">\n`,
    );
    for await (const rows of discrepancyPages(pool, run.id)) {
      await write(
        res,
        rows
          .map(
            (d) =>
              `    <discrepancy id="${d.id}" class="${xml(d.class)}" resolution="${xml(d.resolution)}">\n` +
              CSV_COLUMNS.filter((c) => !['id', 'class', 'resolution'].includes(c))
                .filter((c) => d[c] !== null && d[c] !== undefined)
                .map((c) => `      <${c}>${xml(d[c])}</${c}>`)
                .join('\n') +
              '\n    </discrepancy>\n',
          )
          .join(''),
      );
    }
    res.end('  </discrepancies>\n</reconciliationReport>\n');
  });
  return router;
}
