import { API_VERSION } from '../lib/events.js';
import type { PaymentRecord } from './payments.js';
import pg from 'pg';
import { inTransaction, type Pool, type PoolClient, type Queryable } from './pool.js';
import { paymentView, transferView } from './resource-views.js';
import type { TransferRecord } from './transfers.js';
import { keysetPage, type Page, type PageCursor } from './pagination.js';

/** An event as stored: the resource (`data`) as the API showed it when the change happened. */
export interface StoredEvent {
  id: string;
  merchantId: string | null;
  /** null: an operations event. */
  livemode: boolean | null;
  type: string;
  resourceType: string;
  resourceId: string;
  apiVersion: string;
  data: Record<string, unknown>;
  createdAt: Date;
  position: number | null;
}

interface EventRow {
  id: string;
  merchant_id: string | null;
  livemode: boolean | null;
  type: string;
  resource_type: string;
  resource_id: string;
  api_version: string;
  data: Record<string, unknown>;
  created_at: Date;
  position: string | null;
}

function toEvent(r: EventRow): StoredEvent {
  return {
    id: r.id,
    merchantId: r.merchant_id,
    livemode: r.livemode,
    type: r.type,
    resourceType: r.resource_type,
    resourceId: r.resource_id,
    apiVersion: r.api_version,
    data: r.data,
    createdAt: r.created_at,
    position: r.position === null ? null : Number(r.position),
  };
}

/**
 * An event as the API shows it and webhooks carry it: the Standard Webhooks payload (`type`,
 * `timestamp`, `data`) with our id, object and version.
 */
export function eventView(e: StoredEvent) {
  return {
    id: e.id,
    object: 'event' as const,
    type: e.type,
    livemode: e.livemode,
    api_version: e.apiVersion,
    created_at: e.createdAt.toISOString(),
    timestamp: e.createdAt.toISOString(),
    resource: { type: e.resourceType, id: e.resourceId },
    data: e.data,
  };
}

/** Whose events: a merchant's of one mode, or (null) the operations events. */
export type EventOwner = { merchantId: string; livemode: boolean } | null;

export interface NewEvent {
  merchantId: string | null;
  /** The mode of what it is about (null with merchantId null: an operations event). */
  livemode: boolean | null;
  type: string;
  resourceType: string;
  resourceId: string;
  /** What caused it; the same cause written twice (a re-run activity) is one event. */
  source: string;
  data: unknown;
}

/** Appends an event inside the caller's transaction (the outbox). */
export async function recordEvent(client: PoolClient, e: NewEvent): Promise<void> {
  await client.query(
    `INSERT INTO events (merchant_id, livemode, type, resource_type, resource_id, source, api_version, data)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (source) DO NOTHING`,
    [
      e.merchantId,
      e.livemode,
      e.type,
      e.resourceType,
      e.resourceId,
      e.source,
      API_VERSION,
      JSON.stringify(e.data),
    ],
  );
}

/**
 * The event of a payment's transition `step` (`payin.succeeded`, `refund.failed`...), with the
 * payment as it is after the change. The constraint trigger of payment_events refuses to commit
 * a status change without it.
 */
export async function recordPaymentEvent(client: PoolClient, p: PaymentRecord, step: string): Promise<void> {
  await recordEvent(client, {
    merchantId: p.merchantId,
    livemode: p.livemode,
    // An attempt of a hosted payin is not the merchant's payin: its own events say so
    // (`payin_attempt.failed` must not read as the order's failure).
    type: p.attemptOf ? `payin_attempt.${p.status}` : `${p.kind}.${p.status}`,
    resourceType: p.attemptOf ? 'payin_attempt' : p.kind,
    resourceId: p.id,
    source: `payment:${p.id}:${step}`,
    data: paymentView(p),
  });
}

export async function recordTransferEvent(
  client: PoolClient,
  t: TransferRecord,
  step: string,
): Promise<void> {
  await recordEvent(client, {
    merchantId: t.merchantId,
    livemode: t.livemode,
    type: `transfer.${t.status}`,
    resourceType: 'transfer',
    resourceId: t.id,
    source: `transfer:${t.id}:${step}`,
    data: await transferView(client, t),
  });
}

export async function getMerchantEvent(
  db: Queryable,
  owner: EventOwner,
  id: string,
): Promise<StoredEvent | undefined> {
  const { rows } = await db.query<EventRow>(
    `SELECT * FROM events WHERE id = $1 AND merchant_id IS NOT DISTINCT FROM $2
        AND ($2::text IS NULL OR livemode = $3)`,
    [id, owner?.merchantId ?? null, owner?.livemode ?? null],
  );
  return rows[0] && toEvent(rows[0]);
}

export interface EventQuery {
  owner: EventOwner;
  types?: string[];
  resourceId?: string;
  createdAfter?: Date;
  limit: number;
  before?: PageCursor;
}

/** Newest first, by (created_at, id), keyset-paginated. */
export async function listMerchantEvents(db: Queryable, q: EventQuery): Promise<Page<StoredEvent>> {
  const { rows } = await db.query<EventRow & { cursor_ts: string }>(
    `SELECT *, to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS cursor_ts
       FROM events
      WHERE merchant_id IS NOT DISTINCT FROM $1
        AND ($1::text IS NULL OR livemode = $8)
        AND ($2::text[] IS NULL OR type = ANY($2))
        AND ($3::text IS NULL OR resource_id = $3)
        AND ($4::timestamptz IS NULL OR created_at >= $4)
        AND ($5::timestamptz IS NULL OR (created_at, id) < ($5::timestamptz, $6::text))
      ORDER BY created_at DESC, id DESC
      LIMIT $7`,
    [
      q.owner?.merchantId ?? null,
      q.types?.length ? q.types : null,
      q.resourceId ?? null,
      q.createdAfter ?? null,
      q.before?.createdAt ?? null,
      q.before?.id ?? null,
      q.limit + 1,
      q.owner?.livemode ?? null,
    ],
  );
  return keysetPage(rows, q.limit, toEvent);
}

