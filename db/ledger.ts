import type { CurrencyCode } from '../lib/money.js';
import type { PoolClient, Queryable } from './pool.js';
import type { PaymentRecord } from './payments.js';

/**
 * The double-entry ledger (DESIGN.md rule 4). Every movement is a journal entry whose lines sum
 * to zero (checked by the database at commit), posted at most once per (payment, step). The
 * posting table is in docs/ledger.md.
 */

export type AccountKind =
  'merchant_available' | 'merchant_held' | 'operator_clearing' | 'fees_revenue' | 'transfer_transit';

/**
 * An account of one mode's books: test payments post to test accounts only (a merchant's test
 * balance, the sandbox operators' clearing, test fees), never to live ones.
 */
export type AccountRef = { livemode: boolean } & (
  | { kind: 'merchant_available' | 'merchant_held'; merchantId: string; currency: CurrencyCode }
  | { kind: 'operator_clearing'; operator: string; currency: CurrencyCode }
  | { kind: 'fees_revenue'; currency: CurrencyCode }
  /** A transfer's money between its legs: collected, not yet paid out or refunded. */
  | { kind: 'transfer_transit'; transferId: string; currency: CurrencyCode }
);

export type PostingStep =
  'payin_succeeded' | 'late_payin_succeeded' | 'fee_return' | 'hold' | 'capture' | 'release';

/** Raised when a posting would take a merchant's available or held balance below zero. */
export class InsufficientBalanceError extends Error {
  override name = 'InsufficientBalanceError';
}

function accountCode(ref: AccountRef): string {
  switch (ref.kind) {
    case 'merchant_available':
      return `merchant:${ref.merchantId}:available:${ref.currency}`;
    case 'merchant_held':
      return `merchant:${ref.merchantId}:held:${ref.currency}`;
    case 'operator_clearing':
      return `operator:${ref.operator}:clearing:${ref.currency}`;
    case 'fees_revenue':
      return `fees:revenue:${ref.currency}`;
    case 'transfer_transit':
      return `transfer:${ref.transferId}:transit:${ref.currency}`;
  }
}

/** Finds or opens an account. Merchant accounts are credit-normal liabilities with a tracked balance. */
export async function accountId(db: Queryable, ref: AccountRef): Promise<number> {
  return (await accountIds(db, [ref])).get(accountCode(ref))!;
}

/**
 * Finds or opens accounts of one mode, in one statement: the ids by account code. An account
 * another transaction opens meanwhile is found by the insert's conflict, not missed.
 */
async function accountIds(db: Queryable, refs: AccountRef[]): Promise<Map<string, number>> {
  const livemode = refs[0]!.livemode;
  if (refs.some((r) => r.livemode !== livemode))
    throw new Error('a posting never mixes test and live accounts');
  const wanted = new Map(refs.map((ref) => [accountCode(ref), ref]));
  const columns = { code: [] as string[], kind: [] as string[], merchant: [] as (string | null)[] };
  const more = {
    operator: [] as (string | null)[],
    currency: [] as string[],
    side: [] as string[],
    tracked: [] as boolean[],
  };
  for (const [code, ref] of wanted) {
    const merchant = ref.kind === 'merchant_available' || ref.kind === 'merchant_held';
    columns.code.push(code);
    columns.kind.push(ref.kind);
    columns.merchant.push(merchant ? ref.merchantId : null);
    more.operator.push(ref.kind === 'operator_clearing' ? ref.operator : null);
    more.currency.push(ref.currency);
    more.side.push(ref.kind === 'operator_clearing' ? 'debit' : 'credit');
    // Merchant balances and a transfer's transit money are never negative: their balance is tracked and checked.
    more.tracked.push(merchant || ref.kind === 'transfer_transit');
  }
  const { rows } = await db.query<{ id: number; code: string }>(
    `WITH wanted AS (
       SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::boolean[])
                  AS w(code, kind, merchant_id, operator, currency, normal_side, track_balance)),
     found AS (SELECT a.id, a.code FROM ledger_accounts a JOIN wanted w ON a.code = w.code WHERE a.livemode = $8),
     opened AS (
       INSERT INTO ledger_accounts (code, kind, merchant_id, operator, currency, normal_side, track_balance, livemode)
       SELECT w.code, w.kind, w.merchant_id, w.operator, w.currency, w.normal_side, w.track_balance, $8
         FROM wanted w WHERE NOT EXISTS (SELECT 1 FROM found f WHERE f.code = w.code)
       ON CONFLICT (livemode, code) DO UPDATE SET code = EXCLUDED.code
       RETURNING id, code)
     SELECT id, code FROM found UNION ALL SELECT id, code FROM opened`,
    [
      columns.code,
      columns.kind,
      columns.merchant,
      more.operator,
      more.currency,
      more.side,
      more.tracked,
      livemode,
    ],
  );
  const ids = new Map(rows.map((r) => [r.code, Number(r.id)]));
  for (const code of wanted.keys()) if (!ids.has(code)) throw new Error(`ledger account ${code} not found`);
  return ids;
}

