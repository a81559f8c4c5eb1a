import type { Request, Response } from 'express';
import type { Client } from '@temporalio/client';
import type { OperatorRules } from '../operators/registry.js';
import { getMerchantPayment, listMerchantPayments, type PaymentRecord } from '../db/payments.js';
import type { Pool } from '../db/pool.js';
import type { Config } from '../lib/config.js';
import { PAYMENT_ID_PATTERN, type PaymentKind } from '../lib/payments.js';
import { currentMerchant, type MerchantInMode } from './auth.js';
import { Problem, validationProblem } from './problems.js';
import { PayinListQuery } from './schemas.js';
import { decodeCursor, listAnswer, paymentView } from './views.js';

/** What the payment routes (payins, payouts, refunds) share. */
export interface PaymentRouteDeps {
  config: Config;
  pool: Pool;
  temporal: Client;
  operators: OperatorRules;
}

/** A body is optional on some POSTs (rotations, resends); when there is one, it is JSON. */
export function optionalJsonBody(req: Request): unknown {
  const hasBody =
    Number(req.headers['content-length'] ?? 0) > 0 || req.headers['transfer-encoding'] !== undefined;
  if (!hasBody) return {};
  requireJson(req.is('application/json'));
  return req.body ?? {};
}

export function requireJson(isJson: string | false | null): void {
  if (!isJson)
    throw new Problem('unsupported-media-type', 'Send the body as JSON with Content-Type: application/json');
}

/** GET list of one kind of payment: newest first, filter by status, cursor pagination. */
export function listRoute(pool: Pool, kind: PaymentKind) {
  return async (req: Request, res: Response) => {
    const merchant = currentMerchant(res.locals);
    const parsed = PayinListQuery.safeParse(req.query);
    if (!parsed.success) throw validationProblem(parsed.error);
    const { status, limit, cursor } = parsed.data;
    const page = await listMerchantPayments(pool, {
      merchantId: merchant.id,
      livemode: merchant.livemode,
      kind,
      status,
      limit,
      after: cursor ? decodeCursor(cursor) : undefined,
    });
    res.json(listAnswer(page.items.map(paymentView), page.next));
  };
}

export async function findPayment(
  pool: Pool,
  merchant: MerchantInMode,
  id: string,
  kind: PaymentKind,
): Promise<PaymentRecord> {
  const payment = PAYMENT_ID_PATTERN.test(id)
    ? await getMerchantPayment(pool, merchant.id, id, kind, merchant.livemode)
    : undefined;
  if (!payment) throw new Problem('not-found', `No ${kind} ${id}`);
  return payment;
}
