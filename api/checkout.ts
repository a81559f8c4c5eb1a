import { Router } from 'express';
import { listOperatorHealth } from '../db/operator-health.js';
import { getPayment } from '../db/payments.js';
import type { Pool } from '../db/pool.js';
import { PAYMENT_ID_PATTERN } from '../lib/payments.js';
import { OPERATORS, type OperatorName, type OperatorRules } from '../activities/index.js';
import { currentMerchant } from './auth.js';

const escape = (s: string) =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

/**
 * `GET /checkout/:paymentId`: for operators whose payment page must be reached by a POSTed form
 * (TMoney online), a page that posts it for the payer's browser, so that a merchant can simply
 * redirect. The payment id is unguessable; the page shows nothing but the form.
 */
export function checkoutRoutes(pool: Pool): Router {
  const router = Router();
  router.get('/:id', async (req, res) => {
    const payment = PAYMENT_ID_PATTERN.test(req.params.id)
      ? await getPayment(pool, req.params.id)
      : undefined;
    const action = payment?.nextAction;
    if (!payment || payment.status !== 'action_required' || action?.type !== 'form_post') {
      res.status(404).type('html').send('<!doctype html><p>No payment waits for this page.</p>');
      return;
    }
    const inputs = Object.entries(action.fields)
      .map(([k, v]) => `<input type="hidden" name="${escape(k)}" value="${escape(v)}">`)
      .join('\n');
    res.type('html').setHeader('Cache-Control', 'no-store')
      .send(`<!doctype html><html><head><meta charset="utf-8"><title>Paiement</title></head>
<body onload="document.forms[0].submit()">
<form method="post" action="${escape(action.url)}">
${inputs}
<noscript><button type="submit">Continuer vers le paiement</button></noscript>
</form></body></html>`);
  });
  return router;
}

/** `GET /v1/operators`: route health, and the balances operators report (PayGateGlobal: Flooz, TMoney). */
export function operatorRoutes(pool: Pool, operators: OperatorRules): Router {
  const router = Router();
  router.get('/', async (_req, res) => {
    currentMerchant(res.locals);
    const health = new Map((await listOperatorHealth(pool)).map((h) => [h.operator, h]));
    const data = await Promise.all(
      OPERATORS.map(async (operator: OperatorName) => {
        const h = health.get(operator);
        const up = !h?.openUntil || h.openUntil.getTime() <= Date.now();
        let balances: { network: string; amount: number; currency: string }[] | null = null;
        let balanceError: string | undefined;
        try {
          balances = (await operators.balances(operator)) ?? null;
        } catch (err) {
          balanceError = (err as Error).message;
        }
        return {
          operator,
          status: up ? 'up' : 'down',
          ...(h?.openUntil && !up ? { down_until: h.openUntil.toISOString() } : {}),
          balances,
          ...(balanceError ? { balance_error: balanceError } : {}),
        };
      }),
    );
    res.json({ object: 'list', data });
  });
  return router;
}
