import type { KeyRing } from '../lib/card-vault.js';
import { openVaultedData, sealForVault, vaultInsertSql, vaultRowParams } from './personal-vault.js';
import type { Queryable } from './pool.js';

export type CallbackVerdict = 'received' | 'signalled' | 'confirmed' | 'duplicate' | 'rejected' | 'late';

export interface RawCallback {
  operator: string;
  httpMethod: string;
  /** Without its query string (which goes to the vault with the body). */
  path: string;
  /** The query string as received, without its `?`; empty when there was none. */
  rawQuery: string;
  contentType: string | undefined;
  headers: Record<string, unknown>;
  rawBody: Buffer;
  sourceIp: string | undefined;
}

/**
 * Stores a callback exactly as received; this happens before anything else, and before we
 * answer. Its body and query string, which may carry the payer's number, go to the vault
 * (db/personal-vault.ts) in the same statement; the inbox row keeps their tokens.
 */
export async function insertRawCallback(db: Queryable, vault: KeyRing, cb: RawCallback): Promise<number> {
  const body = sealForVault(vault, 'callback_body', cb.rawBody);
  const query = cb.rawQuery
    ? sealForVault(vault, 'callback_query', Buffer.from(cb.rawQuery, 'utf8'))
    : undefined;
  const { rows } = await db.query<{ id: number }>(
    `WITH vaulted AS (${vaultInsertSql(9)})
     INSERT INTO operator_callbacks (operator, http_method, path, content_type, headers, raw_body_token,
                                     raw_query_token, source_ip)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id`,
    [
      cb.operator,
      cb.httpMethod,
      cb.path,
      cb.contentType ?? null,
      JSON.stringify(cb.headers),
      body.token,
      query?.token ?? null,
      cb.sourceIp,
      ...vaultRowParams(query ? [body, query] : [body]),
    ],
  );
  return rows[0]!.id;
}

export async function setCallbackVerdict(
  db: Queryable,
  id: number,
  v: { verdict: CallbackVerdict; reason?: string; paymentId?: string; eventKey?: string; parsed?: unknown },
): Promise<void> {
  await db.query(
    `UPDATE operator_callbacks
        SET verdict = $2, reject_reason = $3, payment_id = COALESCE($4, payment_id),
            event_key = COALESCE($5, event_key), parsed = COALESCE($6::jsonb, parsed), processed_at = now()
      WHERE id = $1`,
    [
      id,
      v.verdict,
      v.reason ?? null,
      v.paymentId ?? null,
      v.eventKey ?? null,
      v.parsed === undefined ? null : jsonbText(storedParsed(v.parsed)),
    ],
  );
}

/**
 * What the inbox keeps of a parsed callback: what it says (reference, status, amount, event),
 * not every field of its body (`fields`, which may carry the payer's number: the body itself is
 * in the vault), nor a per-payment secret.
 */
function storedParsed(parsed: unknown): unknown {
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) return parsed;
  const { fields: _fields, paymentSecret: _secret, ...kept } = parsed as Record<string, unknown>;
  return kept;
}

/** JSON for a jsonb column: PostgreSQL refuses the NUL character that a callback may smuggle in. */
function jsonbText(value: unknown): string {
  return JSON.stringify(stripNul(value));
}

function stripNul(value: unknown): unknown {
  if (typeof value === 'string') return value.replaceAll('\u0000', '');
  if (Array.isArray(value)) return value.map(stripNul);
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [k.replaceAll('\u0000', ''), stripNul(v)]),
    );
  }
  return value;
}

/**
 * Claims the right to signal the workflow for this operator event. Only one delivery of an event
 * gets it (unique index); the others are recorded as duplicates.
 */
export async function claimCallbackEvent(
  db: Queryable,
  id: number,
  v: { paymentId: string; eventKey: string; parsed: unknown },
): Promise<'signalled' | 'duplicate'> {
  try {
    // A repeat already on record is seen in the same statement, without the unique index's
    // refusal (an error round trip and a line in PostgreSQL's log for every repeated callback);
    // two deliveries claiming at the same instant still meet the index, handled below.
    const { rows } = await db.query<{ verdict: 'signalled' | 'duplicate' }>(
      `UPDATE operator_callbacks c
          SET verdict = CASE WHEN taken.repeat THEN 'duplicate' ELSE 'signalled' END,
              reject_reason = CASE WHEN taken.repeat THEN 'repeat of an event already received' END,
              payment_id = $2, event_key = $3, parsed = COALESCE($4::jsonb, c.parsed), processed_at = now()
         FROM (SELECT EXISTS (SELECT 1 FROM operator_callbacks o
                               WHERE o.operator = (SELECT operator FROM operator_callbacks WHERE id = $1)
                                 AND o.event_key = $3 AND o.verdict IN ('signalled', 'confirmed')
                                 AND o.id <> $1) AS repeat) taken
        WHERE c.id = $1
        RETURNING c.verdict`,
      [id, v.paymentId, v.eventKey, v.parsed === undefined ? null : jsonbText(storedParsed(v.parsed))],
    );
    if (!rows[0]) throw new Error(`callback ${id} is not in the inbox`);
    return rows[0].verdict;
  } catch (err) {
    if ((err as { code?: string }).code !== '23505') throw err;
    await setCallbackVerdict(db, id, {
      verdict: 'duplicate',
      reason: 'repeat of an event already received',
      ...v,
    });
    return 'duplicate';
  }
}

