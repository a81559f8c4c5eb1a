import type { CurrencyCode } from '../lib/money.js';
import { computeFee, payinFee, type FeeSchedule } from '../lib/fees.js';
import type { PaymentKind } from '../lib/payments.js';

/** Fees are set per payment kind, and for transfers. */
export type FeeKind = PaymentKind | 'transfer';
import type { Queryable } from './pool.js';

/** The most specific fee schedule for (merchant, operator, kind, currency), or none (no fee). */
export async function findFeeSchedule(
  db: Queryable,
  q: { merchantId: string; operator: string; kind: FeeKind; currency: CurrencyCode },
): Promise<FeeSchedule> {
  const { rows } = await db.query<{ percent_bps: number; fixed_amount: number }>(
    `SELECT percent_bps, fixed_amount FROM fee_schedules
      WHERE kind = $3 AND currency = $4
        AND (merchant_id = $1 OR merchant_id IS NULL)
        AND (operator = $2 OR operator IS NULL)
      ORDER BY (merchant_id IS NULL), (operator IS NULL)
      LIMIT 1`,
    [q.merchantId, q.operator, q.kind, q.currency],
  );
  const row = rows[0];
  return row
    ? { percentBps: row.percent_bps, fixedAmount: row.fixed_amount }
    : { percentBps: 0, fixedAmount: 0 };
}

export async function feeFor(
  db: Queryable,
  q: { merchantId: string; operator: string; kind: FeeKind; currency: CurrencyCode; amount: number },
): Promise<number> {
  const schedule = await findFeeSchedule(db, q);
  return q.kind === 'payin' ? payinFee(q.amount, schedule) : computeFee(q.amount, schedule);
}

/** Creates or replaces a schedule; `merchantId`/`operator` undefined means "any". */
export async function setFeeSchedule(
  db: Queryable,
  s: { merchantId?: string; operator?: string; kind: FeeKind; currency: CurrencyCode } & FeeSchedule,
): Promise<void> {
  await db.query(
    `INSERT INTO fee_schedules (merchant_id, operator, kind, currency, percent_bps, fixed_amount)
     VALUES ($1, $2, $3, $4, $5, $6)
     ON CONFLICT (coalesce(merchant_id, ''), coalesce(operator, ''), kind, currency)
     DO UPDATE SET percent_bps = EXCLUDED.percent_bps, fixed_amount = EXCLUDED.fixed_amount, updated_at = now()`,
    [s.merchantId ?? null, s.operator ?? null, s.kind, s.currency, s.percentBps, s.fixedAmount],
  );
}
