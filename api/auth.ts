import type { RequestHandler } from 'express';
import { findMerchantByApiKey, type Merchant } from '../db/merchants.js';
import type { Pool } from '../db/pool.js';
import { Problem } from './problems.js';

declare module 'express-serve-static-core' {
  interface Locals {
    merchant?: Merchant;
    /** Whether the request's key is a live one (webhook URLs are then checked against SSRF). */
    livemode?: boolean;
  }
}

/** `Authorization: Bearer sk_...`: the key is hashed and looked up; the merchant goes in res.locals. */
/**
 * Whether a key acts in live mode: `sk_live_` keys do, `sk_test_` keys do not, and keys of the
 * earlier unprefixed format (`sk_` + 40 characters) follow the deployment (live in production).
 */
export function keyIsLive(apiKey: string, production: boolean): boolean {
  if (apiKey.startsWith('sk_live_')) return true;
  if (apiKey.startsWith('sk_test_')) return false;
  return production;
}

/** The merchant whose key an `Authorization: Bearer sk_...` header carries; 401 otherwise. */
export async function merchantOfAuthorization(
  pool: Pool,
  header: string | undefined,
): Promise<{ merchant: Merchant; apiKey: string }> {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
  if (!match) throw new Problem('unauthenticated', 'Send your API key as "Authorization: Bearer sk_..."');
  const merchant = await findMerchantByApiKey(pool, match[1]!);
  if (!merchant) throw new Problem('unauthenticated', 'This API key is unknown or revoked');
  return { merchant, apiKey: match[1]! };
}

export function requireMerchant(
  pool: Pool,
  opts: { production: boolean } = { production: false },
): RequestHandler {
  return async (req, res, next) => {
    const { merchant, apiKey } = await merchantOfAuthorization(pool, req.header('authorization'));
    res.locals.merchant = merchant;
    res.locals.livemode = keyIsLive(apiKey, opts.production);
    req.log = req.log.child({ merchantId: merchant.id });
    next();
  };
}

export function currentMerchant(locals: { merchant?: Merchant }): Merchant {
  if (!locals.merchant) throw new Problem('unauthenticated');
  return locals.merchant;
}
