import type { CurrencyCode } from '../lib/money.js';
import { recordTransferEvent } from './events.js';
import type { PaymentFailure } from '../lib/payments.js';
import { inTransaction, type Pool, type PoolClient, type Queryable } from './pool.js';
import { keysetPage, type Page, type PageCursor } from './pagination.js';

export const TRANSFER_STATUSES = [
  'created',
  'collecting',
  'disbursing',
  'awaiting_resolution',
  'refunding',
  'completed',
  'refunded',
  'failed',
  'needs_review',
] as const;
export type TransferStatus = (typeof TRANSFER_STATUSES)[number];

export const FINAL_TRANSFER_STATUSES: ReadonlySet<TransferStatus> = new Set([
  'completed',
  'refunded',
  'failed',
]);

/** A transfer's sender or recipient: the number is in the vault (db/personal-vault.ts). */
export interface TransferParty {
  phoneToken: string;
  /** +226******77 */
  phoneMasked: string;
  network: string;
  operator: string;
}

export interface TransferRecord {
  id: string;
  merchantId: string;
  livemode: boolean;
  status: TransferStatus;
  currency: CurrencyCode;
  collectAmount: number;
  disburseAmount: number;
  feeAmount: number;
  feeBearer: 'sender' | 'recipient';
  sender: TransferParty;
  recipient: TransferParty;
  description: string | null;
  metadata: Record<string, string>;
  failure: PaymentFailure | null;
  workflowId: string;
  createdAt: Date;
  updatedAt: Date;
  completedAt: Date | null;
}

interface TransferRow {
  id: string;
  merchant_id: string;
  livemode: boolean;
  status: TransferStatus;
  currency: string;
  collect_amount: number;
  disburse_amount: number;
  fee_amount: number;
  fee_bearer: 'sender' | 'recipient';
  sender: TransferParty;
  recipient: TransferParty;
  description: string | null;
  metadata: Record<string, string>;
  failure_code: string | null;
  failure_message: string | null;
  workflow_id: string;
  created_at: Date;
  updated_at: Date;
  completed_at: Date | null;
}

function toRecord(r: TransferRow): TransferRecord {
  return {
    id: r.id,
    merchantId: r.merchant_id,
    livemode: r.livemode,
    status: r.status,
    currency: r.currency as CurrencyCode,
    collectAmount: r.collect_amount,
    disburseAmount: r.disburse_amount,
    feeAmount: r.fee_amount,
    feeBearer: r.fee_bearer,
    sender: r.sender,
    recipient: r.recipient,
    description: r.description,
    metadata: r.metadata,
    failure: r.failure_code ? { code: r.failure_code, message: r.failure_message ?? '' } : null,
    workflowId: r.workflow_id,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
    completedAt: r.completed_at,
  };
}

export type NewTransfer = Omit<
  TransferRecord,
  'status' | 'failure' | 'createdAt' | 'updatedAt' | 'completedAt'
>;

export async function insertTransfer(db: PoolClient, t: NewTransfer): Promise<boolean> {
  const { rows } = await db.query<TransferRow>(
    `INSERT INTO transfers (id, merchant_id, status, currency, collect_amount, disburse_amount, fee_amount, fee_bearer,
                            sender, recipient, description, metadata, workflow_id, livemode)
     VALUES ($1, $2, 'created', $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) ON CONFLICT (id) DO NOTHING
     RETURNING *`,
    [
      t.id,
      t.merchantId,
      t.currency,
      t.collectAmount,
      t.disburseAmount,
      t.feeAmount,
      t.feeBearer,
      JSON.stringify(t.sender),
      JSON.stringify(t.recipient),
      t.description,
      JSON.stringify(t.metadata),
      t.workflowId,
      t.livemode,
    ],
  );
  const row = rows[0];
  if (!row) return false;
  await db.query(
    `INSERT INTO transfer_events (transfer_id, step, from_status, to_status, reason) VALUES ($1, 'create', NULL, 'created', 'created by the merchant')`,
    [t.id],
  );
  await recordTransferEvent(db, toRecord(row), 'create');
  return true;
}

/** A transfer; with an owner, only if it is that merchant's in that mode (another reads as absent). */
export async function getTransfer(
  db: Queryable,
  id: string,
  owner?: { merchantId: string; livemode: boolean },
): Promise<TransferRecord | undefined> {
  const { rows } = await db.query<TransferRow>(
    `SELECT * FROM transfers WHERE id = $1
        AND ($2::text IS NULL OR (merchant_id = $2 AND livemode = $3))`,
    [id, owner?.merchantId ?? null, owner?.livemode ?? null],
  );
  return rows[0] && toRecord(rows[0]);
}

