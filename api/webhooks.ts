import { randomBytes } from 'node:crypto';
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { Router } from 'express';
import { eventView, getMerchantEvent, listMerchantEvents } from '../db/events.js';
import type { Pool } from '../db/pool.js';
import {
  createReplay,
  createResend,
  createWebhookEndpoint,
  deleteWebhookEndpoint,
  getWebhookEndpoint,
  listWebhookDeliveries,
  listWebhookEndpoints,
  rotateWebhookSecret,
  updateWebhookEndpoint,
  webhookEndpointView,
  type WebhookDelivery,
} from '../db/webhooks.js';
import { newId } from '../lib/ids.js';
import { isNonPublicAddress, webhookSecretFrom, webhookUrlProblem } from '../lib/events.js';
import { currentMerchant, type MerchantInMode } from './auth.js';
import {
  CreateWebhookEndpointRequest,
  DeliveryListQuery,
  EventListQuery,
  ReplayRequest,
  ResendRequest,
  RotateSecretRequest,
  UpdateWebhookEndpointRequest,
} from './event-schemas.js';
import { optionalJsonBody, requireJson } from './payment-routes.js';
import { Problem, validationProblem } from './problems.js';
import { decodeCursor, listAnswer } from './views.js';

/** Events replayed by one call at most (a longer outage: call again with a later `since`). */
const REPLAY_LIMIT = 10_000;

function deliveryView(d: WebhookDelivery) {
  return {
    id: d.id,
    object: 'webhook_delivery' as const,
    event_id: d.eventId,
    event_type: d.eventType,
    endpoint_id: d.endpointId,
    reason: d.reason,
    status: d.status,
    attempt_count: d.attempts,
    last_error: d.lastError,
    next_attempt_at: d.nextAttemptAt?.toISOString() ?? null,
    created_at: d.createdAt.toISOString(),
    completed_at: d.completedAt?.toISOString() ?? null,
    attempts: d.attemptLog.map((a) => ({
      attempt: a.attempt,
      attempted_at: a.attemptedAt.toISOString(),
      http_status: a.httpStatus,
      latency_ms: a.latencyMs,
      response_body: a.responseBody,
      error: a.error,
    })),
  };
}

/**
 * Refuses, in live mode, a URL whose host resolves to a private, loopback or link-local address
 * (SSRF); the worker checks again at every delivery, on the address it connects to.
 */
async function checkEndpointUrl(url: string, livemode: boolean): Promise<void> {
  const refuse = (message: string) =>
    new Problem('validation-error', `url ${message}`, { errors: [{ field: 'url', message }] });
  const problem = webhookUrlProblem(url, livemode);
  if (problem) throw refuse(problem);
  if (!livemode) return;
  const host = new URL(url).hostname.replace(/^\[|\]$/g, '');
  if (isIP(host)) return;
  const addresses = await lookup(host, { all: true }).catch(() => undefined);
  if (!addresses?.length) throw refuse(`host ${host} does not resolve`);
  const bad = addresses.find((a) => isNonPublicAddress(a.address));
  if (bad)
    throw refuse(`host ${host} resolves to ${bad.address}, not a public address (refused in live mode)`);
}

/** The merchant's endpoint of the request's mode: another merchant's, or one of the other mode, reads as absent. */
async function findEndpoint(pool: Pool, merchant: MerchantInMode, id: string) {
  const endpoint = /^we_[a-z2-7]{24}$/.test(id) ? await getWebhookEndpoint(pool, merchant.id, id) : undefined;
  if (!endpoint || endpoint.livemode !== merchant.livemode) {
    throw new Problem('not-found', `No webhook endpoint ${id}`);
  }
  return endpoint;
}