/** A merchant's published events after `position`, oldest first (the live stream). */
export async function eventsAfterPosition(
  db: Queryable,
  owner: { merchantId: string; livemode: boolean },
  position: number,
  limit: number,
): Promise<StoredEvent[]> {
  const { rows } = await db.query<EventRow>(
    `SELECT * FROM events WHERE merchant_id = $1 AND livemode = $4 AND position > $2 ORDER BY position LIMIT $3`,
    [owner.merchantId, position, limit, owner.livemode],
  );
  return rows.map(toEvent);
}

/** The highest position given so far (where a stream that asks for nothing earlier starts). */
export async function lastEventPosition(db: Queryable): Promise<number> {
  const { rows } = await db.query<{ p: string | null }>('SELECT max(position) AS p FROM events');
  return Number(rows[0]?.p ?? 0);
}

// ------------------------------------------------------------------ publication

/** Serialises publishers: positions are handed out by one transaction at a time. */
const PUBLISH_LOCK = 0x70617373; // 'pass'

export interface PublishedBatch {
  events: number;
  deliveries: number;
}

/**
 * Publishes committed events: gives each its position (in commit order, under a lock, so that a
 * reader following positions never skips one) and creates the deliveries of each merchant event
 * to the merchant's enabled endpoints that want its type, grouped per endpoint under one
 * delivery workflow id. Starting those workflows comes after, from `undispatchedDeliveries`.
 */
export async function publishEvents(pool: Pool, limit = 500): Promise<PublishedBatch> {
  return inTransaction(pool, async (client) => {
    await client.query('SELECT pg_advisory_xact_lock($1)', [PUBLISH_LOCK]);
    const published = await client.query<{ id: string }>(
      `WITH base AS (SELECT COALESCE(max(position), 0) AS p FROM events),
            batch AS (SELECT id, row_number() OVER (ORDER BY created_at, id) AS n
                        FROM events WHERE position IS NULL ORDER BY created_at, id LIMIT $1)
       UPDATE events e SET position = base.p + batch.n, published_at = now()
         FROM batch, base WHERE e.id = batch.id
       RETURNING e.id`,
      [limit],
    );
    let deliveries = 0;
    if (published.rowCount) {
      const inserted = await client.query(
        `WITH wanted AS (
           SELECT e.id AS event_id, w.id AS endpoint_id, e.position
             FROM events e JOIN webhook_endpoints w
                  ON w.merchant_id = e.merchant_id AND w.livemode = e.livemode
            WHERE e.id = ANY($1) AND w.enabled AND w.deleted_at IS NULL
              AND ('*' = ANY(w.event_types) OR e.type = ANY(w.event_types))),
         batches AS (
           SELECT endpoint_id, 'webhooks-' || passerelle_random_id('whb') AS workflow_id
             FROM wanted GROUP BY endpoint_id)
         INSERT INTO webhook_deliveries (event_id, endpoint_id, reason, workflow_id)
         SELECT wanted.event_id, wanted.endpoint_id, 'event', batches.workflow_id
           FROM wanted JOIN batches USING (endpoint_id)
          ORDER BY wanted.position
         ON CONFLICT (event_id, endpoint_id) WHERE reason = 'event' DO NOTHING`,
        [published.rows.map((r) => r.id)],
      );
      deliveries = inserted.rowCount ?? 0;
    }
    // Live streams follow positions: wake them when this transaction commits.
    if (published.rowCount) await client.query(`SELECT pg_notify('passerelle_events_published', '')`);
    return { events: published.rowCount ?? 0, deliveries };
  });
}

/** The channels of migration 1733150000000: events written, events published. */
export type EventChannel = 'passerelle_events' | 'passerelle_events_published';

export interface EventListener {
  close(): Promise<void>;
}

/**
 * A connection of its own that LISTENs on `channel` and calls `onNotify` for each notification;
 * when the connection breaks it is opened again (and `onNotify` called, since notifications may
 * have been missed meanwhile).
 */
export function listenForEvents(
  databaseUrl: string,
  channel: EventChannel,
  onNotify: () => void,
  onError: (err: Error) => void,
): EventListener {
  let closed = false;
  let client: pg.Client | undefined;
  let retry: NodeJS.Timeout | undefined;
  const open = async () => {
    const c = new pg.Client({ connectionString: databaseUrl });
    c.on('error', (err) => {
      onError(err);
      void c.end().catch(() => undefined);
      if (client === c) client = undefined;
      if (!closed) retry = setTimeout(() => void open(), 1_000);
    });
    c.on('notification', () => onNotify());
    try {
      await c.connect();
      await c.query(`LISTEN ${channel}`);
      if (closed) return void (await c.end());
      client = c;
      onNotify();
    } catch (err) {
      onError(err as Error);
      await c.end().catch(() => undefined);
      if (!closed) retry = setTimeout(() => void open(), 1_000);
    }
  };
  void open();
  return {
    close: async () => {
      closed = true;
      clearTimeout(retry);
      await client?.end().catch(() => undefined);
    },
  };
}
