import type { RequestHandler } from 'express';
import { findMerchantByApiKey, type Merchant } from '../db/merchants.js';
import type { Pool } from '../db/pool.js';
import { Problem } from './problems.js';

declare module 'express-serve-static-core' {
  interface Locals {
    merchant?: Merchant;
  }
}

/** `Authorization: Bearer sk_...`: the key is hashed and looked up; the merchant goes in res.locals. */
export function requireMerchant(pool: Pool): RequestHandler {
  return async (req, res, next) => {
    const header = req.header('authorization') ?? '';
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (!match) throw new Problem('unauthenticated', 'Send your API key as "Authorization: Bearer sk_..."');
    const merchant = await findMerchantByApiKey(pool, match[1]!);
    if (!merchant) throw new Problem('unauthenticated', 'This API key is unknown or revoked');
    res.locals.merchant = merchant;
    req.log = req.log.child({ merchantId: merchant.id });
    next();
  };
}

export function currentMerchant(locals: { merchant?: Merchant }): Merchant {
  if (!locals.merchant) throw new Problem('unauthenticated');
  return locals.merchant;
}
