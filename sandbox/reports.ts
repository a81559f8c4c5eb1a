import express, { Router, type Response } from 'express';
import { z } from 'zod';

/**
 * Settlement reports: every simulated operator serves the day's transactions as a file, built
 * from its own records; tests inject the discrepancies reconciliation must find.
 */
export interface ReportRow {
  date: string;
  /** Our payment id, as the merchant gave it to the operator. */
  reference: string;
  operatorReference: string;
  kind: 'payin' | 'payout';
  amount: number;
  /** The operator's own status word. */
  status: string;
}

const reference = z.string().min(1).max(64);
const ReportAdjustmentSchema = z.discriminatedUnion('type', [
  /** The operator's file lacks a transaction we have ("missing on the operator side"). */
  z.object({ type: z.literal('omit'), reference }).strict(),
  z.object({ type: z.literal('amount'), reference, amount: z.number().int().min(0) }).strict(),
  z.object({ type: z.literal('status'), reference, status: z.string().min(1).max(32) }).strict(),
  z.object({ type: z.literal('duplicate'), reference }).strict(),
  /** A transaction we never heard of ("missing on our side"). */
  z
    .object({
      type: z.literal('extra'),
      reference,
      amount: z.number().int().min(0),
      kind: z.enum(['payin', 'payout']).optional(),
      status: z.string().min(1).max(32).optional(),
    })
    .strict(),
]);
export type ReportAdjustment = z.infer<typeof ReportAdjustmentSchema>;

export class ReportAdjustments {
  private list: ReportAdjustment[] = [];

  add(adjustments: ReportAdjustment[]): void {
    this.list.push(...adjustments);
  }

  clear(): void {
    this.list = [];
  }

  apply(rows: ReportRow[], day: string, successWord: string): ReportRow[] {
    const out: ReportRow[] = [];
    for (const row of rows) {
      if (this.list.some((a) => a.type === 'omit' && a.reference === row.reference)) continue;
      let r = row;
      for (const a of this.list) {
        if (a.reference !== row.reference) continue;
        if (a.type === 'amount') r = { ...r, amount: a.amount };
        if (a.type === 'status') r = { ...r, status: a.status };
      }
      out.push(r);
      if (this.list.some((a) => a.type === 'duplicate' && a.reference === row.reference)) out.push(r);
    }
    for (const a of this.list) {
      if (a.type !== 'extra') continue;
      out.push({
        date: `${day} 12:00:00`,
        reference: a.reference,
        operatorReference: `X${a.reference.slice(-10)}`,
        kind: a.kind ?? 'payin',
        amount: a.amount,
        status: a.status ?? successWord,
      });
    }
    return out;
  }
}

/** `POST` adds adjustments, `DELETE` clears them: `/<operator>/_sandbox/report-adjustments`. */
export function adjustmentRoutes(adjustments: ReportAdjustments): Router {
  const router = Router();
  router.post('/_sandbox/report-adjustments', express.json(), (req, res) => {
    const parsed = z.array(ReportAdjustmentSchema).safeParse(req.body);
    if (!parsed.success)
      return void res
        .status(400)
        .json({ error: 'send an array of adjustments', issues: parsed.error.issues });
    adjustments.add(parsed.data);
    res.json({ added: parsed.data.length });
  });
  router.delete('/_sandbox/report-adjustments', (_req, res) => {
    adjustments.clear();
    res.json({ cleared: true });
  });
  return router;
}

/** Streams lines with back-pressure (a report may be long). */
export async function streamLines(
  res: Response,
  contentType: string,
  lines: Iterable<string>,
): Promise<void> {
  res.type(contentType);
  for (const line of lines) {
    if (!res.write(`${line}\n`)) await new Promise((r) => res.once('drain', r));
  }
  res.end();
}

/** The period a report request asks for: `from` and `to` (ISO 8601), or a whole `date` (UTC). */
export function periodOf(
  q: Record<string, unknown>,
): { from: number; to: number; label: string } | undefined {
  const text = (v: unknown) => (typeof v === 'string' ? v : '');
  if (q.from || q.to) {
    const from = Date.parse(text(q.from));
    const to = Date.parse(text(q.to));
    if (Number.isNaN(from) || Number.isNaN(to) || to <= from) return undefined;
    return { from, to, label: text(q.from).slice(0, 10) };
  }
  const date = text(q.date);
  if (!/^\d{4}-\d{2}-\d{2}$/.test(date)) return undefined;
  const from = Date.parse(`${date}T00:00:00Z`);
  return { from, to: from + 86_400_000, label: date };
}

export function within(period: { from: number; to: number }, at: string | number): boolean {
  const t = typeof at === 'number' ? at : Date.parse(at);
  return t >= period.from && t < period.to;
}
