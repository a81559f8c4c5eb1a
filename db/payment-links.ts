import type { CurrencyCode } from '../lib/money.js';
import { keysetPage, type Page, type PageCursor } from './pagination.js';
import type { PoolClient, Queryable } from './pool.js';

export const LINK_PRICINGS = ['fixed', 'variable', 'floor', 'collection'] as const;
export type LinkPricing = (typeof LINK_PRICINGS)[number];
export const PAYER_FIELDS = ['name', 'email', 'phone'] as const;
export type PayerField = (typeof PAYER_FIELDS)[number];
export type AfterPayment = { type: 'message'; message: string } | { type: 'redirect'; url: string };

export interface PaymentLink {
  id: string;
  merchantId: string;
  livemode: boolean;
  slug: string;
  title: string;
  description: string | null;
  pricing: LinkPricing;
  currency: CurrencyCode;
  amount: number | null;
  goalAmount: number | null;
  salesLimit: number | null;
  expiresAt: Date | null;
  collect: PayerField[];
  afterPayment: AfterPayment;
  active: boolean;
  createdAt: Date;
  updatedAt: Date;
}

interface LinkRow {
  id: string;
  merchant_id: string;
  livemode: boolean;
  slug: string;
  title: string;
  description: string | null;
  pricing: LinkPricing;
  currency: string;
  amount: string | null;
  goal_amount: string | null;
  sales_limit: number | null;
  expires_at: Date | null;
  collect: PayerField[];
  after_payment: AfterPayment;
  active: boolean;
  created_at: Date;
  updated_at: Date;
}

const toLink = (r: LinkRow): PaymentLink => ({
  id: r.id,
  merchantId: r.merchant_id,
  livemode: r.livemode,
  slug: r.slug,
  title: r.title,
  description: r.description,
  pricing: r.pricing,
  currency: r.currency as CurrencyCode,
  amount: r.amount === null ? null : Number(r.amount),
  goalAmount: r.goal_amount === null ? null : Number(r.goal_amount),
  salesLimit: r.sales_limit,
  expiresAt: r.expires_at,
  collect: r.collect,
  afterPayment: r.after_payment,
  active: r.active,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
});

export type NewPaymentLink = Omit<PaymentLink, 'active' | 'createdAt' | 'updatedAt'>;

/** Inserts a link; undefined when its slug is taken (by any merchant: the page is public). */
export async function insertPaymentLink(db: Queryable, l: NewPaymentLink): Promise<PaymentLink | undefined> {
  const { rows } = await db.query<LinkRow>(
    `INSERT INTO payment_links (id, merchant_id, livemode, slug, title, description, pricing, currency, amount,
                                goal_amount, sales_limit, expires_at, collect, after_payment)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
     ON CONFLICT (slug) DO NOTHING
     RETURNING *`,
    [
      l.id,
      l.merchantId,
      l.livemode,
      l.slug,
      l.title,
      l.description,
      l.pricing,
      l.currency,
      l.amount,
      l.goalAmount,
      l.salesLimit,
      l.expiresAt,
      l.collect,
      JSON.stringify(l.afterPayment),
    ],
  );
  return rows[0] && toLink(rows[0]);
}

export async function getPaymentLink(db: Queryable, id: string): Promise<PaymentLink | undefined> {
  const { rows } = await db.query<LinkRow>('SELECT * FROM payment_links WHERE id = $1', [id]);
  return rows[0] && toLink(rows[0]);
}

export async function getMerchantPaymentLink(
  db: Queryable,
  owner: { merchantId: string; livemode: boolean },
  id: string,
): Promise<PaymentLink | undefined> {
  const { rows } = await db.query<LinkRow>(
    'SELECT * FROM payment_links WHERE id = $1 AND merchant_id = $2 AND livemode = $3',
    [id, owner.merchantId, owner.livemode],
  );
  return rows[0] && toLink(rows[0]);
}

export async function getPaymentLinkBySlug(db: Queryable, slug: string): Promise<PaymentLink | undefined> {
  const { rows } = await db.query<LinkRow>('SELECT * FROM payment_links WHERE slug = $1', [slug]);
  return rows[0] && toLink(rows[0]);
}

