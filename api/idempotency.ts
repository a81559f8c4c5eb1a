import { createHash } from 'node:crypto';
import type { Request, Response } from 'express';
import { completeIdempotencyKey, findIdempotencyKey, reserveIdempotencyKey } from '../db/idempotency.js';
import type { Pool } from '../db/pool.js';
import { Problem } from './problems.js';

/** `Idempotency-Key` header: 1 to 255 visible ASCII characters, or absent. */
export function idempotencyKeyOf(req: Request): string | undefined {
  const key = req.header('idempotency-key');
  if (key === undefined) return undefined;
  if (!/^[\x21-\x7e]{1,255}$/.test(key)) {
    throw new Problem('validation-error', 'Idempotency-Key must be 1 to 255 visible ASCII characters', {
      errors: [{ field: 'Idempotency-Key', message: 'must be 1 to 255 visible ASCII characters' }],
    });
  }
  return key;
}

/** JSON with object keys sorted, so that the same body hashes the same whatever its key order. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

export function requestHash(method: string, path: string, body: unknown): string {
  return createHash('sha256')
    .update(`${method} ${path}\n${canonicalJson(body)}`)
    .digest('hex');
}

const RESOURCE_PATHS: Record<string, string> = {
  payin: '/v1/payins',
  payout: '/v1/payouts',
  refund: '/v1/refunds',
  transfer: '/v1/transfers',
};

/** Sends a stored answer again, as the first request got it. */
function replay(res: Response, status: number, body: unknown): void {
  res.setHeader('Idempotent-Replayed', 'true');
  // The first answer's Location, from the resource it created.
  const created = body as { id?: unknown; object?: unknown } | null;
  const collection = typeof created?.object === 'string' ? RESOURCE_PATHS[created.object] : undefined;
  if (status < 300 && collection && typeof created?.id === 'string') {
    res.location(`${collection}/${created.id}`);
  }
  res.status(status).type(status >= 400 ? 'application/problem+json' : 'json');
  res.send(JSON.stringify(body));
}

/**
 * Looks the request's `Idempotency-Key` up before anything else is checked (routes, fees,
 * balances may have changed since): a repeat of a finished request gets its stored answer, and
 * the key with another body is 409, whatever would be decided today. Returns true when it
 * answered. Money-moving creates (payouts, refunds, transfers) require a key, as Stripe
 * recommends and Flutterwave enforces: a retry without one could pay twice.
 */
export async function replayIdempotent(
  pool: Pool,
  req: Request,
  res: Response,
  o: { merchantId: string; path: string; required?: boolean },
): Promise<boolean> {
  const key = idempotencyKeyOf(req);
  if (!key) {
    if (!o.required) return false;
    throw new Problem('validation-error', 'Idempotency-Key is required for a request that moves money', {
      errors: [
        { field: 'Idempotency-Key', message: 'required: a unique key per payout, refund or transfer' },
      ],
    });
  }
  const existing = await findIdempotencyKey(
    pool,
    { merchantId: o.merchantId, livemode: livemodeOf(res) },
    key,
  );
  if (!existing) return false;
  if (existing.requestHash !== requestHash('POST', o.path, req.body)) {
    throw new Problem(
      'idempotency-key-reused',
      'This Idempotency-Key was used with another request; use a new key',
    );
  }
  if (existing.responseStatus === null) return false;
  replay(res, existing.responseStatus, existing.responseBody);
  return true;
}

/** The mode of the request's key: an Idempotency-Key of a test request never answers a live one. */
function livemodeOf(res: Response): boolean {
  if (res.locals.livemode === undefined) throw new Problem('unauthenticated');
  return res.locals.livemode;
}

export interface CreateAnswer {
  status: number;
  body: unknown;
}

/**
 * Runs a create call under its `Idempotency-Key` (DESIGN.md rule 3): the same key and body
 * replay the stored answer, another body is 409, and a first request cut off before it answered
 * is carried on with the same resource id. Without a key, `create` runs with a fresh id.
 */
export async function idempotentCreate(
  pool: Pool,
  req: Request,
  res: Response,
  o: {
    merchantId: string;
    path: string;
    newResourceId: () => string;
    create: (resourceId: string) => Promise<CreateAnswer>;
  },
): Promise<void> {
  const key = idempotencyKeyOf(req);
  let resourceId = o.newResourceId();
  if (key) {
    const hash = requestHash('POST', o.path, req.body);
    const reservation = await reserveIdempotencyKey(pool, {
      merchantId: o.merchantId,
      livemode: livemodeOf(res),
      key,
      method: 'POST',
      path: o.path,
      requestHash: hash,
      resourceId,
    });
    if (!reservation.reserved) {
      const existing = reservation.existing;
      if (existing.requestHash !== hash) {
        throw new Problem(
          'idempotency-key-reused',
          'This Idempotency-Key was used with another request; use a new key',
        );
      }
      if (existing.responseStatus !== null) {
        replay(res, existing.responseStatus, existing.responseBody);
        return;
      }
      resourceId = existing.resourceId ?? resourceId;
    }
  }
  const answer = await o.create(resourceId);
  // A 202 (first step still running) is not final: a repeat re-asks and may then get the 201.
  if (key && answer.status !== 202) {
    await completeIdempotencyKey(pool, {
      merchantId: o.merchantId,
      livemode: livemodeOf(res),
      key,
      status: answer.status,
      body: answer.body,
    });
  }
  res.status(answer.status);
  if (answer.status >= 400) res.type('application/problem+json');
  res.json(answer.body);
}
