import { Router } from 'express';
import { z } from 'zod';
import {
  apiKeyStatus,
  getApiKey,
  insertApiKey,
  listApiKeys,
  revokeApiKey,
  rotateApiKey,
  type ApiKey,
} from '../db/api-keys.js';
import type { Pool } from '../db/pool.js';
import {
  API_KEY_MODES,
  API_KEY_SCOPES,
  DEFAULT_ROTATION_GRACE_SECONDS,
  MAX_ROTATION_GRACE_SECONDS,
  modeOfKey,
  type ApiKeyMode,
} from '../lib/api-keys.js';
import { apiKeyView } from '../db/resource-views.js';
import { currentLivemode, currentMerchant } from './auth.js';
import { optionalJsonBody, requireJson } from './payment-routes.js';
import { Problem, validationProblem } from './problems.js';
import './schemas.js';

/** The shapes of API keys (docs/api-keys.md). */

export const ApiKeySchema = z
  .object({
    id: z.string().meta({ example: 'key_2b4d6f8h2j4l6n8p3r5t7v2x', description: 'Also the OAuth client_id' }),
    object: z.literal('api_key'),
    name: z.string(),
    mode: z.enum(API_KEY_MODES),
    livemode: z.boolean(),
    scopes: z.array(z.enum(API_KEY_SCOPES)),
    prefix: z.string().meta({ example: 'sk_test_abcd', description: 'The first characters of the secret' }),
    status: z.enum(['active', 'revoked', 'expired']),
    created_at: z.string(),
    last_used_at: z.string().nullable().meta({ description: 'To the minute' }),
    expires_at: z.string().nullable(),
    revoked_at: z.string().nullable(),
    replaced_by: z.string().nullable().meta({ description: 'The key that replaced this one by a rotation' }),
  })
  .meta({ id: 'ApiKey' });

export const ApiKeyWithSecretSchema = ApiKeySchema.extend({
  secret: z
    .string()
    .meta({ description: 'The key itself (also the OAuth client_secret): shown only this once' }),
}).meta({ id: 'ApiKeyWithSecret' });

export const CreateApiKeyRequest = z
  .object({
    name: z.string().trim().min(1).max(100),
    mode: z
      .enum(API_KEY_MODES)
      .optional()
      .meta({ description: "Default: the calling key's mode. A test key may only make test keys." }),
    scopes: z
      .array(z.enum(API_KEY_SCOPES))
      .min(1)
      .max(API_KEY_SCOPES.length)
      .optional()
      .meta({
        description:
          'Default: all. `read` reads everything; `payins` creates payins; `payouts` payouts, refunds and ' +
          'transfers; `admin` manages keys and webhook endpoints. A key grants at most the scopes it has.',
      }),
    expires_at: z.iso
      .datetime({ offset: true })
      .optional()
      .meta({ description: 'When the key stops working; a warning event comes 7 days before' }),
  })
  .strict()
  .meta({ id: 'CreateApiKeyRequest' });

export const RotateApiKeyRequest = z
  .object({
    grace_period_seconds: z
      .number()
      .int()
      .min(0)
      .max(MAX_ROTATION_GRACE_SECONDS)
      .optional()
      .meta({ description: 'How long the old key keeps working (default 86400: 24 hours; at most 7 days)' }),
  })
  .strict()
  .meta({ id: 'RotateApiKeyRequest' });

/**
 * `/v1/api-keys`: a merchant's keys, managed with a key holding the `admin` scope. A live key sees
 * and manages the merchant's keys of both modes; a test key only test keys, so that a leaked test
 * key can never reach live money.
 */
