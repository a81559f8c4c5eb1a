import { recordEvent, type StoredEvent } from './events.js';
import { inTransaction, type Pool, type PoolClient, type Queryable } from './pool.js';
import { keysetPage, type Page, type PageCursor } from './pagination.js';

export interface WebhookEndpoint {
  id: string;
  merchantId: string;
  url: string;
  description: string | null;
  eventTypes: string[];
  enabled: boolean;
  disabledReason: string | null;
  livemode: boolean;
  lastSuccessAt: Date | null;
  createdAt: Date;
  updatedAt: Date;
  deletedAt: Date | null;
}

interface EndpointRow {
  id: string;
  merchant_id: string;
  url: string;
  description: string | null;
  event_types: string[];
  enabled: boolean;
  disabled_reason: string | null;
  livemode: boolean;
  last_success_at: Date | null;
  created_at: Date;
  updated_at: Date;
  deleted_at: Date | null;
}

function toEndpoint(r: EndpointRow): WebhookEndpoint {
  return {
    id: r.id,
    merchantId: r.merchant_id,
    url: r.url,
    description: r.description,
    eventTypes: r.event_types,
    enabled: r.enabled,
    disabledReason: r.disabled_reason,
    livemode: r.livemode,
    lastSuccessAt: r.last_success_at,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
    deletedAt: r.deleted_at,
  };
}

/** The endpoint as the API shows it (also the data of `webhook_endpoint.*` events). */
export function webhookEndpointView(e: WebhookEndpoint) {
  return {
    id: e.id,
    object: 'webhook_endpoint' as const,
    url: e.url,
    description: e.description,
    event_types: e.eventTypes,
    enabled: e.enabled,
    disabled_reason: e.disabledReason,
    livemode: e.livemode,
    created_at: e.createdAt.toISOString(),
    updated_at: e.updatedAt.toISOString(),
  };
}

export interface NewEndpoint {
  id: string;
  merchantId: string;
  url: string;
  description?: string;
  eventTypes: string[];
  livemode: boolean;
  secret: string;
}

export async function createWebhookEndpoint(pool: Pool, e: NewEndpoint): Promise<WebhookEndpoint> {
  return inTransaction(pool, async (client) => {
    const { rows } = await client.query<EndpointRow>(
      `INSERT INTO webhook_endpoints (id, merchant_id, url, description, event_types, livemode)
       VALUES ($1, $2, $3, $4, $5, $6) RETURNING *`,
      [e.id, e.merchantId, e.url, e.description ?? null, e.eventTypes, e.livemode],
    );
    await client.query('INSERT INTO webhook_endpoint_secrets (endpoint_id, secret) VALUES ($1, $2)', [
      e.id,
      e.secret,
    ]);
    return toEndpoint(rows[0]!);
  });
}

export async function getWebhookEndpoint(
  db: Queryable,
  merchantId: string,
  id: string,
): Promise<WebhookEndpoint | undefined> {
  const { rows } = await db.query<EndpointRow>(
    'SELECT * FROM webhook_endpoints WHERE id = $1 AND merchant_id = $2 AND deleted_at IS NULL',
    [id, merchantId],
  );
  return rows[0] && toEndpoint(rows[0]);
}

export async function listWebhookEndpoints(db: Queryable, merchantId: string): Promise<WebhookEndpoint[]> {
  const { rows } = await db.query<EndpointRow>(
    'SELECT * FROM webhook_endpoints WHERE merchant_id = $1 AND deleted_at IS NULL ORDER BY created_at, id',
    [merchantId],
  );
  return rows.map(toEndpoint);
}

export interface EndpointChanges {
  url?: string;
  description?: string | null;
  eventTypes?: string[];
  enabled?: boolean;
}

