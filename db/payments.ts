import type { CurrencyCode } from '../lib/money.js';
import { recordPaymentEvent } from './events.js';
import {
  canTransition,
  PAYMENT_STATUSES,
  isFinal,
  type NextAction,
  type PaymentFailure,
  type PaymentKind,
  type PaymentStatus,
  type PayerLanguage,
} from '../lib/payments.js';
import { openPersonalData, type KeyRing } from '../lib/card-vault.js';
import {
  forgetVaultedData,
  openVaultedData,
  sealPhone,
  vaultInsertSql,
  vaultPersonalData,
  vaultPhone,
  vaultRowParams,
} from './personal-vault.js';
import { inTransaction, type Pool, type PoolClient, type Queryable } from './pool.js';
import { reserveSlotCte, type PacedLane } from './operator-pacing.js';
import { keysetPage, type Page, type PageCursor } from './pagination.js';

/**
 * The payer (a payin) or the recipient (a payout, a refund). Its phone number is in the vault
 * (db/personal-vault.ts, issue 19): the row keeps the vault's token and the number masked.
 */
export interface PaymentCustomer {
  phoneToken?: string;
  /** The country code and the last two digits (+226******77): what people and the API see. */
  phoneMasked?: string;
  firstName?: string;
  lastName?: string;
  email?: string;
  /** The language of the payer's pages (`fr` unless the merchant says otherwise). */
  language?: PayerLanguage;
}

export interface PaymentRecord {
  id: string;
  merchantId: string;
  /** Its mode, the mode of the key that made it: test payments go to the sandbox operators. */
  livemode: boolean;
  kind: PaymentKind;
  status: PaymentStatus;
  amount: number;
  currency: CurrencyCode;
  operator: string;
  network: string | null;
  mode: string;
  customer: PaymentCustomer;
  description: string | null;
  returnUrl: string | null;
  cancelUrl: string | null;
  metadata: Record<string, string>;
  operatorReference: string | null;
  nextAction: NextAction | null;
  failure: PaymentFailure | null;
  operatorStatus: string | null;
  operatorMessage: string | null;
  initiationAttempts: number;
  /** Our fee in minor units: deducted from a payin's credit, added to a payout's or refund's debit. */
  feeAmount: number;
  /** For a refund: the payin it refunds. */
  parentPaymentId: string | null;
  /** When the payment is a leg of a transfer (collection, disbursement or refund). */
  transferId: string | null;
  /** For an attempt of a hosted payin (docs/checkout.md): the payin the payer is paying. */
  attemptOf: string | null;
  /** A payin made on a payment link's page (docs/payment-links.md). */
  paymentLinkId: string | null;
  deadlineAt: Date | null;
  workflowId: string;
  createdAt: Date;
  updatedAt: Date;
  completedAt: Date | null;
}

interface PaymentRow {
  id: string;
  merchant_id: string;
  livemode: boolean;
  kind: PaymentKind;
  status: PaymentStatus;
  amount: number;
  currency: string;
  operator: string;
  network: string | null;
  mode: string;
  customer: PaymentCustomer;
  description: string | null;
  return_url: string | null;
  cancel_url: string | null;
  metadata: Record<string, string>;
  operator_reference: string | null;
  next_action: NextAction | null;
  failure_code: string | null;
  failure_message: string | null;
  operator_status: string | null;
  operator_message: string | null;
  initiation_attempts: number;
  fee_amount: number;
  parent_payment_id: string | null;
  transfer_id: string | null;
  attempt_of: string | null;
  payment_link_id: string | null;
  deadline_at: Date | null;
  workflow_id: string;
  created_at: Date;
  updated_at: Date;
  completed_at: Date | null;
}

function toRecord(row: PaymentRow): PaymentRecord {
  return {
    id: row.id,
    merchantId: row.merchant_id,
    livemode: row.livemode,
    kind: row.kind,
    status: row.status,
    amount: row.amount,
    currency: row.currency as CurrencyCode,
    operator: row.operator,
    network: row.network,
    mode: row.mode,
    customer: row.customer,
    description: row.description,
    returnUrl: row.return_url,
    cancelUrl: row.cancel_url,
    metadata: row.metadata,
    operatorReference: row.operator_reference,
    nextAction: row.next_action,
    failure: row.failure_code ? { code: row.failure_code, message: row.failure_message ?? '' } : null,
    operatorStatus: row.operator_status,
    operatorMessage: row.operator_message,
    initiationAttempts: row.initiation_attempts,
    feeAmount: row.fee_amount,
    parentPaymentId: row.parent_payment_id,
    transferId: row.transfer_id,
    attemptOf: row.attempt_of,
    paymentLinkId: row.payment_link_id,
    deadlineAt: row.deadline_at,
    workflowId: row.workflow_id,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    completedAt: row.completed_at,
  };
}