export function apiKeyRoutes(pool: Pool, opts: { production: boolean }): Router {
  const router = Router();
  const modesSeen = (livemode: boolean): (ApiKeyMode | null)[] => {
    const legacy = opts.production === livemode ? [null] : [];
    return livemode ? ['test', 'live', ...legacy] : ['test', ...legacy];
  };
  const visible = (key: ApiKey | undefined, livemode: boolean): key is ApiKey =>
    !!key && (livemode || modeOfKey(key, opts.production) === 'test');

  router.post('/', async (req, res) => {
    requireJson(req.is('application/json'));
    const merchant = currentMerchant(res.locals);
    const livemode = currentLivemode(res.locals);
    const parsed = CreateApiKeyRequest.safeParse(req.body);
    if (!parsed.success) throw validationProblem(parsed.error);
    const body = parsed.data;
    const mode = body.mode ?? (livemode ? 'live' : 'test');
    if (mode === 'live' && !livemode) throw new Problem('forbidden', 'A test key cannot make a live key');
    const scopes = body.scopes ? [...new Set(body.scopes)] : [...API_KEY_SCOPES];
    const own = res.locals.scopes ?? [];
    const beyond = scopes.filter((s) => !own.includes(s));
    if (beyond.length) {
      throw new Problem('forbidden', `A key cannot grant scopes it does not have: ${beyond.join(', ')}`, {
        code: 'insufficient_scope',
      });
    }
    const expiresAt = body.expires_at ? new Date(body.expires_at) : null;
    if (expiresAt && expiresAt.getTime() <= Date.now()) {
      throw new Problem('validation-error', 'expires_at must be in the future', {
        errors: [{ field: 'expires_at', message: 'must be in the future' }],
      });
    }
    const made = await insertApiKey(pool, {
      merchantId: merchant.id,
      mode,
      name: body.name,
      scopes,
      expiresAt,
    });
    req.log.info({ apiKeyId: made.apiKeyId, mode, scopes }, 'API key created');
    res
      .status(201)
      .location(`/v1/api-keys/${made.apiKeyId}`)
      .json({ ...apiKeyView(made.key, opts.production), secret: made.apiKey });
  });

  router.get('/', async (_req, res) => {
    const merchant = currentMerchant(res.locals);
    const keys = await listApiKeys(pool, merchant.id, modesSeen(currentLivemode(res.locals)));
    res.json({ object: 'list', data: keys.map((k) => apiKeyView(k, opts.production)), has_more: false });
  });

  router.get('/:id', async (req, res) => {
    const key = await getApiKey(pool, currentMerchant(res.locals).id, req.params.id);
    if (!visible(key, currentLivemode(res.locals))) throw new Problem('not-found', 'No such API key');
    res.json(apiKeyView(key, opts.production));
  });

  router.post('/:id/revoke', async (req, res) => {
    const merchantId = currentMerchant(res.locals).id;
    const existing = await getApiKey(pool, merchantId, req.params.id);
    if (!visible(existing, currentLivemode(res.locals))) throw new Problem('not-found', 'No such API key');
    const key = await revokeApiKey(pool, merchantId, existing.id);
    req.log.info({ revokedApiKeyId: existing.id }, 'API key revoked');
    res.json(apiKeyView(key!, opts.production));
  });

  router.post('/:id/rotate', async (req, res) => {
    const merchantId = currentMerchant(res.locals).id;
    const parsed = RotateApiKeyRequest.safeParse(optionalJsonBody(req));
    if (!parsed.success) throw validationProblem(parsed.error);
    const existing = await getApiKey(pool, merchantId, req.params.id);
    if (!visible(existing, currentLivemode(res.locals))) throw new Problem('not-found', 'No such API key');
    const grace = parsed.data.grace_period_seconds ?? DEFAULT_ROTATION_GRACE_SECONDS;
    const rotated = await rotateApiKey(
      pool,
      merchantId,
      existing.id,
      grace,
      opts.production ? 'live' : 'test',
    );
    if (rotated === 'not-found') throw new Problem('not-found', 'No such API key');
    if (rotated === 'not-rotatable') {
      throw new Problem(
        'conflict',
        existing.replacedBy
          ? `This key was already rotated: rotate its successor ${existing.replacedBy}`
          : `This key is ${apiKeyStatus(existing)}: only an active key can be rotated`,
      );
    }
    req.log.info(
      { rotatedApiKeyId: existing.id, newApiKeyId: rotated.key.id, graceSeconds: grace },
      'API key rotated',
    );
    res
      .status(201)
      .location(`/v1/api-keys/${rotated.key.id}`)
      .json({
        ...apiKeyView(rotated.key, opts.production),
        secret: rotated.apiKey,
        previous: apiKeyView(rotated.previous, opts.production),
      });
  });
  return router;
}