/** Applies a merchant's changes; enabling an endpoint clears why it was disabled. */
export async function updateWebhookEndpoint(
  db: Queryable,
  merchantId: string,
  id: string,
  c: EndpointChanges,
): Promise<WebhookEndpoint | undefined> {
  const { rows } = await db.query<EndpointRow>(
    `UPDATE webhook_endpoints
        SET url = COALESCE($3, url),
            description = CASE WHEN $4 THEN $5 ELSE description END,
            event_types = COALESCE($6, event_types),
            enabled = COALESCE($7, enabled),
            disabled_reason = CASE WHEN $7 IS NULL THEN disabled_reason
                                   WHEN $7 THEN NULL ELSE 'disabled by the merchant' END,
            updated_at = now()
      WHERE id = $1 AND merchant_id = $2 AND deleted_at IS NULL
      RETURNING *`,
    [
      id,
      merchantId,
      c.url ?? null,
      c.description !== undefined,
      c.description ?? null,
      c.eventTypes ?? null,
      c.enabled ?? null,
    ],
  );
  return rows[0] && toEndpoint(rows[0]);
}

/** Deletes an endpoint (kept for its delivery records); pending deliveries stop at their next attempt. */
export async function deleteWebhookEndpoint(db: Queryable, merchantId: string, id: string): Promise<boolean> {
  const { rowCount } = await db.query(
    `UPDATE webhook_endpoints SET deleted_at = now(), enabled = false, updated_at = now()
      WHERE id = $1 AND merchant_id = $2 AND deleted_at IS NULL`,
    [id, merchantId],
  );
  return rowCount === 1;
}

/**
 * A new signing secret for the endpoint; the secrets it had keep signing (every delivery carries
 * a signature per secret) until `graceSeconds` from now.
 */
export async function rotateWebhookSecret(
  pool: Pool,
  merchantId: string,
  id: string,
  secret: string,
  graceSeconds: number,
): Promise<WebhookEndpoint | undefined> {
  return inTransaction(pool, async (client) => {
    const { rows } = await client.query<EndpointRow>(
      'SELECT * FROM webhook_endpoints WHERE id = $1 AND merchant_id = $2 AND deleted_at IS NULL FOR UPDATE',
      [id, merchantId],
    );
    if (!rows[0]) return undefined;
    await client.query(
      `UPDATE webhook_endpoint_secrets
          SET expires_at = LEAST(COALESCE(expires_at, 'infinity'), now() + make_interval(secs => $2))
        WHERE endpoint_id = $1 AND (expires_at IS NULL OR expires_at > now())`,
      [id, graceSeconds],
    );
    await client.query('INSERT INTO webhook_endpoint_secrets (endpoint_id, secret) VALUES ($1, $2)', [
      id,
      secret,
    ]);
    await client.query('UPDATE webhook_endpoints SET updated_at = now() WHERE id = $1', [id]);
    return toEndpoint(rows[0]);
  });
}

/** The secrets that sign a delivery now, newest first. */
export async function signingSecrets(db: Queryable, endpointId: string): Promise<string[]> {
  const { rows } = await db.query<{ secret: string }>(
    `SELECT secret FROM webhook_endpoint_secrets
      WHERE endpoint_id = $1 AND (expires_at IS NULL OR expires_at > now())
      ORDER BY id DESC`,
    [endpointId],
  );
  return rows.map((r) => r.secret);
}

/** Disables an endpoint with the reason, and tells the merchant with a `webhook_endpoint.disabled` event. */
export async function disableWebhookEndpoint(
  client: PoolClient,
  endpointId: string,
  reason: string,
): Promise<void> {
  const { rows } = await client.query<EndpointRow>(
    `UPDATE webhook_endpoints SET enabled = false, disabled_reason = $2, updated_at = now()
      WHERE id = $1 AND enabled RETURNING *`,
    [endpointId, reason],
  );
  const endpoint = rows[0] && toEndpoint(rows[0]);
  if (!endpoint) return;
  await recordEvent(client, {
    merchantId: endpoint.merchantId,
    livemode: endpoint.livemode,
    type: 'webhook_endpoint.disabled',
    resourceType: 'webhook_endpoint',
    resourceId: endpoint.id,
    source: `webhook_endpoint:${endpoint.id}:disabled:${endpoint.updatedAt.toISOString()}`,
    data: webhookEndpointView(endpoint),
  });
}

// ------------------------------------------------------------------ deliveries

export type DeliveryStatus = 'pending' | 'succeeded' | 'failed' | 'cancelled';

export interface WebhookAttempt {
  attempt: number;
  attemptedAt: Date;
  httpStatus: number | null;
  latencyMs: number;
  responseBody: string | null;
  error: string | null;
}