/** `/v1/webhook-endpoints`: where a merchant's events are delivered, signed (Standard Webhooks). */
export function webhookEndpointRoutes(pool: Pool): Router {
  const router = Router();

  router.post('/', async (req, res) => {
    const merchant = currentMerchant(res.locals);
    requireJson(req.is('application/json'));
    const parsed = CreateWebhookEndpointRequest.safeParse(req.body);
    if (!parsed.success) throw validationProblem(parsed.error);
    const livemode = res.locals.livemode ?? false;
    await checkEndpointUrl(parsed.data.url, livemode);
    const secret = webhookSecretFrom(randomBytes(32));
    let endpoint = await createWebhookEndpoint(pool, {
      id: newId('we'),
      merchantId: merchant.id,
      url: parsed.data.url,
      description: parsed.data.description,
      eventTypes: parsed.data.event_types,
      livemode,
      secret,
    });
    if (!parsed.data.enabled)
      endpoint = (await updateWebhookEndpoint(pool, merchant.id, endpoint.id, { enabled: false }))!;
    // The only time the secret is shown.
    res
      .status(201)
      .location(`/v1/webhook-endpoints/${endpoint.id}`)
      .json({ ...webhookEndpointView(endpoint), secret });
  });

  router.get('/', async (_req, res) => {
    const merchant = currentMerchant(res.locals);
    res.json({
      object: 'list',
      data: (await listWebhookEndpoints(pool, merchant.id))
        .filter((e) => e.livemode === merchant.livemode)
        .map(webhookEndpointView),
    });
  });

  router.get('/:id', async (req, res) => {
    res.json(webhookEndpointView(await findEndpoint(pool, currentMerchant(res.locals), req.params.id)));
  });

  router.patch('/:id', async (req, res) => {
    const merchant = currentMerchant(res.locals);
    const existing = await findEndpoint(pool, merchant, req.params.id);
    requireJson(req.is('application/json'));
    const parsed = UpdateWebhookEndpointRequest.safeParse(req.body);
    if (!parsed.success) throw validationProblem(parsed.error);
    if (parsed.data.url !== undefined) await checkEndpointUrl(parsed.data.url, existing.livemode);
    const updated = await updateWebhookEndpoint(pool, merchant.id, existing.id, {
      url: parsed.data.url,
      description: parsed.data.description,
      eventTypes: parsed.data.event_types,
      enabled: parsed.data.enabled,
    });
    if (!updated) throw new Problem('not-found', `No webhook endpoint ${existing.id}`);
    res.json(webhookEndpointView(updated));
  });

  router.delete('/:id', async (req, res) => {
    const merchant = currentMerchant(res.locals);
    const endpoint = await findEndpoint(pool, merchant, req.params.id);
    await deleteWebhookEndpoint(pool, merchant.id, endpoint.id);
    res.json({ id: endpoint.id, object: 'webhook_endpoint', deleted: true });
  });

  router.post('/:id/rotate-secret', async (req, res) => {
    const merchant = currentMerchant(res.locals);
    const endpoint = await findEndpoint(pool, merchant, req.params.id);
    const parsed = RotateSecretRequest.safeParse(optionalJsonBody(req));
    if (!parsed.success) throw validationProblem(parsed.error);
    const secret = webhookSecretFrom(randomBytes(32));
    const rotated = await rotateWebhookSecret(
      pool,
      merchant.id,
      endpoint.id,
      secret,
      parsed.data.grace_period_seconds,
    );
    if (!rotated) throw new Problem('not-found', `No webhook endpoint ${endpoint.id}`);
    res.json({
      ...webhookEndpointView(rotated),
      secret,
      previous_secret_expires_at: new Date(
        Date.now() + parsed.data.grace_period_seconds * 1000,
      ).toISOString(),
    });
  });

  router.get('/:id/deliveries', async (req, res) => {
    const merchant = currentMerchant(res.locals);
    const endpoint = await findEndpoint(pool, merchant, req.params.id);
    const parsed = DeliveryListQuery.safeParse(req.query);
    if (!parsed.success) throw validationProblem(parsed.error);
    const page = await listWebhookDeliveries(pool, {
      merchantId: merchant.id,
      endpointId: endpoint.id,
      status: parsed.data.status,
      limit: parsed.data.limit,
      before: parsed.data.cursor ? decodeCursor(parsed.data.cursor) : undefined,
    });
    res.json(listAnswer(page.items.map(deliveryView), page.next));
  });

  router.post('/:id/replay', async (req, res) => {
    const merchant = currentMerchant(res.locals);
    const endpoint = await findEndpoint(pool, merchant, req.params.id);
    if (!endpoint.enabled)
      throw new Problem('conflict', 'This endpoint is disabled: enable it first (PATCH enabled=true)');
    requireJson(req.is('application/json'));
    const parsed = ReplayRequest.safeParse(req.body);
    if (!parsed.success) throw validationProblem(parsed.error);
    const since = new Date(parsed.data.since);
    const until = parsed.data.until ? new Date(parsed.data.until) : undefined;
    if (until && until <= since) {
      throw new Problem('validation-error', 'until must be after since', {
        errors: [{ field: 'until', message: 'must be after since' }],
      });
    }
    const queued = await createReplay(pool, {
      merchantId: merchant.id,
      endpointId: endpoint.id,
      since,
      until,
      limit: REPLAY_LIMIT,
    });
    res.status(202).json({
      object: 'webhook_replay',
      endpoint_id: endpoint.id,
      since: since.toISOString(),
      until: until?.toISOString() ?? null,
      queued,
      // A longer outage is replayed in steps: call again from the last event delivered.
      truncated: queued === REPLAY_LIMIT,
    });
  });

  return router;
}