export interface NewPayment {
  id: string;
  merchantId: string;
  livemode: boolean;
  kind: PaymentKind;
  amount: number;
  currency: CurrencyCode;
  operator: string;
  network?: string;
  mode: string;
  /**
   * A phone number in clear (E.164), which insertPayment puts in the vault, or one the vault
   * has already (another payment's token: a refund to its payin's payer).
   */
  customer: PaymentCustomer & { phone?: string };
  description?: string;
  returnUrl?: string;
  cancelUrl?: string;
  metadata: Record<string, string>;
  feeAmount?: number;
  parentPaymentId?: string;
  transferId?: string;
  attemptOf?: string;
  paymentLinkId?: string;
  deadlineAt: Date;
  workflowId: string;
}

/**
 * Inserts a payment in `created` with its first event and returns it; a second call with the same
 * id is a no-op and returns undefined. A phone number goes to the vault (`vault`, the key ring),
 * in the same transaction, only when the payment is new.
 */
export async function insertPayment(
  db: Pool | PoolClient,
  p: NewPayment,
  vault?: KeyRing,
): Promise<PaymentRecord | undefined> {
  // The payment, its first transition and the merchant's event are one fact: one transaction.
  if (!('release' in db)) return inTransaction(db, (client) => insertPayment(client, p, vault));
  const { phone, ...customer } = p.customer;
  if (phone !== undefined && !vault) throw new Error('a phone number goes to the vault: give its key ring');
  const vaulted = phone === undefined ? undefined : sealPhone(vault!, phone);
  // The row, its number in the vault and its first transition in one statement; nothing of it
  // when the id exists already.
  const inserted = await db.query<PaymentRow>(
    `WITH inserted AS (
       INSERT INTO payments (id, merchant_id, kind, status, amount, currency, operator, network, mode, customer,
                             description, return_url, cancel_url, metadata, deadline_at, workflow_id, fee_amount,
                             parent_payment_id, transfer_id, livemode, attempt_of, payment_link_id)
       VALUES ($1, $2, $3, 'created', $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21)
       ON CONFLICT (id) DO NOTHING
       RETURNING *),
     vaulted AS (${vaultInsertSql(22, 'EXISTS (SELECT 1 FROM inserted)')}),
     created AS (
       INSERT INTO payment_events (payment_id, step, from_status, to_status, actor, reason)
       SELECT id, 'create', NULL, 'created', 'api', 'created by the merchant' FROM inserted)
     SELECT * FROM inserted`,
    [
      p.id,
      p.merchantId,
      p.kind,
      p.amount,
      p.currency,
      p.operator,
      p.network ?? null,
      p.mode,
      JSON.stringify({ ...customer, ...vaulted?.phone }),
      p.description ?? null,
      p.returnUrl ?? null,
      p.cancelUrl ?? null,
      JSON.stringify(p.metadata),
      p.deadlineAt,
      p.workflowId,
      p.feeAmount ?? 0,
      p.parentPaymentId ?? null,
      p.transferId ?? null,
      p.livemode,
      p.attemptOf ?? null,
      p.paymentLinkId ?? null,
      ...vaultRowParams(vaulted ? [vaulted.sealed] : []),
    ],
  );
  const row = inserted.rows[0];
  if (!row) return undefined;
  const payment = toRecord(row);
  await recordPaymentEvent(db, payment, 'create');
  return payment;
}

export async function getPayment(db: Queryable, id: string): Promise<PaymentRecord | undefined> {
  const { rows } = await db.query<PaymentRow>('SELECT * FROM payments WHERE id = $1', [id]);
  return rows[0] && toRecord(rows[0]);
}

/**
 * getPayment for an activity about to call the payment's operator: reserves the call's slot in
 * the operator's lane (db/operator-pacing.ts) in the same statement. `waitMs`: how long to wait
 * for the slot.
 */
export async function getPaymentWithSlot(
  db: Queryable,
  id: string,
  slot: PacedLane,
): Promise<{ payment: PaymentRecord; waitMs: number } | undefined> {
  const { rows } = await db.query<PaymentRow & { slot_wait_ms: number }>(
    `WITH ${reserveSlotCte(2, 3)}
     SELECT p.*, slot.wait_ms AS slot_wait_ms FROM payments p CROSS JOIN slot WHERE p.id = $1`,
    [id, slot.lane, slot.intervalMs],
  );
  const row = rows[0];
  if (!row) return undefined;
  const { slot_wait_ms: waitMs, ...payment } = row;
  return { payment: toRecord(payment), waitMs };
}