export interface Posting {
  paymentId: string;
  step: PostingStep;
  /**
   * The entry credits the payment (a payin collected): at most one such entry per payment,
   * whatever its step, enforced by the database (DESIGN.md rule 8).
   */
  credit?: boolean;
  description: string;
  /** Positive = debit, negative = credit; zero lines are dropped. */
  lines: { account: AccountRef; amount: number }[];
}

/**
 * Posts an entry inside the caller's transaction. Returns false when this (payment, step) was
 * already posted, or when the entry credits a payment already credited by another step:
 * postings are idempotent, so an activity may safely run again, and a second path that reaches
 * a success cannot credit twice.
 */
export async function post(client: PoolClient, p: Posting | undefined): Promise<boolean> {
  if (!p) return false;
  const lines = p.lines.filter((l) => l.amount !== 0);
  const total = lines.reduce((sum, l) => sum + l.amount, 0);
  if (total !== 0) throw new Error(`posting ${p.step} for ${p.paymentId} does not balance (${total})`);
  if (lines.length === 0) throw new Error(`posting ${p.step} for ${p.paymentId} has no lines`);
  const ids = await accountIds(
    client,
    lines.map((l) => l.account),
  );
  // Accounts are touched in id order so that concurrent postings cannot deadlock.
  const resolved = lines
    .map((l) => ({ id: ids.get(accountCode(l.account))!, currency: l.account.currency, amount: l.amount }))
    .sort((a, b) => a.id - b.id);
  try {
    // The entry and its lines in one statement (the lines in account order); none when the
    // entry was posted already.
    const posted = await client.query(
      `WITH entry AS (
         INSERT INTO journal_entries (payment_id, step, description, credits_payment) VALUES ($1, $2, $3, $4)
         ON CONFLICT DO NOTHING RETURNING id)
       INSERT INTO ledger_lines (entry_id, account_id, currency, amount)
       SELECT entry.id, l.account_id, l.currency, l.amount
         FROM entry, unnest($5::bigint[], $6::text[], $7::bigint[]) WITH ORDINALITY AS l(account_id, currency, amount, n)
        ORDER BY l.n`,
      [
        p.paymentId,
        p.step,
        p.description,
        p.credit === true,
        resolved.map((l) => l.id),
        resolved.map((l) => l.currency),
        resolved.map((l) => l.amount),
      ],
    );
    return (posted.rowCount ?? 0) > 0;
  } catch (err) {
    // The caller's transaction is aborted either way; name the one failure a merchant must hear about.
    if ((err as { constraint?: string }).constraint === 'merchant_balance_not_negative') {
      throw new InsufficientBalanceError(`balance too low for ${p.step} of ${p.paymentId}`);
    }
    throw err;
  }
}

// ------------------------------------------------------------------ the posting table

const available = (p: PaymentRecord): AccountRef => ({
  livemode: p.livemode,
  kind: 'merchant_available',
  merchantId: p.merchantId,
  currency: p.currency,
});
const held = (p: PaymentRecord): AccountRef => ({
  livemode: p.livemode,
  kind: 'merchant_held',
  merchantId: p.merchantId,
  currency: p.currency,
});
const clearing = (p: PaymentRecord): AccountRef => ({
  livemode: p.livemode,
  kind: 'operator_clearing',
  operator: p.operator,
  currency: p.currency,
});
const fees = (p: PaymentRecord): AccountRef => ({
  livemode: p.livemode,
  kind: 'fees_revenue',
  currency: p.currency,
});

const transit = (p: PaymentRecord): AccountRef => ({
  livemode: p.livemode,
  kind: 'transfer_transit',
  transferId: p.transferId!,
  currency: p.currency,
});