/** `/v1/events`: what happened to the merchant's resources, newest first, and their deliveries. */
export function eventRoutes(pool: Pool): Router {
  const router = Router();

  router.get('/', async (req, res) => {
    const merchant = currentMerchant(res.locals);
    const parsed = EventListQuery.safeParse(req.query);
    if (!parsed.success) throw validationProblem(parsed.error);
    const q = parsed.data;
    const page = await listMerchantEvents(pool, {
      owner: { merchantId: merchant.id, livemode: merchant.livemode },
      types: q.type,
      resourceId: q.resource_id,
      createdAfter: q.created_after ? new Date(q.created_after) : undefined,
      limit: q.limit,
      before: q.cursor ? decodeCursor(q.cursor) : undefined,
    });
    res.json(listAnswer(page.items.map(eventView), page.next));
  });

  const findEvent = async (merchant: MerchantInMode, id: string) => {
    const event = /^evt_[a-z2-7]{24}$/.test(id)
      ? await getMerchantEvent(pool, { merchantId: merchant.id, livemode: merchant.livemode }, id)
      : undefined;
    if (!event) throw new Problem('not-found', `No event ${id}`);
    return event;
  };

  router.get('/:id', async (req, res) => {
    res.json(eventView(await findEvent(currentMerchant(res.locals), req.params.id)));
  });

  router.get('/:id/deliveries', async (req, res) => {
    const merchant = currentMerchant(res.locals);
    const event = await findEvent(merchant, req.params.id);
    const parsed = DeliveryListQuery.safeParse(req.query);
    if (!parsed.success) throw validationProblem(parsed.error);
    const page = await listWebhookDeliveries(pool, {
      merchantId: merchant.id,
      eventId: event.id,
      status: parsed.data.status,
      limit: parsed.data.limit,
      before: parsed.data.cursor ? decodeCursor(parsed.data.cursor) : undefined,
    });
    res.json(listAnswer(page.items.map(deliveryView), page.next));
  });

  router.post('/:id/resend', async (req, res) => {
    const merchant = currentMerchant(res.locals);
    const event = await findEvent(merchant, req.params.id);
    const parsed = ResendRequest.safeParse(optionalJsonBody(req));
    if (!parsed.success) throw validationProblem(parsed.error);
    if (parsed.data.endpoint_id) {
      const endpoint = await findEndpoint(pool, merchant, parsed.data.endpoint_id);
      if (!endpoint.enabled) throw new Problem('conflict', 'This endpoint is disabled: enable it first');
    }
    const queued = await createResend(pool, {
      merchantId: merchant.id,
      eventId: event.id,
      endpointId: parsed.data.endpoint_id,
    });
    if (!queued) throw new Problem('conflict', 'No enabled webhook endpoint wants this event');
    res.status(202).json({ object: 'webhook_resend', event_id: event.id, queued });
  });

  return router;
}