/** A hosted payin's attempts (docs/checkout.md), oldest first, in one query. */
export async function listAttemptsOf(db: Queryable, intentId: string): Promise<PaymentRecord[]> {
  const { rows } = await db.query<PaymentRow>(
    'SELECT * FROM payments WHERE attempt_of = $1 ORDER BY created_at, id',
    [intentId],
  );
  return rows.map(toRecord);
}

/**
 * A merchant only ever sees its own payments of its key's mode: another merchant's id, or a
 * payment of the other mode, reads as absent.
 */
export async function getMerchantPayment(
  db: Queryable,
  merchantId: string,
  id: string,
  kind: PaymentKind,
  livemode: boolean,
): Promise<PaymentRecord | undefined> {
  const { rows } = await db.query<PaymentRow>(
    'SELECT * FROM payments WHERE id = $1 AND merchant_id = $2 AND kind = $3 AND livemode = $4',
    [id, merchantId, kind, livemode],
  );
  return rows[0] && toRecord(rows[0]);
}

/** Newest first, keyset pagination on (created_at, id); the cursor keeps PostgreSQL's microseconds. */
export async function listMerchantPayments(
  db: Queryable,
  q: {
    merchantId: string;
    livemode: boolean;
    kind: PaymentKind;
    status?: PaymentStatus;
    /** Only the payins made on this payment link's page. */
    paymentLinkId?: string;
    limit: number;
    after?: PageCursor;
  },
): Promise<Page<PaymentRecord>> {
  const params: unknown[] = [q.merchantId, q.kind, q.limit + 1, q.livemode];
  // A hosted payin's attempts are listed under it (its `attempts`), not beside it.
  let where = 'merchant_id = $1 AND kind = $2 AND livemode = $4 AND attempt_of IS NULL';
  if (q.paymentLinkId) {
    params.push(q.paymentLinkId);
    where += ` AND payment_link_id = $${params.length}`;
  }
  if (q.status) {
    params.push(q.status);
    where += ` AND status = $${params.length}`;
  }
  if (q.after) {
    params.push(q.after.createdAt, q.after.id);
    where += ` AND (created_at, id) < ($${params.length - 1}::timestamptz, $${params.length})`;
  }
  const { rows } = await db.query<PaymentRow & { cursor_ts: string }>(
    `SELECT *, created_at::text AS cursor_ts FROM payments WHERE ${where}
      ORDER BY created_at DESC, id DESC LIMIT $3`,
    params,
  );
  return keysetPage(rows, q.limit, toRecord);
}

export interface PaymentEvent {
  id: number;
  step: string;
  fromStatus: PaymentStatus | null;
  toStatus: PaymentStatus;
  actor: string;
  reason: string | null;
  operatorStatus: string | null;
  operatorMessage: string | null;
  callbackId: number | null;
  createdAt: Date;
}

export async function listPaymentEvents(db: Queryable, paymentId: string): Promise<PaymentEvent[]> {
  const { rows } = await db.query<{
    id: number;
    step: string;
    from_status: PaymentStatus | null;
    to_status: PaymentStatus;
    actor: string;
    reason: string | null;
    operator_status: string | null;
    operator_message: string | null;
    callback_id: number | null;
    created_at: Date;
  }>('SELECT * FROM payment_events WHERE payment_id = $1 ORDER BY id', [paymentId]);
  return rows.map((r) => ({
    id: r.id,
    step: r.step,
    fromStatus: r.from_status,
    toStatus: r.to_status,
    actor: r.actor,
    reason: r.reason,
    operatorStatus: r.operator_status,
    operatorMessage: r.operator_message,
    callbackId: r.callback_id,
    createdAt: r.created_at,
  }));
}

/**
 * Records that initiation attempt `attempt` is about to be sent. Returns false when that attempt
 * was already recorded, i.e. this is a re-run after a crash and the request may have gone out.
 */
export async function recordInitiationAttempt(
  db: Queryable,
  paymentId: string,
  attempt: number,
): Promise<boolean> {
  const { rowCount } = await db.query(
    'UPDATE payments SET initiation_attempts = $2, updated_at = now() WHERE id = $1 AND initiation_attempts < $2',
    [paymentId, attempt],
  );
  return rowCount === 1;
}

export interface Transition {
  paymentId: string;
  /** Unique per payment: the workflow step that decided the transition (makes re-runs no-ops). */
  step: string;
  to: PaymentStatus;
  actor: 'api' | 'workflow' | 'operator_callback' | 'status_check' | 'reconciliation';
  reason: string;
  operatorStatus?: string;
  operatorMessage?: string;
  operatorData?: unknown;
  callbackId?: number;
  operatorReference?: string;
  nextAction?: NextAction;
  failure?: PaymentFailure;
  /** The operator's per-payment callback secret (Orange's notif_token): stored as its SHA-256. */
  callbackSecret?: string;
  /** The send lease this owner holds, given back with the transition (activities/send-lease.ts). */
  releaseLeaseOf?: string;
}