/**
 * Payin succeeded: the operator owes us the amount; the merchant is owed it net of our fee. A
 * transfer's collection goes to the transfer's transit account instead.
 */
export function payinSucceededPosting(
  p: PaymentRecord,
  step: 'payin_succeeded' | 'late_payin_succeeded' = 'payin_succeeded',
): Posting {
  if (p.transferId) {
    return {
      paymentId: p.id,
      step,
      credit: true,
      description: `transfer ${p.transferId}: collected from the sender through ${p.operator}`,
      lines: [
        { account: clearing(p), amount: p.amount },
        { account: transit(p), amount: -p.amount },
      ],
    };
  }
  return {
    paymentId: p.id,
    step,
    credit: true,
    description: `${step === 'late_payin_succeeded' ? 'late ' : ''}payin ${p.id} collected through ${p.operator}`,
    lines: [
      { account: clearing(p), amount: p.amount },
      { account: available(p), amount: -(p.amount - p.feeAmount) },
      { account: fees(p), amount: -p.feeAmount },
    ],
  };
}

/**
 * Our fee on a payin goes back to the merchant (a late payin refunded in full by the merchant's
 * policy: the merchant ends where it was, and we earn nothing on it).
 */
export function feeReturnPosting(p: PaymentRecord): Posting | undefined {
  if (p.transferId || p.feeAmount === 0) return undefined;
  return {
    paymentId: p.id,
    step: 'fee_return',
    description: `fee on payin ${p.id} returned: the payin is refunded by policy`,
    lines: [
      { account: fees(p), amount: p.feeAmount },
      { account: available(p), amount: -p.feeAmount },
    ],
  };
}

/**
 * Payout or refund accepted: its amount and fee move from available to held. A transfer leg is
 * paid from the transfer's transit money, which needs no hold (none of it is the merchant's).
 */
export function holdPosting(p: PaymentRecord): Posting | undefined {
  if (p.transferId) return undefined;
  const total = p.amount + p.feeAmount;
  return {
    paymentId: p.id,
    step: 'hold',
    description: `hold for ${p.kind} ${p.id}`,
    lines: [
      { account: available(p), amount: total },
      { account: held(p), amount: -total },
    ],
  };
}

/** Payout or refund executed: the hold (or the transfer's transit money) pays the operator's disbursement and our fee. */
export function capturePosting(p: PaymentRecord): Posting {
  return {
    paymentId: p.id,
    step: 'capture',
    description: p.transferId
      ? `transfer ${p.transferId}: ${p.kind === 'refund' ? 'sender refunded' : 'recipient paid'} through ${p.operator}`
      : `${p.kind} ${p.id} paid out through ${p.operator}`,
    lines: [
      { account: p.transferId ? transit(p) : held(p), amount: p.amount + p.feeAmount },
      { account: clearing(p), amount: -p.amount },
      { account: fees(p), amount: -p.feeAmount },
    ],
  };
}

/** Payout or refund definitively failed: the hold goes back to available (a transfer's money stays in transit). */
export function releasePosting(p: PaymentRecord): Posting | undefined {
  if (p.transferId) return undefined;
  const total = p.amount + p.feeAmount;
  return {
    paymentId: p.id,
    step: 'release',
    description: `release of ${p.kind} ${p.id}`,
    lines: [
      { account: held(p), amount: total },
      { account: available(p), amount: -total },
    ],
  };
}

// ------------------------------------------------------------------ reading the books

export interface MerchantBalance {
  currency: CurrencyCode;
  available: number;
  onHold: number;
}

/** A merchant's balances per currency, from the tracked balances (checked against the lines in tests). */
export async function merchantBalances(
  db: Queryable,
  merchantId: string,
  livemode: boolean,
): Promise<MerchantBalance[]> {
  const { rows } = await db.query<{ currency: CurrencyCode; available: number; held: number }>(
    `SELECT currency,
            COALESCE(sum(balance) FILTER (WHERE kind = 'merchant_available'), 0)::bigint AS available,
            COALESCE(sum(balance) FILTER (WHERE kind = 'merchant_held'), 0)::bigint AS held
       FROM ledger_accounts WHERE merchant_id = $1 AND livemode = $2 GROUP BY currency ORDER BY currency`,
    [merchantId, livemode],
  );
  return rows.map((r) => ({ currency: r.currency, available: r.available, onHold: r.held }));
}

