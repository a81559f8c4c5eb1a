import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import http from 'node:http';
import https from 'node:https';
import { isIP, type LookupFunction } from 'node:net';
import { ApplicationFailure, metricMeter } from '@temporalio/activity';
import { Webhook } from 'standardwebhooks';
import { eventView } from '../db/events.js';
import type { Pool } from '../db/pool.js';
import {
  cancelWebhookDelivery,
  endpointSucceededSince,
  loadDeliveryWork,
  recordWebhookAttempt,
  signingSecrets,
} from '../db/webhooks.js';
import {
  DEFAULT_RETRY_SCHEDULE,
  isNonPublicAddress,
  jitteredRetryDelayMs,
  webhookUrlProblem,
  type RetrySchedule,
} from '../lib/events.js';
import type { Logger } from '../lib/logger.js';

export type DeliveryOutcome = 'succeeded' | 'failed' | 'cancelled';

/** What one HTTP attempt gave. */
interface AttemptResult {
  status?: number;
  body?: string;
  error?: string;
  latencyMs: number;
}

/** Bytes of a receiver's answer kept with the attempt. */
const KEPT_ANSWER_BYTES = 1024;
/** A payload larger than this is not sent (an event is a few kB; metadata is bounded). */
const MAX_PAYLOAD_BYTES = 256 * 1024;

class RefusedAddress extends Error {}

/**
 * For live endpoints: every address a host name resolves to must be public, checked on the
 * address the connection actually uses (a name that resolves to a private address between our
 * check and the connection, DNS rebinding, is refused too).
 */
const publicOnlyLookup: LookupFunction = (hostname, options, callback) => {
  dnsLookup(hostname, { ...options, all: true }, (err, addresses: LookupAddress[]) => {
    if (err) return callback(err, '', 0);
    const refused = addresses.find((a) => isNonPublicAddress(a.address));
    if (refused || !addresses.length) {
      return callback(
        new RefusedAddress(`${hostname} resolves to ${refused?.address ?? 'nothing'}, not a public address`),
        '',
        0,
      );
    }
    if (options.all) return (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, addresses);
    return callback(null, addresses[0]!.address, addresses[0]!.family);
  });
};

/** One POST, no redirects followed, at most `timeoutMs` in all; keeps the first 1 kB of the answer. */
function postOnce(
  url: URL,
  headers: Record<string, string>,
  payload: string,
  opts: { timeoutMs: number; livemode: boolean },
): Promise<AttemptResult> {
  const started = performance.now();
  const elapsed = () => Math.round(performance.now() - started);
  return new Promise((resolve) => {
    const host = url.hostname.replace(/^\[|\]$/g, '');
    if (opts.livemode && isIP(host) && isNonPublicAddress(host)) {
      resolve({ error: `${host} is not a public address (refused in live mode)`, latencyMs: 0 });
      return;
    }
    const transport = url.protocol === 'https:' ? https : http;
    let settled = false;
    const finish = (r: Omit<AttemptResult, 'latencyMs'>) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve({ ...r, latencyMs: elapsed() });
    };
    const req = transport.request(
      url,
      {
        method: 'POST',
        headers: { ...headers, 'content-length': String(Buffer.byteLength(payload)) },
        agent: false,
        ...(opts.livemode ? { lookup: publicOnlyLookup } : {}),
      },
      (res) => {
        const chunks: Buffer[] = [];
        let kept = 0;
        const done = () => {
          const body = Buffer.concat(chunks).subarray(0, KEPT_ANSWER_BYTES).toString('utf8');
          const status = res.statusCode ?? 0;
          finish({
            status,
            body,
            ...(status >= 300 && status < 400
              ? { error: `redirect to ${res.headers.location ?? '(no location)'} not followed` }
              : {}),
          });
          res.destroy();
        };
        res.on('data', (chunk: Buffer) => {
          if (kept < KEPT_ANSWER_BYTES) {
            chunks.push(chunk);
            kept += chunk.length;
          }
          // The rest of a long answer is not read: what we keep is the first 1 kB.
          if (kept >= KEPT_ANSWER_BYTES) done();
        });
        res.on('end', done);
        res.on('error', (err) => finish({ status: res.statusCode, error: err.message }));
      },
    );
    const timer = setTimeout(() => {
      finish({ error: `no answer within ${opts.timeoutMs} ms` });
      req.destroy();
    }, opts.timeoutMs);
    req.on('error', (err) =>
      finish({ error: err instanceof RefusedAddress ? err.message : `${err.message}` }),
    );
    req.end(payload);
  });
}

/**
 * Webhook delivery: one attempt per activity execution. A failed attempt is retried by Temporal
 * itself after the schedule's delay (`nextRetryDelay`): a waiting retry is a timer on the server,
 * no workflow task and no worker memory.
 */
/**
 * Webhook monitoring, through the worker's Temporal metric meter (exported with the SDK's own
 * metrics, workers/telemetry.ts): attempts by outcome, their latency, and the delivery lag (from
 * the event to the merchant's 2xx).
 */