export type TransitionResult =
  | { applied: true; payment: PaymentRecord }
  | { applied: false; reason: 'already_recorded' | 'not_allowed'; payment: PaymentRecord };

/**
 * Moves a payment to a new status and appends the event, atomically with `post` (the ledger
 * entries of the transition). Idempotent per (payment, step); refuses transitions the life cycle
 * of its kind does not allow (a final payment stays final). `post` runs only when the status
 * changes. An error from `post` undoes the whole transition.
 */
export async function applyTransition(
  pool: Pool,
  t: Transition,
  post?: (client: PoolClient, payment: PaymentRecord) => Promise<void>,
): Promise<TransitionResult> {
  return inTransaction(pool, async (client) => {
    // One statement, one round trip: the row locked, whether this step was recorded already (read
    // under the lock), the event and the new state when the life cycle allows it. It answers the
    // row as it was (`applied` false) and, when the transition was applied, the row as it is now.
    // A concurrent transaction that recorded the same step while this one waited for the lock is
    // not in the snapshot the check read: the event's conflict says it, and nothing is updated.
    const { rows } = await client.query<PaymentRow & { applied: boolean; step_recorded: boolean }>(
      `WITH current AS (
         SELECT p.* FROM payments p WHERE p.id = $1 FOR UPDATE OF p),
       seen AS (
         SELECT EXISTS (SELECT 1 FROM payment_events e WHERE e.payment_id = $1 AND e.step = $2) AS step_recorded),
       recorded AS (
         INSERT INTO payment_events (payment_id, step, from_status, to_status, actor, reason, operator_status,
                                     operator_message, operator_data, callback_id)
         SELECT c.id, $2, c.status, $3, $13, $14, $7, $8, $15, $16
           FROM current c, seen
          WHERE NOT seen.step_recorded AND (c.status = $3 OR c.kind || ':' || c.status = ANY ($12::text[]))
         ON CONFLICT (payment_id, step) DO NOTHING
         RETURNING payment_id),
       updated AS (
         UPDATE payments
            SET status = $3,
                operator_reference = COALESCE($4, operator_reference),
                next_action = CASE WHEN $9 THEN NULL ELSE COALESCE($5::jsonb, next_action) END,
                failure_code = COALESCE($6, failure_code),
                failure_message = COALESCE($17, failure_message),
                operator_status = COALESCE($7, operator_status),
                operator_message = COALESCE($8, operator_message),
                updated_at = now(),
                completed_at = CASE WHEN $9 THEN COALESCE(completed_at, now()) ELSE completed_at END,
                callback_secret_hash = COALESCE(sha256(convert_to($10::text, 'UTF8')), callback_secret_hash),
                send_lease_until = CASE WHEN send_lease_owner = $11 THEN NULL ELSE send_lease_until END,
                send_lease_owner = CASE WHEN send_lease_owner = $11 THEN NULL ELSE send_lease_owner END
           FROM recorded r
          WHERE payments.id = $1 AND r.payment_id = payments.id
          RETURNING payments.*)
       SELECT false AS applied, seen.step_recorded, c.* FROM current c, seen
       UNION ALL
       SELECT true, false, u.* FROM updated u`,
      [
        t.paymentId,
        t.step,
        t.to,
        t.operatorReference ?? null,
        t.nextAction ? JSON.stringify(t.nextAction) : null,
        t.failure?.code ?? null,
        t.operatorStatus ?? null,
        t.operatorMessage ?? null,
        isFinal(t.to),
        t.callbackSecret ?? null,
        t.releaseLeaseOf ?? null,
        statusesLeadingTo(t.to),
        t.actor,
        t.reason,
        t.operatorData === undefined ? null : JSON.stringify(t.operatorData),
        t.callbackId ?? null,
        t.failure?.message ?? null,
      ],
    );
    const found = rows.find((r) => !r.applied);
    if (!found) throw new Error(`payment ${t.paymentId} does not exist`);
    const { applied: _before, step_recorded: stepRecorded, ...row } = found;
    const updated = rows.find((r) => r.applied);
    if (!updated) {
      const refused = !stepRecorded && row.status !== t.to && !canTransition(row.status, t.to, row.kind);
      return { applied: false, reason: refused ? 'not_allowed' : 'already_recorded', payment: toRecord(row) };
    }
    const { applied: _after, step_recorded: _unused, ...now } = updated;
    const payment = toRecord(now);
    const sameStatus = row.status === t.to;
    // The merchant's event, in this transaction (the outbox); a change of status only.
    if (!sameStatus) await recordPaymentEvent(client, payment, t.step);
    // A transition that does not change the status records what it learnt (a reference, the
    // operator's words) but never moves money: the move belongs to the change itself (rule 8).
    // Posted last: the posting locks the merchant's balance row, which every payment of that
    // merchant ending at the same time waits for, so it is held only until the commit.
    if (post && !sameStatus) await post(client, payment);
    return { applied: true, payment };
  });
}