/** Sets the verdict of callbacks the workflow has weighed against the status API. */
export async function settleSignalledCallbacks(
  db: Queryable,
  ids: number[],
  verdict: 'confirmed' | 'rejected',
  reason?: string,
): Promise<void> {
  if (ids.length === 0) return;
  await db.query(
    `UPDATE operator_callbacks SET verdict = $2, reject_reason = $3, processed_at = now()
      WHERE id = ANY($1::bigint[]) AND verdict = 'signalled'`,
    [ids, verdict, reason ?? null],
  );
}

export interface StoredCallback {
  id: number;
  operator: string;
  paymentId: string | null;
  verdict: CallbackVerdict;
  rejectReason: string | null;
  contentType: string | null;
  sourceIp: string | null;
  eventKey: string | null;
  receivedAt: Date;
}

export async function listCallbacks(
  db: Queryable,
  filter: { paymentId?: string; operator?: string } = {},
): Promise<StoredCallback[]> {
  const { rows } = await db.query<{
    id: number;
    operator: string;
    payment_id: string | null;
    verdict: CallbackVerdict;
    reject_reason: string | null;
    content_type: string | null;
    source_ip: string | null;
    event_key: string | null;
    received_at: Date;
  }>(
    `SELECT id, operator, payment_id, verdict, reject_reason, content_type, source_ip, event_key, received_at
       FROM operator_callbacks
      WHERE ($1::text IS NULL OR payment_id = $1) AND ($2::text IS NULL OR operator = $2)
      ORDER BY id`,
    [filter.paymentId ?? null, filter.operator ?? null],
  );
  return rows.map((r) => ({
    id: r.id,
    operator: r.operator,
    paymentId: r.payment_id,
    verdict: r.verdict,
    rejectReason: r.reject_reason,
    contentType: r.content_type,
    sourceIp: r.source_ip,
    eventKey: r.event_key,
    receivedAt: r.received_at,
  }));
}

/**
 * A callback's body and query string as they arrived, opened from the vault (or as a row kept
 * them before the vault did): for an investigation, never for the payment's own processing.
 */
export async function openCallbackRequest(
  db: Queryable,
  vault: KeyRing,
  id: number,
): Promise<{ body: Buffer; query: string } | undefined> {
  const { rows } = await db.query<{
    raw_body: Buffer | null;
    raw_body_token: string | null;
    raw_query_token: string | null;
  }>('SELECT raw_body, raw_body_token, raw_query_token FROM operator_callbacks WHERE id = $1', [id]);
  const row = rows[0];
  if (!row) return undefined;
  const body = row.raw_body_token ? await openVaultedData(db, vault, row.raw_body_token) : row.raw_body;
  const query = row.raw_query_token ? await openVaultedData(db, vault, row.raw_query_token) : undefined;
  return { body: body ?? Buffer.alloc(0), query: query?.toString('utf8') ?? '' };
}

/**
 * A trusted callback: one that passed every check at intake (source address, token, parse, known
 * payment, reference, amount and currency; api/callbacks.ts) and that no status answer
 * contradicted since. `late` ones (the payment had ended) are as trusted, and wait for
 * reconciliation. The one definition, for the workflows and for reconciliation.
 */
export const TRUSTED_CALLBACK_VERDICTS: readonly CallbackVerdict[] = ['signalled', 'confirmed', 'late'];

/** The newest trusted callback of a payment, as parsed (for operators whose callback is the outcome). */
export async function latestTrustedCallback(
  db: Queryable,
  paymentId: string,
): Promise<{ id: number; parsed: unknown } | undefined> {
  const { rows } = await db.query<{ id: number; parsed: unknown }>(
    `SELECT id, parsed FROM operator_callbacks
      WHERE payment_id = $1 AND verdict = ANY($2::text[]) AND parsed IS NOT NULL
      ORDER BY id DESC LIMIT 1`,
    [paymentId, TRUSTED_CALLBACK_VERDICTS],
  );
  return rows[0];
}