export interface WebhookDelivery {
  id: string;
  eventId: string;
  eventType: string;
  endpointId: string;
  reason: 'event' | 'resend' | 'replay';
  status: DeliveryStatus;
  workflowId: string;
  attempts: number;
  lastError: string | null;
  nextAttemptAt: Date | null;
  createdAt: Date;
  completedAt: Date | null;
  attemptLog: WebhookAttempt[];
}

interface DeliveryRow {
  id: string;
  event_id: string;
  event_type: string;
  endpoint_id: string;
  reason: 'event' | 'resend' | 'replay';
  status: DeliveryStatus;
  workflow_id: string;
  attempts: number;
  last_error: string | null;
  next_attempt_at: Date | null;
  created_at: Date;
  completed_at: Date | null;
  attempt_log: Array<{
    attempt: number;
    attempted_at: string;
    http_status: number | null;
    latency_ms: number;
    response_body: string | null;
    error: string | null;
  }> | null;
  cursor_ts: string;
}

function toDelivery(r: DeliveryRow): WebhookDelivery {
  return {
    id: r.id,
    eventId: r.event_id,
    eventType: r.event_type,
    endpointId: r.endpoint_id,
    reason: r.reason,
    status: r.status,
    workflowId: r.workflow_id,
    attempts: r.attempts,
    lastError: r.last_error,
    nextAttemptAt: r.next_attempt_at,
    createdAt: r.created_at,
    completedAt: r.completed_at,
    attemptLog: (r.attempt_log ?? []).map((a) => ({
      attempt: a.attempt,
      attemptedAt: new Date(a.attempted_at),
      httpStatus: a.http_status,
      latencyMs: a.latency_ms,
      responseBody: a.response_body,
      error: a.error,
    })),
  };
}

const DELIVERY_SELECT = `
  SELECT d.*, e.type AS event_type,
         to_char(d.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS cursor_ts,
         (SELECT json_agg(json_build_object('attempt', a.attempt, 'attempted_at', a.attempted_at,
                   'http_status', a.http_status, 'latency_ms', a.latency_ms, 'response_body', a.response_body,
                   'error', a.error) ORDER BY a.attempt)
            FROM webhook_attempts a WHERE a.delivery_id = d.id) AS attempt_log
    FROM webhook_deliveries d
    JOIN events e ON e.id = d.event_id
    JOIN webhook_endpoints w ON w.id = d.endpoint_id`;

/** A merchant's deliveries of one endpoint or of one event, newest first, keyset-paginated. */
export async function listWebhookDeliveries(
  db: Queryable,
  q: {
    merchantId: string;
    endpointId?: string;
    eventId?: string;
    status?: DeliveryStatus;
    limit: number;
    before?: PageCursor;
  },
): Promise<Page<WebhookDelivery>> {
  const { rows } = await db.query<DeliveryRow>(
    `${DELIVERY_SELECT}
      WHERE w.merchant_id = $1
        AND ($2::text IS NULL OR d.endpoint_id = $2)
        AND ($3::text IS NULL OR d.event_id = $3)
        AND ($4::text IS NULL OR d.status = $4)
        AND ($5::timestamptz IS NULL OR (d.created_at, d.id) < ($5::timestamptz, $6::text))
      ORDER BY d.created_at DESC, d.id DESC
      LIMIT $7`,
    [
      q.merchantId,
      q.endpointId ?? null,
      q.eventId ?? null,
      q.status ?? null,
      q.before?.createdAt ?? null,
      q.before?.id ?? null,
      q.limit + 1,
    ],
  );
  return keysetPage(rows, q.limit, toDelivery);
}

/** What one attempt needs: the delivery, its event and its endpoint. */
export interface DeliveryWork {
  delivery: WebhookDelivery;
  event: StoredEvent;
  endpoint: WebhookEndpoint;
}

