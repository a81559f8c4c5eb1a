import { Router } from 'express';
import { merchantBalances, merchantLedgerEntries, pendingPayinTotals } from '../db/ledger.js';
import type { Pool } from '../db/pool.js';
import { currentMerchant } from './auth.js';
import { Problem, validationProblem } from './problems.js';
import { LedgerQuery } from './schemas.js';

/** `GET /v1/balance` and `GET /v1/ledger/entries`: the merchant's books. */
export function ledgerRoutes(pool: Pool): Router {
  const router = Router();

  router.get('/balance', async (_req, res) => {
    const merchant = currentMerchant(res.locals);
    const [balances, pending] = await Promise.all([
      merchantBalances(pool, merchant.id, merchant.livemode),
      // Payins still open: what may be credited (net of fees) once they succeed.
      pendingPayinTotals(pool, merchant.id, merchant.livemode),
    ]);
    const byCurrency = new Map<
      string,
      { currency: string; available: number; on_hold: number; pending: number }
    >();
    for (const b of balances)
      byCurrency.set(b.currency, {
        currency: b.currency,
        available: b.available,
        on_hold: b.onHold,
        pending: 0,
      });
    for (const p of pending) {
      const row = byCurrency.get(p.currency) ?? {
        currency: p.currency,
        available: 0,
        on_hold: 0,
        pending: 0,
      };
      row.pending = p.pending;
      byCurrency.set(p.currency, row);
    }
    res.json({
      object: 'balance',
      livemode: merchant.livemode,
      balances: [...byCurrency.values()].sort((a, b) => a.currency.localeCompare(b.currency)),
    });
  });

  router.get('/ledger/entries', async (req, res) => {
    const merchant = currentMerchant(res.locals);
    const parsed = LedgerQuery.safeParse(req.query);
    if (!parsed.success) throw validationProblem(parsed.error);
    const { payment_id, limit, cursor } = parsed.data;
    let beforeId: number | undefined;
    if (cursor !== undefined) {
      beforeId = Number(Buffer.from(cursor, 'base64url').toString('utf8'));
      if (!Number.isSafeInteger(beforeId) || beforeId <= 0) {
        throw new Problem('validation-error', 'cursor is not one we issued', {
          errors: [{ field: 'cursor', message: 'use next_cursor from the previous page' }],
        });
      }
    }
    const page = await merchantLedgerEntries(pool, {
      merchantId: merchant.id,
      livemode: merchant.livemode,
      paymentId: payment_id,
      limit,
      beforeId,
    });
    const last = page.entries[page.entries.length - 1];
    res.json({
      object: 'list',
      data: page.entries.map((e) => ({
        id: e.id,
        payment_id: e.paymentId,
        step: e.step,
        description: e.description,
        created_at: e.createdAt.toISOString(),
        lines: e.lines.map((l) => ({
          account: l.kind === 'merchant_available' ? 'available' : 'on_hold',
          currency: l.currency,
          // Seen from the merchant: a credit to its account is money in.
          amount: -l.amount,
        })),
      })),
      has_more: page.hasMore,
      next_cursor: page.hasMore && last ? Buffer.from(String(last.id)).toString('base64url') : null,
    });
  });
  return router;
}