const PAYMENT_KINDS: readonly PaymentKind[] = ['payin', 'payout', 'refund'];

/**
 * For each status, the `kind:status` pairs a payment may move to it from (lib/payments.ts,
 * canTransition), as applyTransition's statement checks them; derived once from the life cycle.
 */
const LEADING_TO: ReadonlyMap<PaymentStatus, string[]> = new Map(
  PAYMENT_STATUSES.map((to) => [
    to,
    PAYMENT_KINDS.flatMap((kind) =>
      PAYMENT_STATUSES.filter((from) => canTransition(from, to, kind)).map((from) => `${kind}:${from}`),
    ),
  ]),
);

function statusesLeadingTo(to: PaymentStatus): string[] {
  return LEADING_TO.get(to)!;
}

/**
 * Whether a callback's secret is the one the operator handed out with the payment; `missing` when
 * none was recorded (the payment never reached the operator, or its answer was lost).
 */
export async function callbackSecretMatches(
  db: Queryable,
  paymentId: string,
  secret: string | undefined,
): Promise<'matches' | 'differs' | 'missing'> {
  const { rows } = await db.query<{ recorded: boolean; same: boolean | null }>(
    `SELECT callback_secret_hash IS NOT NULL AS recorded,
            callback_secret_hash = sha256(convert_to($2::text, 'UTF8')) AS same
       FROM payments WHERE id = $1`,
    [paymentId, secret ?? ''],
  );
  const row = rows[0];
  if (!row?.recorded) return 'missing';
  // Digests are compared, never the secret itself.
  return secret !== undefined && row.same ? 'matches' : 'differs';
}

/** Keeps the payer's OTP, in the vault, until the payin is sent (the first one given wins). */
export async function storePayinOtp(
  db: Queryable,
  vault: KeyRing,
  paymentId: string,
  otp: string,
): Promise<void> {
  const token = await vaultPersonalData(db, vault, 'otp', Buffer.from(otp, 'utf8'));
  const { rowCount } = await db.query(
    'INSERT INTO payin_authorisations (payment_id, otp_token) VALUES ($1, $2) ON CONFLICT (payment_id) DO NOTHING',
    [paymentId, token],
  );
  if (!rowCount) await forgetVaultedData(db, [token]);
}

/** The OTP waiting for a payin, opened from the vault (or as a row before the vault kept it). */
export async function readPayinOtp(
  db: Queryable,
  vault: KeyRing,
  paymentId: string,
): Promise<string | undefined> {
  const { rows } = await db.query<{ otp: string | null; otp_token: string | null }>(
    'SELECT otp, otp_token FROM payin_authorisations WHERE payment_id = $1',
    [paymentId],
  );
  const row = rows[0];
  if (!row) return undefined;
  if (row.otp_token) return (await openVaultedData(db, vault, row.otp_token))?.toString('utf8');
  return row.otp ?? undefined;
}

/** An OTP is single-use: forget it once the operator has answered, ciphertext included (one statement). */
export async function forgetPayinOtp(db: Queryable, paymentId: string): Promise<void> {
  await db.query(
    `WITH forgotten AS (DELETE FROM payin_authorisations WHERE payment_id = $1 RETURNING otp_token)
     DELETE FROM personal_vault WHERE token IN (SELECT otp_token FROM forgotten)`,
    [paymentId],
  );
}

/**
 * Keeps the payer's number the operator reported, in the vault, when the payment has none yet
 * (refunds need it). False when it had one.
 */
export async function rememberPayerPhone(
  pool: Pool,
  vault: KeyRing,
  paymentId: string,
  internationalDigits: string,
): Promise<boolean> {
  return inTransaction(pool, async (client) => {
    const vaulted = await vaultPhone(client, vault, `+${internationalDigits}`);
    const { rowCount } = await client.query(
      `UPDATE payments SET customer = customer || $2::jsonb
        WHERE id = $1 AND NOT (customer ? 'phoneToken')`,
      [paymentId, JSON.stringify(vaulted)],
    );
    if (!rowCount) await forgetVaultedData(client, [vaulted.phoneToken]);
    return rowCount === 1;
  });
}

/**
 * After a refund's success (inside its transaction): moves its payin to `partially_refunded` or
 * `refunded` from what its succeeded refunds add up to, with an event on the payin.
 */
