import type { RequestHandler } from 'express';
import { apiKeyStatus, findApiKeyBySecret, getApiKeyById, touchApiKey, type ApiKey } from '../db/api-keys.js';
import { getMerchant, type Merchant } from '../db/merchants.js';
import type { Pool } from '../db/pool.js';
import { modeOfKey, scopeGrants, scopeNeeded, type ApiKeyScope } from '../lib/api-keys.js';
import type { Logger } from '../lib/logger.js';
import type { AccessTokens } from './oauth.js';
import { Problem } from './problems.js';

declare module 'express-serve-static-core' {
  interface Locals {
    merchant?: Merchant;
    /** Whether the request acts in live mode (its key's mode): objects it makes and sees are of that mode. */
    livemode?: boolean;
    /** The key the request authenticated with (directly, or through an OAuth access token). */
    apiKey?: ApiKey;
    /** What the request may do: its key's scopes, or the narrower ones of its access token. */
    scopes?: readonly ApiKeyScope[];
  }
}

/** Who a request is: the merchant, the key, the mode and what it may do. */
export interface Principal {
  merchant: Merchant;
  key: ApiKey;
  livemode: boolean;
  scopes: readonly ApiKeyScope[];
  via: 'api_key' | 'oauth';
}

export interface AuthDeps {
  pool: Pool;
  /** OAuth access tokens are accepted where keys are when set. */
  tokens?: AccessTokens;
  /** Mode of keys of the earlier unprefixed format: live in production. */
  production?: boolean;
  logger?: Logger;
}

function refused(key: ApiKey | undefined): Problem | undefined {
  if (!key) return new Problem('unauthenticated', 'This API key is unknown');
  const status = apiKeyStatus(key);
  if (status === 'revoked') return new Problem('unauthenticated', 'This API key was revoked');
  if (status === 'expired') return new Problem('unauthenticated', 'This API key has expired');
  return undefined;
}

/**
 * Merchants as every request reads them (id, name, creation: never changed once made), kept per
 * database pool after the first read instead of a query per request.
 */
const knownMerchants = new WeakMap<AuthDeps['pool'], Map<string, Merchant>>();
const KNOWN_MERCHANTS_MAX = 10_000;

async function merchantOf(pool: AuthDeps['pool'], id: string): Promise<Merchant | undefined> {
  let known = knownMerchants.get(pool);
  if (!known) knownMerchants.set(pool, (known = new Map<string, Merchant>()));
  const cached = known.get(id);
  if (cached) return cached;
  const merchant = await getMerchant(pool, id);
  if (merchant) {
    if (known.size >= KNOWN_MERCHANTS_MAX) known.clear();
    known.set(id, merchant);
  }
  return merchant;
}

/**
 * Who sends an `Authorization: Bearer …` header: an API key (`sk_test_…`, `sk_live_…`) or an
 * OAuth access token issued for one; 401 when missing, unknown, revoked or expired. A revoked
 * key's tokens stop working with it (each request reads the key).
 */
export async function principalOfAuthorization(
  deps: AuthDeps,
  header: string | undefined,
): Promise<Principal> {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
  if (!match) {
    throw new Problem('unauthenticated', 'Send your API key as "Authorization: Bearer sk_..."');
  }
  const credential = match[1]!;
  let key: ApiKey | undefined;
  let scopes: readonly ApiKeyScope[] | undefined;
  let via: Principal['via'] = 'api_key';
  if (credential.startsWith('sk_')) {
    key = await findApiKeyBySecret(deps.pool, credential);
  } else if (deps.tokens) {
    const token = await deps.tokens.verify(credential);
    if (!token) throw new Problem('unauthenticated', 'This access token is invalid or has expired');
    key = await getApiKeyById(deps.pool, token.keyId);
    scopes = token.scopes;
    via = 'oauth';
  }
  const problem = refused(key);
  if (problem || !key) throw problem ?? new Problem('unauthenticated');
  const merchant = await merchantOf(deps.pool, key.merchantId);
  if (!merchant) throw new Problem('unauthenticated', 'This API key is unknown');
  // last_used_at is kept to the minute: no write at all while the one we read is recent.
  if (!key.lastUsedAt || Date.now() - key.lastUsedAt.getTime() > 60_000) {
    touchApiKey(deps.pool, key.id).catch((err: unknown) =>
      deps.logger?.warn({ err: (err as Error).message, apiKeyId: key.id }, 'last_used_at not written'),
    );
  }
  return {
    merchant,
    key,
    livemode: modeOfKey(key, deps.production ?? false) === 'live',
    // A token never grants more than its key has now (the key's scopes may not change, but the rule is cheap).
    scopes: scopes ? scopes.filter((s) => key.scopes.includes(s)) : key.scopes,
    via,
  };
}

/**
 * Authenticates the request and checks that its scopes grant what it asks (403 otherwise); the
 * principal goes in res.locals.
 */
export function requireMerchant(deps: AuthDeps): RequestHandler {
  return async (req, res, next) => {
    const principal = await principalOfAuthorization(deps, req.header('authorization'));
    res.locals.merchant = principal.merchant;
    res.locals.livemode = principal.livemode;
    res.locals.apiKey = principal.key;
    res.locals.scopes = principal.scopes;
    req.log = req.log.child({ merchantId: principal.merchant.id, apiKeyId: principal.key.id });
    const needed = scopeNeeded(req.method, req.originalUrl.split('?')[0]!);
    if (!scopeGrants(principal.scopes, needed)) {
      throw new Problem(
        'forbidden',
        `This ${principal.via === 'oauth' ? 'access token' : 'key'} lacks the "${needed}" scope ` +
          `(it has: ${principal.scopes.join(', ')})`,
        { code: 'insufficient_scope' },
      );
    }
    next();
  };
}

/** A merchant acting in one mode: what a request may make and see is of that mode only. */
export interface MerchantInMode extends Merchant {
  livemode: boolean;
}

export function currentMerchant(locals: { merchant?: Merchant; livemode?: boolean }): MerchantInMode {
  if (!locals.merchant || locals.livemode === undefined) throw new Problem('unauthenticated');
  return { ...locals.merchant, livemode: locals.livemode };
}

/** The mode the request acts in (set by requireMerchant). */
export function currentLivemode(locals: { livemode?: boolean }): boolean {
  if (locals.livemode === undefined) throw new Problem('unauthenticated');
  return locals.livemode;
}
