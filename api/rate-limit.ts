import type { RequestHandler } from 'express';
import { RateLimiterMemory, RateLimiterPostgres, RateLimiterRes } from 'rate-limiter-flexible';
import { merchantRateLimit } from '../db/merchants.js';
import type { Pool } from '../db/pool.js';
import type { Logger } from '../lib/logger.js';
import { Problem } from './problems.js';

/** A merchant's own limit is read again after this long (a change by operations is taken up). */
const MERCHANT_LIMIT_TTL_MS = 30_000;

/**
 * Per-key request limits shared by every API process: rate-limiter-flexible's RateLimiterPostgres
 * counts in one PostgreSQL table (api_rate_limits, made by the migrations). If PostgreSQL does not
 * answer, each process limits alone in memory (the insurance limiter) rather than failing open or
 * closed. Answers carry the IETF `RateLimit-Policy` and `RateLimit` headers; a refusal is a 429
 * problem with `Retry-After`.
 */
export function rateLimitByKey(deps: {
  pool: Pool;
  defaultRequests: number;
  windowSeconds: number;
  logger: Logger;
}): RequestHandler {
  const WINDOW_SECONDS = deps.windowSeconds;
  const limiters = new Map<number, RateLimiterPostgres>();
  const limiterFor = (points: number) => {
    let limiter = limiters.get(points);
    if (!limiter) {
      limiter = new RateLimiterPostgres({
        storeClient: deps.pool,
        storeType: 'pool',
        tableName: 'api_rate_limits',
        tableCreated: true,
        keyPrefix: `key${points}w${WINDOW_SECONDS}`,
        points,
        duration: WINDOW_SECONDS,
        clearExpiredByTimeout: true,
        insuranceLimiter: new RateLimiterMemory({ points, duration: WINDOW_SECONDS }),
      });
      limiters.set(points, limiter);
    }
    return limiter;
  };
  const merchantLimits = new Map<string, { requests: number; at: number }>();
  const limitOf = async (merchantId: string): Promise<number> => {
    const cached = merchantLimits.get(merchantId);
    if (cached && Date.now() - cached.at < MERCHANT_LIMIT_TTL_MS) return cached.requests;
    const requests = (await merchantRateLimit(deps.pool, merchantId)) ?? deps.defaultRequests;
    merchantLimits.set(merchantId, { requests, at: Date.now() });
    return requests;
  };

  return async (_req, res, next) => {
    const key = res.locals.apiKey;
    const merchant = res.locals.merchant;
    if (!key || !merchant) return next();
    const points = await limitOf(merchant.id);
    const policy = `"per-key";q=${points};w=${WINDOW_SECONDS}`;
    res.setHeader('RateLimit-Policy', policy);
    try {
      const state = await limiterFor(points).consume(key.id);
      res.setHeader('RateLimit', rateLimitField(state));
      next();
    } catch (rejection) {
      if (!(rejection instanceof RateLimiterRes)) throw rejection;
      const retryAfter = Math.max(1, Math.ceil(rejection.msBeforeNext / 1000));
      res.setHeader('RateLimit', rateLimitField(rejection));
      res.setHeader('Retry-After', String(retryAfter));
      throw new Problem(
        'rate-limited',
        `This key may make ${points} requests per ${WINDOW_SECONDS === 1 ? 'second' : `${WINDOW_SECONDS} s`}; retry in ${retryAfter} s`,
      );
    }
  };
}

/** `RateLimit: "per-key";r=<remaining>;t=<seconds to reset>` (draft-ietf-httpapi-ratelimit-headers). */
function rateLimitField(state: RateLimiterRes): string {
  return `"per-key";r=${Math.max(0, state.remainingPoints)};t=${Math.max(0, Math.ceil(state.msBeforeNext / 1000))}`;
}