export async function recordRefundOnPayin(client: PoolClient, refund: PaymentRecord): Promise<void> {
  if (!refund.parentPaymentId) throw new Error(`refund ${refund.id} has no payin`);
  const payin = await client.query<PaymentRow>('SELECT * FROM payments WHERE id = $1 FOR UPDATE', [
    refund.parentPaymentId,
  ]);
  const row = payin.rows[0]!;
  const { rows } = await client.query<{ refunded: number }>(
    `SELECT COALESCE(sum(amount), 0)::bigint AS refunded FROM payments
      WHERE parent_payment_id = $1 AND kind = 'refund' AND status = 'succeeded'`,
    [row.id],
  );
  const refunded = rows[0]!.refunded;
  const to: PaymentStatus = refunded >= row.amount ? 'refunded' : 'partially_refunded';
  if (!canTransition(row.status, to, row.kind))
    throw new Error(`payin ${row.id} cannot go from ${row.status} to ${to}`);
  await client.query(
    `INSERT INTO payment_events (payment_id, step, from_status, to_status, actor, reason)
     VALUES ($1, $2, $3, $4, 'workflow', $5) ON CONFLICT (payment_id, step) DO NOTHING`,
    [
      row.id,
      `refund:${refund.id}`,
      row.status,
      to,
      `refund ${refund.id} of ${refund.amount} paid; ${refunded} refunded in all`,
    ],
  );
  const updated = await client.query<PaymentRow>(
    'UPDATE payments SET status = $2, updated_at = now() WHERE id = $1 RETURNING *',
    [row.id, to],
  );
  if (row.status !== to) await recordPaymentEvent(client, toRecord(updated.rows[0]!), `refund:${refund.id}`);
  // The attempt through which a hosted payin succeeded: the payin the merchant knows follows it.
  await hostedPayinFollowsAttempt(client, toRecord(row), {
    to,
    step: `refund:${refund.id}`,
    actor: 'workflow',
    reason: `its attempt ${row.id} was refunded (${refund.id})`,
    only: 'the attempt that paid',
  });
}

/**
 * Moves a hosted payin (docs/checkout.md) after one of its attempts, in the caller's transaction,
 * with its event: a refund of the attempt that paid, or reconciliation settling an attempt after
 * the hosted payin had ended. `the attempt that paid`: only when this attempt is the one the
 * payin succeeded through; `any`: a success names this attempt as the one that paid. Returns
 * the hosted payin as it is after, or undefined when it did not move.
 */
export async function hostedPayinFollowsAttempt(
  client: PoolClient,
  attempt: PaymentRecord,
  m: {
    to: PaymentStatus;
    step: string;
    actor: 'workflow' | 'reconciliation';
    reason: string;
    only: 'the attempt that paid' | 'any';
  },
): Promise<PaymentRecord | undefined> {
  if (!attempt.attemptOf) return undefined;
  const intent = await lockPayment(client, attempt.attemptOf);
  if (!intent || intent.status === m.to || !canTransition(intent.status, m.to)) return undefined;
  if (m.only === 'the attempt that paid' && intent.operatorReference !== attempt.id) return undefined;
  // A hosted payin still open is its workflow's to end; an end other than success only replaces
  // the `unknown` an attempt left.
  if (
    m.only === 'any' &&
    (!isFinal(intent.status) || (m.to !== 'succeeded' && intent.status !== 'unknown'))
  ) {
    return undefined;
  }
  await client.query(
    `INSERT INTO payment_events (payment_id, step, from_status, to_status, actor, reason)
     VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (payment_id, step) DO NOTHING`,
    [intent.id, m.step, intent.status, m.to, m.actor, m.reason],
  );
  const moved = await client.query<PaymentRow>(
    `UPDATE payments SET status = $2, updated_at = now(),
            operator_reference = CASE WHEN $2 = 'succeeded' THEN $3 ELSE operator_reference END,
            completed_at = COALESCE(completed_at, now())
      WHERE id = $1 RETURNING *`,
    [intent.id, m.to, attempt.id],
  );
  const after = toRecord(moved.rows[0]!);
  await recordPaymentEvent(client, after, m.step);
  return after;
}

/** Refunds of a payin that still commit money (not failed): what a new refund must fit beside. */
export async function committedRefunds(db: Queryable, payinId: string): Promise<number> {
  const { rows } = await db.query<{ committed: number }>(
    `SELECT COALESCE(sum(amount), 0)::bigint AS committed FROM payments
      WHERE parent_payment_id = $1 AND kind = 'refund' AND status NOT IN ('failed', 'cancelled', 'expired')`,
    [payinId],
  );
  return rows[0]!.committed;
}