function recordDeliveryMetrics(result: AttemptResult, ok: boolean, eventCreatedAt: Date): void {
  const outcome = ok
    ? 'delivered'
    : result.status === undefined
      ? 'no_answer'
      : `http_${Math.floor(result.status / 100)}xx`;
  metricMeter
    .createCounter('passerelle_webhook_attempts', 'attempts', 'Webhook delivery attempts by outcome')
    .add(1, { outcome });
  metricMeter
    .createHistogram('passerelle_webhook_attempt_seconds', 'float', 's', 'Time to the merchant answer')
    .record(result.latencyMs / 1000, { outcome });
  if (ok) {
    metricMeter
      .createHistogram(
        'passerelle_webhook_delivery_lag_seconds',
        'float',
        's',
        'From the event to its successful delivery (retries included)',
      )
      .record(Math.max(0, (Date.now() - eventCreatedAt.getTime()) / 1000));
  }
}

export function createWebhookActivities(deps: {
  pool: Pool;
  logger: Logger;
  timeoutMs: number;
  schedule?: RetrySchedule;
}) {
  const schedule = deps.schedule ?? DEFAULT_RETRY_SCHEDULE;
  const { pool, logger } = deps;
  return {
    async deliverWebhook(deliveryId: string): Promise<DeliveryOutcome> {
      const work = await loadDeliveryWork(pool, deliveryId);
      if (!work)
        throw ApplicationFailure.nonRetryable(`delivery ${deliveryId} does not exist`, 'UnknownDelivery');
      const { delivery, event, endpoint } = work;
      if (delivery.status !== 'pending') return delivery.status;
      if (endpoint.deletedAt || !endpoint.enabled) {
        await cancelWebhookDelivery(
          pool,
          deliveryId,
          endpoint.deletedAt ? 'endpoint deleted' : `endpoint disabled: ${endpoint.disabledReason ?? ''}`,
        );
        return 'cancelled';
      }
      const attempt = delivery.attempts + 1;
      const log = logger.child({ deliveryId, eventId: event.id, endpointId: endpoint.id, attempt });
      const payload = JSON.stringify(eventView(event));
      let result: AttemptResult;
      const urlProblem = webhookUrlProblem(endpoint.url, endpoint.livemode);
      if (urlProblem) {
        result = { error: `the endpoint URL ${urlProblem}`, latencyMs: 0 };
      } else if (Buffer.byteLength(payload) > MAX_PAYLOAD_BYTES) {
        result = { error: `the event is larger than ${MAX_PAYLOAD_BYTES} bytes`, latencyMs: 0 };
      } else {
        const secrets = await signingSecrets(pool, endpoint.id);
        const now = new Date();
        // One signature per live secret: during a rotation's grace period, receivers holding
        // either secret verify the delivery.
        const signature = secrets.map((s) => new Webhook(s).sign(event.id, now, payload)).join(' ');
        result = await postOnce(
          new URL(endpoint.url),
          {
            'content-type': 'application/json',
            'user-agent': 'Passerelle-Webhooks/1.0',
            'webhook-id': event.id,
            'webhook-timestamp': String(Math.floor(now.getTime() / 1000)),
            'webhook-signature': signature,
          },
          payload,
          { timeoutMs: deps.timeoutMs, livemode: endpoint.livemode },
        );
      }
      const ok = result.status !== undefined && result.status >= 200 && result.status < 300;
      recordDeliveryMetrics(result, ok, event.createdAt);
      const base = {
        deliveryId,
        attempt,
        httpStatus: result.status,
        latencyMs: result.latencyMs,
        responseBody: result.body,
        error: ok ? undefined : (result.error ?? `HTTP ${result.status}`),
      };
      if (ok) {
        await recordWebhookAttempt(pool, { ...base, outcome: 'succeeded' });
        log.info({ status: result.status, latencyMs: result.latencyMs }, 'webhook delivered');
        return 'succeeded';
      }
      if (result.status === 410) {
        await recordWebhookAttempt(pool, {
          ...base,
          outcome: 'failed',
          disableEndpoint: 'the endpoint answered 410 Gone',
        });
        log.warn('webhook endpoint answered 410 Gone: disabled');
        return 'failed';
      }
      const delayMs = jitteredRetryDelayMs(attempt, Math.random(), schedule);
      if (delayMs === undefined) {
        // The whole schedule (three days by default) failed. An endpoint that has not succeeded
        // since this delivery began has been failing all that time: it is disabled, with an event.
        const stillFailing = !(await endpointSucceededSince(pool, endpoint.id, delivery.createdAt));
        await recordWebhookAttempt(pool, {
          ...base,
          outcome: 'failed',
          ...(stillFailing
            ? { disableEndpoint: `every delivery failed for ${Math.round(schedule.windowMs / 3_600_000)} h` }
            : {}),
        });
        log.warn({ error: base.error, disabled: stillFailing }, 'webhook delivery failed for good');
        return 'failed';
      }
      await recordWebhookAttempt(pool, {
        ...base,
        outcome: 'retry',
        nextAttemptAt: new Date(Date.now() + delayMs),
      });
      log.info({ error: base.error, retryInMs: delayMs }, 'webhook attempt failed');
      throw ApplicationFailure.create({
        message: `attempt ${attempt}: ${base.error}`,
        type: 'WebhookAttemptFailed',
        nextRetryDelay: delayMs,
      });
    },
  };
}

export type WebhookActivities = ReturnType<typeof createWebhookActivities>;