export async function loadDeliveryWork(db: Queryable, deliveryId: string): Promise<DeliveryWork | undefined> {
  const { rows } = await db.query<
    DeliveryRow & {
      ev: {
        id: string;
        merchant_id: string | null;
        livemode: boolean | null;
        type: string;
        resource_type: string;
        resource_id: string;
        api_version: string;
        data: Record<string, unknown>;
        created_at: string;
        position: number | null;
      };
      ep: EndpointRow;
    }
  >(
    `SELECT d.*, e.type AS event_type, '' AS cursor_ts, NULL AS attempt_log, to_jsonb(e) AS ev, to_jsonb(w) AS ep
       FROM webhook_deliveries d JOIN events e ON e.id = d.event_id JOIN webhook_endpoints w ON w.id = d.endpoint_id
      WHERE d.id = $1`,
    [deliveryId],
  );
  const r = rows[0];
  if (!r) return undefined;
  const ep = r.ep;
  return {
    delivery: toDelivery(r),
    event: {
      id: r.ev.id,
      merchantId: r.ev.merchant_id,
      livemode: r.ev.livemode,
      type: r.ev.type,
      resourceType: r.ev.resource_type,
      resourceId: r.ev.resource_id,
      apiVersion: r.ev.api_version,
      data: r.ev.data,
      createdAt: new Date(r.ev.created_at),
      position: r.ev.position,
    },
    endpoint: toEndpoint({
      ...ep,
      last_success_at: ep.last_success_at && new Date(ep.last_success_at),
      created_at: new Date(ep.created_at),
      updated_at: new Date(ep.updated_at),
      deleted_at: ep.deleted_at && new Date(ep.deleted_at),
    }),
  };
}

export interface AttemptRecord {
  deliveryId: string;
  attempt: number;
  httpStatus?: number;
  latencyMs: number;
  responseBody?: string;
  error?: string;
  /** `retry`: another attempt follows at `nextAttemptAt`. */
  outcome: 'succeeded' | 'retry' | 'failed' | 'cancelled';
  nextAttemptAt?: Date;
  /** Disable the endpoint, with this reason (410 Gone, or three days of failures). */
  disableEndpoint?: string;
}

/** Records an attempt and what it means for the delivery (and the endpoint), in one transaction. */
export async function recordWebhookAttempt(pool: Pool, a: AttemptRecord): Promise<void> {
  await inTransaction(pool, async (client) => {
    await client.query(
      `INSERT INTO webhook_attempts (delivery_id, attempt, http_status, latency_ms, response_body, error)
       VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (delivery_id, attempt) DO NOTHING`,
      [a.deliveryId, a.attempt, a.httpStatus ?? null, a.latencyMs, a.responseBody ?? null, a.error ?? null],
    );
    const final = a.outcome !== 'retry';
    const { rows } = await client.query<{ endpoint_id: string }>(
      `UPDATE webhook_deliveries
          SET attempts = GREATEST(attempts, $2),
              status = CASE WHEN $3 = 'retry' THEN 'pending' ELSE $3 END,
              last_error = $4,
              next_attempt_at = $5,
              completed_at = CASE WHEN $6 THEN now() ELSE NULL END
        WHERE id = $1 AND status = 'pending'
        RETURNING endpoint_id`,
      [
        a.deliveryId,
        a.attempt,
        a.outcome,
        a.outcome === 'succeeded' ? null : (a.error ?? (a.httpStatus ? `HTTP ${a.httpStatus}` : null)),
        a.nextAttemptAt ?? null,
        final,
      ],
    );
    const endpointId = rows[0]?.endpoint_id;
    if (!endpointId) return;
    if (a.outcome === 'succeeded') {
      await client.query('UPDATE webhook_endpoints SET last_success_at = now() WHERE id = $1', [endpointId]);
    }
    if (a.disableEndpoint) await disableWebhookEndpoint(client, endpointId, a.disableEndpoint);
  });
}

/** Marks a delivery that will not be attempted (its endpoint was disabled or deleted). */
export async function cancelWebhookDelivery(db: Queryable, deliveryId: string, why: string): Promise<void> {
  await db.query(
    `UPDATE webhook_deliveries SET status = 'cancelled', last_error = $2, next_attempt_at = NULL, completed_at = now()
      WHERE id = $1 AND status = 'pending'`,
    [deliveryId, why],
  );
}

/** Whether the endpoint has succeeded since `since` (three days of failures disable it). */
export async function endpointSucceededSince(
  db: Queryable,
  endpointId: string,
  since: Date,
): Promise<boolean> {
  const { rows } = await db.query<{ ok: boolean }>(
    'SELECT last_success_at >= $2 AS ok FROM webhook_endpoints WHERE id = $1',
    [endpointId, since],
  );
  return rows[0]?.ok === true;
}