export async function lockPayment(client: PoolClient, id: string): Promise<PaymentRecord | undefined> {
  const { rows } = await client.query<PaymentRow>('SELECT * FROM payments WHERE id = $1 FOR UPDATE', [id]);
  return rows[0] && toRecord(rows[0]);
}

export async function listRefundsOf(db: Queryable, payinId: string): Promise<PaymentRecord[]> {
  const { rows } = await db.query<PaymentRow>(
    `SELECT * FROM payments WHERE parent_payment_id = $1 AND kind = 'refund' ORDER BY created_at, id`,
    [payinId],
  );
  return rows.map(toRecord);
}

/**
 * Failover: moves a payment that no operator has accepted yet to another operator, with an event
 * (status unchanged). Returns false when it was already accepted somewhere (nothing changes).
 */
export async function switchPaymentOperator(
  pool: Pool,
  paymentId: string,
  operator: string,
  reason: string,
): Promise<boolean> {
  return inTransaction(pool, async (client) => {
    const { rows } = await client.query<{ operator: string; status: PaymentStatus }>(
      `SELECT operator, status FROM payments WHERE id = $1 AND status = 'created' AND operator_reference IS NULL FOR UPDATE`,
      [paymentId],
    );
    const row = rows[0];
    if (!row) return false;
    if (row.operator === operator) return true;
    await client.query('UPDATE payments SET operator = $2, updated_at = now() WHERE id = $1', [
      paymentId,
      operator,
    ]);
    await client.query(
      `INSERT INTO payment_events (payment_id, step, from_status, to_status, actor, reason)
       VALUES ($1, $2, 'created', 'created', 'workflow', $3) ON CONFLICT (payment_id, step) DO NOTHING`,
      [paymentId, `route:${operator}`, `route ${row.operator} -> ${operator}: ${reason}`],
    );
    return true;
  });
}

/**
 * Takes the right to send this payment to its operator for `forMs`, as `owner`. False while
 * another attempt holds it (a timed-out activity attempt whose call may still be in flight).
 */
export async function acquireSendLease(
  db: Queryable,
  paymentId: string,
  owner: string,
  forMs: number,
): Promise<boolean> {
  const { rowCount } = await db.query(
    `UPDATE payments SET send_lease_until = now() + make_interval(secs => $3::double precision / 1000),
                         send_lease_owner = $2
      WHERE id = $1 AND (send_lease_until IS NULL OR send_lease_until < now() OR send_lease_owner = $2)`,
    [paymentId, owner, forMs],
  );
  return rowCount === 1;
}

/** A payment claimed for a send (claimSend): the row under the lease, what the send needs with it. */
export interface ClaimedSend {
  payment: PaymentRecord;
  /** The OTP the payer gave for this payin, if one waits (single use: forget it after the send). */
  otp?: string;
  /** The payment's phone number (E.164), opened from the vault for this send. */
  phone?: string;
  /** Whether the operator's circuit in the payment's mode is open now (db/operator-health.ts). */
  circuitOpen: boolean;
  /** How long to wait for the call's slot in its operator's lane, when the claim reserved one. */
  slotWaitMs: number;
}

/**
 * acquireSendLease and what a send reads once it holds the lease, in one statement: the payment
 * as it is under the lease, the payer's OTP, and its operator's circuit. `leaseMs` gives the
 * lease per circuit (db/operator-health.ts circuitOf: `operator`, or `operator:test` in test
 * mode); a circuit it does not name gets the longest. `held` when another attempt holds the
 * lease, `absent` when there is no such payment. With `slot`, the same statement also reserves
 * the send's slot in its operator's lane (db/operator-pacing.ts), and the lease is lengthened by
 * the wait for it.
 */