export async function listPaymentLinks(
  db: Queryable,
  q: { merchantId: string; livemode: boolean; limit: number; after?: PageCursor },
): Promise<Page<PaymentLink>> {
  const params: unknown[] = [q.merchantId, q.livemode, q.limit + 1];
  let where = 'merchant_id = $1 AND livemode = $2';
  if (q.after) {
    params.push(q.after.createdAt, q.after.id);
    where += ` AND (created_at, id) < ($4::timestamptz, $5)`;
  }
  const { rows } = await db.query<LinkRow & { cursor_ts: string }>(
    `SELECT *, created_at::text AS cursor_ts FROM payment_links WHERE ${where}
      ORDER BY created_at DESC, id DESC LIMIT $3`,
    params,
  );
  return keysetPage(rows, q.limit, toLink);
}

/** The settings a merchant may change once a link is out: whether it takes payers, and its limits. */
export async function updatePaymentLink(
  db: Queryable,
  id: string,
  change: { active?: boolean; salesLimit?: number | null; expiresAt?: Date | null },
): Promise<PaymentLink> {
  const { rows } = await db.query<LinkRow>(
    `UPDATE payment_links
        SET active = COALESCE($2, active),
            sales_limit = CASE WHEN $3 THEN $4 ELSE sales_limit END,
            expires_at = CASE WHEN $5 THEN $6 ELSE expires_at END,
            updated_at = now()
      WHERE id = $1 RETURNING *`,
    [
      id,
      change.active ?? null,
      change.salesLimit !== undefined,
      change.salesLimit ?? null,
      change.expiresAt !== undefined,
      change.expiresAt ?? null,
    ],
  );
  return toLink(rows[0]!);
}

/**
 * Places taken under a link, with the link's row locked (call inside the transaction that records
 * the new payer's payin): every payin of the link that has not ended unpaid. A sales limit
 * compared with this is never exceeded, however many payers arrive at once.
 */
export async function lockLinkPlaces(client: PoolClient, linkId: string): Promise<number> {
  await client.query('SELECT 1 FROM payment_links WHERE id = $1 FOR UPDATE', [linkId]);
  const { rows } = await client.query<{ taken: number }>(
    `SELECT count(*)::int AS taken FROM payments
      WHERE payment_link_id = $1 AND status NOT IN ('failed', 'expired', 'cancelled')`,
    [linkId],
  );
  return rows[0]!.taken;
}

export interface LinkTotals {
  /** Payins of the link that succeeded (each payer once, whatever their attempts). */
  succeeded: number;
  /** Gross amount credited through the link's payins, from the ledger's credit entries. */
  collected: number;
  /** Of which refunded (refunds captured in the ledger). */
  refunded: number;
}

/** What the link brought in, read from the ledger (journal entries of its payins' attempts). */
export async function paymentLinkTotals(db: Queryable, linkId: string): Promise<LinkTotals> {
  const { rows } = await db.query<{ succeeded: number; collected: string; refunded: string }>(
    `WITH attempts AS (
       SELECT a.id, a.attempt_of FROM payments i JOIN payments a ON a.attempt_of = i.id
        WHERE i.payment_link_id = $1
     ), credits AS (
       SELECT t.attempt_of, l.amount
         FROM attempts t
         JOIN journal_entries e ON e.payment_id = t.id AND e.credits_payment
         JOIN ledger_lines l ON l.entry_id = e.id AND l.amount > 0
     ), refunds AS (
       SELECT r.amount FROM payments r JOIN attempts t ON r.parent_payment_id = t.id
        WHERE r.kind = 'refund'
          AND EXISTS (SELECT 1 FROM journal_entries e WHERE e.payment_id = r.id AND e.step = 'capture')
     )
     SELECT (SELECT count(DISTINCT attempt_of) FROM credits)::int AS succeeded,
            (SELECT COALESCE(sum(amount), 0) FROM credits)::bigint AS collected,
            (SELECT COALESCE(sum(amount), 0) FROM refunds)::bigint AS refunded`,
    [linkId],
  );
  const r = rows[0]!;
  return { succeeded: r.succeeded, collected: Number(r.collected), refunded: Number(r.refunded) };
}