export async function listTransfers(
  db: Queryable,
  q: { merchantId: string; livemode: boolean; status?: string; limit: number; after?: PageCursor },
): Promise<Page<TransferRecord>> {
  const params: unknown[] = [q.merchantId, q.limit + 1, q.livemode];
  let where = 'merchant_id = $1 AND livemode = $3';
  if (q.status) {
    params.push(q.status);
    where += ` AND status = $${params.length}`;
  }
  if (q.after) {
    params.push(q.after.createdAt, q.after.id);
    where += ` AND (created_at, id) < ($${params.length - 1}::timestamptz, $${params.length})`;
  }
  const { rows } = await db.query<TransferRow & { cursor_ts: string }>(
    `SELECT *, created_at::text AS cursor_ts FROM transfers WHERE ${where} ORDER BY created_at DESC, id DESC LIMIT $2`,
    params,
  );
  return keysetPage(rows, q.limit, toRecord);
}

/** Moves a transfer to a status with an event; idempotent per step (activities may run twice). */
export async function setTransferStatus(
  pool: Pool,
  t: { transferId: string; step: string; to: TransferStatus; reason: string; failure?: PaymentFailure },
): Promise<TransferStatus> {
  return inTransaction(pool, async (client) => {
    const { rows } = await client.query<{ status: TransferStatus }>(
      'SELECT status FROM transfers WHERE id = $1 FOR UPDATE',
      [t.transferId],
    );
    const from = rows[0]?.status;
    if (!from) throw new Error(`transfer ${t.transferId} does not exist`);
    const seen = await client.query('SELECT 1 FROM transfer_events WHERE transfer_id = $1 AND step = $2', [
      t.transferId,
      t.step,
    ]);
    if (seen.rowCount || FINAL_TRANSFER_STATUSES.has(from)) return from;
    await client.query(
      'INSERT INTO transfer_events (transfer_id, step, from_status, to_status, reason) VALUES ($1, $2, $3, $4, $5)',
      [t.transferId, t.step, from, t.to, t.reason],
    );
    const updated = await client.query<TransferRow>(
      `UPDATE transfers SET status = $2, failure_code = COALESCE($3, failure_code), failure_message = COALESCE($4, failure_message),
              updated_at = now(), completed_at = CASE WHEN $5 THEN now() ELSE completed_at END
        WHERE id = $1
        RETURNING *`,
      [
        t.transferId,
        t.to,
        t.failure?.code ?? null,
        t.failure?.message ?? null,
        FINAL_TRANSFER_STATUSES.has(t.to),
      ],
    );
    if (from !== t.to) await recordTransferEvent(client, toRecord(updated.rows[0]!), t.step);
    return t.to;
  });
}

export interface TransferEvent {
  step: string;
  fromStatus: string | null;
  toStatus: string;
  reason: string | null;
  createdAt: Date;
}

export async function listTransferEvents(db: Queryable, transferId: string): Promise<TransferEvent[]> {
  const { rows } = await db.query<{
    step: string;
    from_status: string | null;
    to_status: string;
    reason: string | null;
    created_at: Date;
  }>(
    'SELECT step, from_status, to_status, reason, created_at FROM transfer_events WHERE transfer_id = $1 ORDER BY id',
    [transferId],
  );
  return rows.map((r) => ({
    step: r.step,
    fromStatus: r.from_status,
    toStatus: r.to_status,
    reason: r.reason,
    createdAt: r.created_at,
  }));
}

/** Transfers collected through an operator, not finished, untouched for ten minutes: is their workflow still there? */
export async function listStalledTransfers(
  db: Queryable,
  q: { operator: string; lookbackDays: number; limit: number },
): Promise<{ id: string; workflowId: string }[]> {
  const { rows } = await db.query<{ id: string; workflow_id: string }>(
    `SELECT id, workflow_id FROM transfers
      WHERE sender->>'operator' = $1 AND status NOT IN ('completed', 'refunded', 'failed', 'needs_review')
        AND updated_at < now() - interval '10 minutes' AND created_at > now() - make_interval(days => $2)
      ORDER BY updated_at LIMIT $3`,
    [q.operator, q.lookbackDays, q.limit],
  );
  return rows.map((r) => ({ id: r.id, workflowId: r.workflow_id }));
}

/** The ids and kinds of a transfer's legs, oldest first. */
export async function listTransferLegs(
  db: Queryable,
  transferId: string,
): Promise<{ id: string; kind: string }[]> {
  const { rows } = await db.query<{ id: string; kind: string }>(
    'SELECT id, kind FROM payments WHERE transfer_id = $1 ORDER BY created_at, id',
    [transferId],
  );
  return rows;
}

/**
 * Serialises the creation of one transfer (two requests with one Idempotency-Key at once) until
 * the transaction ends.
 */
export async function lockTransferCreation(client: PoolClient, transferId: string): Promise<void> {
  await client.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [transferId]);
}