export async function claimSend(
  db: Queryable,
  paymentId: string,
  owner: string,
  leaseMs: Record<string, number>,
  vault: KeyRing,
  /** The call's lane, to reserve its slot in the same statement; the lease then covers the wait. */
  slot?: PacedLane,
): Promise<ClaimedSend | 'held' | 'absent'> {
  const longest = Math.max(...Object.values(leaseMs));
  /** A vault row as json_build_object gives it: its bytes in base64. */
  type Sealed = { kek_id: string; wrapped_key: string; ciphertext: string } | null;
  const { rows } = await db.query<
    PaymentRow & {
      pending_otp: string | null;
      pending_otp_token: string | null;
      otp_sealed: Sealed;
      phone_sealed: Sealed;
      circuit_open: boolean;
      slot_wait_ms: number;
    }
  >(
    `WITH ${slot ? `${reserveSlotCte(5, 6)},` : ''} claimed AS (
       UPDATE payments
          SET send_lease_until = now() + make_interval(secs => (COALESCE(
                ($3::jsonb ->> (operator || CASE WHEN livemode THEN '' ELSE ':test' END))::double precision,
                $4::double precision) + ${slot ? '(SELECT wait_ms FROM slot)' : '0'}) / 1000),
              send_lease_owner = $2
        WHERE id = $1 AND (send_lease_until IS NULL OR send_lease_until < now() OR send_lease_owner = $2)
        RETURNING *)
     SELECT c.*, a.otp AS pending_otp, a.otp_token AS pending_otp_token,
            CASE WHEN ov.token IS NOT NULL THEN json_build_object('kek_id', ov.kek_id,
              'wrapped_key', encode(ov.wrapped_key, 'base64'), 'ciphertext', encode(ov.ciphertext, 'base64')) END
              AS otp_sealed,
            CASE WHEN pv.token IS NOT NULL THEN json_build_object('kek_id', pv.kek_id,
              'wrapped_key', encode(pv.wrapped_key, 'base64'), 'ciphertext', encode(pv.ciphertext, 'base64')) END
              AS phone_sealed,
            COALESCE(h.open_until > now(), false) AS circuit_open,
            ${slot ? '(SELECT wait_ms FROM slot)' : '0::float8'} AS slot_wait_ms
       FROM claimed c
       LEFT JOIN payin_authorisations a ON a.payment_id = c.id
       LEFT JOIN personal_vault ov ON ov.token = a.otp_token
       LEFT JOIN personal_vault pv ON pv.token = c.customer ->> 'phoneToken'
       LEFT JOIN operator_health h ON h.operator = c.operator || CASE WHEN c.livemode THEN '' ELSE ':test' END`,
    [paymentId, owner, JSON.stringify(leaseMs), longest, ...(slot ? [slot.lane, slot.intervalMs] : [])],
  );
  const row = rows[0];
  if (!row) return (await getPayment(db, paymentId)) ? 'held' : 'absent';
  const {
    pending_otp: legacyOtp,
    pending_otp_token: otpToken,
    otp_sealed: otpSealed,
    phone_sealed: phoneSealed,
    circuit_open: circuitOpen,
    slot_wait_ms: slotWaitMs,
    ...paymentRow
  } = row;
  const payment = toRecord(paymentRow);
  // The OTP and the payer's number, read with the lease in the one statement, opened here.
  const open = (token: string, sealed: NonNullable<Sealed>) =>
    openPersonalData(vault, token, {
      kekId: sealed.kek_id,
      wrappedKey: Buffer.from(sealed.wrapped_key, 'base64'),
      ciphertext: Buffer.from(sealed.ciphertext, 'base64'),
    }).toString('utf8');
  const otp = otpToken && otpSealed ? open(otpToken, otpSealed) : (legacyOtp ?? undefined);
  const phoneToken = payment.customer.phoneToken;
  const phone = phoneToken && phoneSealed ? open(phoneToken, phoneSealed) : undefined;
  return {
    payment,
    ...(otp ? { otp } : {}),
    ...(phone ? { phone } : {}),
    circuitOpen,
    slotWaitMs,
  };
}

/** Gives the right back, if this owner still holds it. */
export async function releaseSendLease(db: Queryable, paymentId: string, owner: string): Promise<void> {
  await db.query(
    'UPDATE payments SET send_lease_until = NULL, send_lease_owner = NULL WHERE id = $1 AND send_lease_owner = $2',
    [paymentId, owner],
  );
}

/**
 * Records the number a payer typed on our page for a payin not sent yet (the first one given
 * wins). False when the payin is no longer waiting for it.
 */
export async function setPayerNumber(
  pool: Pool,
  vault: KeyRing,
  paymentId: string,
  e164: string,
  network: string,
): Promise<boolean> {
  return inTransaction(pool, async (client) => {
    const vaulted = await vaultPhone(client, vault, e164);
    const { rowCount } = await client.query(
      `UPDATE payments SET customer = customer || $2::jsonb, network = $3, updated_at = now()
        WHERE id = $1 AND kind = 'payin' AND status = 'action_required' AND operator_reference IS NULL
          AND NOT (customer ? 'phoneToken')`,
      [paymentId, JSON.stringify(vaulted), network],
    );
    if (!rowCount) await forgetVaultedData(client, [vaulted.phoneToken]);
    return rowCount === 1;
  });
}

/** A payment not started yet gets its deadline counted from now (a transfer's payout, after its collection). */
export async function restartDeadline(db: Queryable, paymentId: string, seconds: number): Promise<void> {
  await db.query(
    `UPDATE payments SET deadline_at = now() + make_interval(secs => $2), updated_at = now() WHERE id = $1 AND status = 'created'`,
    [paymentId, seconds],
  );
}