/** Delivery workflows to start: deliveries whose workflow is not known started, by workflow id. */
export async function undispatchedDeliveries(
  db: Queryable,
  limit: number,
): Promise<Array<{ workflowId: string; deliveryIds: string[] }>> {
  const { rows } = await db.query<{ workflow_id: string; ids: string[] }>(
    `SELECT workflow_id, array_agg(id ORDER BY created_at, id) AS ids
       FROM webhook_deliveries WHERE dispatched_at IS NULL
      GROUP BY workflow_id ORDER BY min(created_at) LIMIT $1`,
    [limit],
  );
  return rows.map((r) => ({ workflowId: r.workflow_id, deliveryIds: r.ids }));
}

export async function markDeliveriesDispatched(db: Queryable, workflowId: string): Promise<void> {
  await db.query(
    'UPDATE webhook_deliveries SET dispatched_at = now() WHERE workflow_id = $1 AND dispatched_at IS NULL',
    [workflowId],
  );
}

/**
 * New deliveries of one event now (`resend`): to one endpoint of the merchant, or to every
 * enabled endpoint that wants its type. Returns how many were created (0: no such endpoint).
 */
export async function createResend(
  pool: Pool,
  q: { merchantId: string; eventId: string; endpointId?: string },
): Promise<number> {
  const { rowCount } = await pool.query(
    `WITH batch AS (SELECT 'webhooks-' || passerelle_random_id('whb') AS workflow_id)
     INSERT INTO webhook_deliveries (event_id, endpoint_id, reason, workflow_id)
     SELECT e.id, w.id, 'resend', batch.workflow_id
       FROM events e JOIN webhook_endpoints w ON w.merchant_id = e.merchant_id AND w.livemode = e.livemode, batch
      WHERE e.id = $1 AND e.merchant_id = $2 AND w.enabled AND w.deleted_at IS NULL
        AND ($3::text IS NULL OR w.id = $3)
        AND ($3::text IS NOT NULL OR '*' = ANY(w.event_types) OR e.type = ANY(w.event_types))`,
    [q.eventId, q.merchantId, q.endpointId ?? null],
  );
  if (rowCount) await wakePublisher(pool);
  return rowCount ?? 0;
}

/**
 * Deliveries of every event the endpoint wants created in [since, until) (`replay`, after an
 * outage), oldest first, at most `limit`, in workflows of up to 100 deliveries each.
 */
export async function createReplay(
  pool: Pool,
  q: { merchantId: string; endpointId: string; since: Date; until?: Date; limit: number },
): Promise<number> {
  const { rowCount } = await pool.query(
    `WITH chosen AS (
       SELECT e.id AS event_id, row_number() OVER (ORDER BY e.created_at, e.id) - 1 AS n
         FROM events e JOIN webhook_endpoints w ON w.merchant_id = e.merchant_id AND w.livemode = e.livemode
        WHERE w.id = $1 AND w.merchant_id = $2 AND e.created_at >= $3
          AND ($4::timestamptz IS NULL OR e.created_at < $4)
          AND ('*' = ANY(w.event_types) OR e.type = ANY(w.event_types))
        ORDER BY e.created_at, e.id LIMIT $5),
     batches AS (SELECT DISTINCT n / 100 AS b FROM chosen),
     named AS (SELECT b, 'webhooks-' || passerelle_random_id('whb') AS workflow_id FROM batches)
     INSERT INTO webhook_deliveries (event_id, endpoint_id, reason, workflow_id)
     SELECT chosen.event_id, $1, 'replay', named.workflow_id FROM chosen JOIN named ON named.b = chosen.n / 100`,
    [q.endpointId, q.merchantId, q.since, q.until ?? null, q.limit],
  );
  if (rowCount) await wakePublisher(pool);
  return rowCount ?? 0;
}

/** New deliveries wait for the publisher to start their workflow: tell it now. */
async function wakePublisher(db: Queryable): Promise<void> {
  await db.query(`SELECT pg_notify('passerelle_events', '')`);
}