export interface LedgerEntryView {
  id: number;
  paymentId: string;
  step: string;
  description: string;
  createdAt: Date;
  lines: { account: string; kind: AccountKind; currency: string; amount: number }[];
}

/** Entries that move a merchant's accounts, newest first, with only that merchant's lines. */
export async function merchantLedgerEntries(
  db: Queryable,
  q: { merchantId: string; livemode: boolean; paymentId?: string; limit: number; beforeId?: number },
): Promise<{ entries: LedgerEntryView[]; hasMore: boolean }> {
  const { rows } = await db.query<{
    id: number;
    payment_id: string;
    step: string;
    description: string;
    created_at: Date;
    lines: { account: string; kind: AccountKind; currency: string; amount: number }[];
  }>(
    `SELECT e.id, e.payment_id, e.step, e.description, e.created_at,
            json_agg(json_build_object('account', a.code, 'kind', a.kind, 'currency', l.currency, 'amount', l.amount)
                     ORDER BY l.id) AS lines
       FROM journal_entries e
       JOIN ledger_lines l ON l.entry_id = e.id
       JOIN ledger_accounts a ON a.id = l.account_id
      WHERE a.merchant_id = $1 AND a.livemode = $5
        AND ($2::text IS NULL OR e.payment_id = $2)
        AND ($3::bigint IS NULL OR e.id < $3)
      GROUP BY e.id
      ORDER BY e.id DESC
      LIMIT $4`,
    [q.merchantId, q.paymentId ?? null, q.beforeId ?? null, q.limit + 1, q.livemode],
  );
  return {
    entries: rows.slice(0, q.limit).map((r) => ({
      id: r.id,
      paymentId: r.payment_id,
      step: r.step,
      description: r.description,
      createdAt: r.created_at,
      lines: r.lines.map((l) => ({ ...l, amount: Number(l.amount) })),
    })),
    hasMore: rows.length > q.limit,
  };
}

export interface LedgerCheck {
  unbalancedEntries: number;
  entriesWithoutLines: number;
  cachedBalanceMismatches: number;
  negativeMerchantBalances: number;
}

/** Proves the books: every entry sums to zero, cached balances equal their lines, none negative. */
export async function checkLedger(db: Queryable): Promise<LedgerCheck> {
  const { rows } = await db.query<{
    unbalanced: number;
    empty: number;
    mismatched: number;
    negative: number;
  }>(
    `SELECT
       (SELECT count(*) FROM (SELECT entry_id FROM ledger_lines GROUP BY entry_id, currency HAVING sum(amount) <> 0) u)::int AS unbalanced,
       (SELECT count(*) FROM journal_entries e WHERE NOT EXISTS (SELECT 1 FROM ledger_lines l WHERE l.entry_id = e.id))::int AS empty,
       (SELECT count(*) FROM ledger_accounts a
         WHERE a.track_balance
           AND a.balance <> COALESCE((SELECT sum(CASE a.normal_side WHEN 'debit' THEN l.amount ELSE -l.amount END)
                                        FROM ledger_lines l WHERE l.account_id = a.id), 0))::int AS mismatched,
       (SELECT count(*) FROM ledger_accounts a
         WHERE a.merchant_id IS NOT NULL
           AND COALESCE((SELECT sum(-l.amount) FROM ledger_lines l WHERE l.account_id = a.id), 0) < 0)::int AS negative`,
  );
  const r = rows[0]!;
  return {
    unbalancedEntries: r.unbalanced,
    entriesWithoutLines: r.empty,
    cachedBalanceMismatches: r.mismatched,
    negativeMerchantBalances: r.negative,
  };
}

/** What a merchant's open payins may add to its balance once they succeed (net of fees), per currency. */
export async function pendingPayinTotals(
  db: Queryable,
  merchantId: string,
  livemode: boolean,
): Promise<{ currency: string; pending: number }[]> {
  const { rows } = await db.query<{ currency: string; pending: number }>(
    `SELECT currency, sum(amount - fee_amount)::bigint AS pending FROM payments
      WHERE merchant_id = $1 AND livemode = $2 AND kind = 'payin'
        AND status IN ('created', 'pending', 'action_required')
      GROUP BY currency`,
    [merchantId, livemode],
  );
  return rows;
}
