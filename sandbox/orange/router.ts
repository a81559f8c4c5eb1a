import express, { Router, type NextFunction, type Request, type Response } from 'express';
import type { Logger } from 'pino';
import { z } from 'zod';
import type { SandboxConfig } from '../config.js';
import { htmlEscape as e, pageStyle } from '../delivery.js';
import {
  ReportAdjustments,
  adjustmentRoutes,
  periodOf,
  streamLines,
  within,
  type ReportRow,
} from '../reports.js';
import {
  ORANGE_COUNTRIES,
  ORANGE_DIAL_CODES,
  OrangeSandbox,
  isOrangeCountry,
  type OrangeCountry,
  type OrangeTransaction,
} from './orange.js';
import { ORANGE_SCENARIOS, orangeScenario } from './scenarios.js';

export { OrangeSandbox, type OrangeTransaction } from './orange.js';
export { ORANGE_SCENARIOS } from './scenarios.js';

/**
 * Orange Money WebPay under `/orange/`, from Orange's public WebPay API as its clients use it
 * (../shared/reference/operators-facts.md), plus our reading where Orange publishes nothing
 * (cash-in, refund, report, balance: marked "ours").
 *
 *   POST /oauth/v3/token                              Basic client_id:client_secret, form grant_type=client_credentials
 *        → 200 {token_type: 'Bearer', access_token, expires_in}; 401 {error: 'invalid_client'};
 *          400 {error: 'unsupported_grant_type'} (or 'invalid_request' when grant_type is missing)
 *   Every route below: `Authorization: Bearer <token>`, else 401 {code: 42, message: 'Expired credentials', description};
 *   {cc} is dev (OUV), ci, sn, ml (XOF), cm (XAF), gn (GNF); another: 404 {code: 404, message: 'Resource not found'}.
 *   Validation errors: 400 {code, message, description}, code one of missing_parameter, invalid_merchant_key,
 *   invalid_amount, invalid_url, invalid_currency, invalid_msisdn, invalid_parameter, invalid_request.
 *   POST /orange-money-webpay/{cc}/v1/webpayment       {merchant_key, currency, order_id, amount, return_url,
 *        cancel_url, notif_url, lang (fr|en), reference?}
 *        → 201 {status: 201, message: 'OK', pay_token, payment_url, notif_token}; 409 {code: 'duplicate_order_id'}
 *   GET  /webpay/:payToken, POST /webpay/:payToken     the payer's page (form: msisdn, otp 4-6 digits, action pay|cancel)
 *        → 303 to return_url (SUCCESS) or cancel_url (FAILED); EXPIRED and PENDING: a page saying so
 *   POST /orange-money-webpay/{cc}/v1/transactionstatus {order_id, amount, pay_token}
 *        → 201 {status: INITIATED|PENDING|EXPIRED|SUCCESS|FAILED, order_id, txnid?}; 404 {code: 'transaction_not_found'}
 *        (ours: without pay_token the lookup is by order_id, and amount if given)
 *   Notification: POST JSON {status: SUCCESS|FAILED, notif_token, txnid?} to the notif_url as given, retried until 2xx.
 *   POST /orange-money-webpay/{cc}/v1/cashin (ours)    {merchant_key, order_id, amount, currency, msisdn, notif_url, reference?}
 *        → 201 {status, order_id, pay_token, notif_token, txnid}; 400 insufficient_balance; 409 duplicate_order_id
 *   POST /orange-money-webpay/{cc}/v1/refund (ours)    {merchant_key, order_id, pay_token, amount, currency, notif_url, reason?}
 *        → 201 as cash-in; 400 {code: 'refund_not_allowed'}; 404 transaction_not_found (pay_token unknown here)
 *   GET  /orange-money-webpay/{cc}/v1/balance (ours)   → 200 {balance, currency}
 *   GET  /reports/v1/transactions?from=&to= | ?date= (ours; &country= optional)
 *        → text/csv `date,order_id,txnid,type,amount,currency,status`
 *
 * Scenarios by amount (ORANGE_SCENARIOS): webpayments 5001 declined, 5002 cancelled, 5003 no
 * notification, 5004 late notification, 5005 notified three times, 5006 report one unit less,
 * 5007 HTTP 500, 5008 slow answer, 5009 PENDING forever, 5010 expires when posted; cash-ins and
 * refunds 5101 FAILED, 5102 executed but answered late, 5103 executed but HTTP 502, 5104
 * insufficient_balance, 5105 PENDING forever, 5106 not executed and 504 late.
 *
 * Control routes (not Orange's): GET _sandbox/scenarios, GET _sandbox/transactions?order_id=,
 * POST _sandbox/transactions/:orderId/(pay|cancel|expire|complete) ({msisdn} optional for pay),
 * POST _sandbox/outage {down}, POST _sandbox/revoke-tokens, POST|DELETE _sandbox/report-adjustments.
 */

type Fields = Record<string, unknown>;

const amountField = z
  .union([z.number(), z.string().regex(/^\d+$/)])
  .transform(Number)
  .pipe(z.number().int().positive().max(1_000_000_000_000));
const url = z.url({ protocol: /^https?$/ }).max(2048);
const orderId = z.string().min(1).max(64);
const text = z.string().max(255);

const webpaymentBody = z.object({
  merchant_key: z.string(),
  currency: z.string(),
  order_id: orderId,
  amount: amountField,
  return_url: url,
  cancel_url: url,
  notif_url: url,
  lang: z.enum(['fr', 'en']),
  reference: text.optional(),
});
const cashinBody = z.object({
  merchant_key: z.string(),
  currency: z.string(),
  order_id: orderId,
  amount: amountField,
  msisdn: z.string().regex(/^\d{8,15}$/),
  notif_url: url,
  reference: text.optional(),
});
const refundBody = z.object({
  merchant_key: z.string(),
  currency: z.string(),
  order_id: orderId,
  pay_token: z.string().min(1),
  amount: amountField,
  notif_url: url,
  reason: text.optional(),
});
const statusBody = z.object({
  order_id: orderId,
  amount: amountField.optional(),
  pay_token: z.string().min(1).optional(),
});

/** The short code of a validation error, by the field at fault. */
function codeOf(field: string): string {
  if (field === 'amount') return 'invalid_amount';
  if (field.endsWith('_url')) return 'invalid_url';
  if (field === 'currency') return 'invalid_currency';
  if (field === 'msisdn') return 'invalid_msisdn';
  return 'invalid_parameter';
}

function page(title: string, body: string): string {
  return `<!doctype html><html lang="fr"><head><meta charset="utf-8"><title>Orange Money (sandbox) — ${e(title)}</title>
<style>${pageStyle}</style></head><body><div class="card"><h1>Orange Money</h1>${body}<p class="muted">Sandbox Passerelle — Orange Money WebPay</p></div></body></html>`;
}

function orderHeader(tx: OrangeTransaction): string {
  return `<p id="merchant">${e(tx.reference || 'Marchand')}</p><p class="amount">${tx.amount.toLocaleString('fr-FR')} ${e(tx.currency)}</p><p class="muted">Commande ${e(tx.orderId)}</p>`;
}

/** The page for a webpayment that can no longer be paid, or is waiting. */
function statusPage(tx: OrangeTransaction): string {
  const back = (href: string | null) => (href ? `<p><a href="${e(href)}">Retour au marchand</a></p>` : '');
  switch (tx.status) {
    case 'EXPIRED':
      return page(
        'Session expirée',
        `${orderHeader(tx)}<p class="error" id="status">Cette session de paiement a expiré.</p>${back(tx.cancelUrl)}`,
      );
    case 'SUCCESS':
      return page(
        'Paiement effectué',
        `${orderHeader(tx)}<p id="status">Paiement effectué.</p>${back(tx.returnUrl)}`,
      );
    case 'FAILED':
      return page(
        'Paiement non abouti',
        `${orderHeader(tx)}<p class="error" id="status">Paiement non abouti.</p>${back(tx.cancelUrl)}`,
      );
    default:
      return page(
        'En cours',
        `${orderHeader(tx)}<p id="status">Paiement en cours de traitement… Veuillez patienter.</p>`,
      );
  }
}

const EXPIRED_CREDENTIALS = {
  code: 42,
  message: 'Expired credentials',
  description: 'The requested service needs credentials, but the ones provided were out-of-date.',
};

const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function orangeSandbox(
  config: SandboxConfig,
  logger: Logger,
): { router: Router; state: OrangeSandbox; index: Record<string, string> } {
  const orange = new OrangeSandbox(config, logger);
  const settings = orange.settings;
  const router = Router();
  const json = express.json({ limit: '20kb', type: () => true });
  const form = express.urlencoded({ extended: false, limit: '20kb' });
  const base = `${config.SANDBOX_PUBLIC_URL}/orange`;

  const fail = (res: Response, status: number, code: string, message: string, description = message) =>
    void res.status(status).json({ code, message, description });

  /** Outage, then the bearer token: false when the answer has been sent. */
  const authorised = (req: Request, res: Response): boolean => {
    if (orange.down) {
      res.status(503).json({ code: 503, message: 'Service Unavailable', description: 'Service unavailable' });
      return false;
    }
    if (!orange.tokenValid(req.header('authorization'))) {
      res.status(401).json(EXPIRED_CREDENTIALS);
      return false;
    }
    return true;
  };

  /** An API call under `/orange-money-webpay/{cc}/v1/`: outage, token, then the country. */
  const api =
    (handler: (res: Response, cc: OrangeCountry, body: Fields) => void | Promise<void>) =>
    async (req: Request, res: Response) => {
      if (!authorised(req, res)) return;
      const raw = req.params.cc;
      const cc = typeof raw === 'string' ? raw : undefined;
      if (!isOrangeCountry(cc))
        return void res.status(404).json({ code: 404, message: 'Resource not found' });
      const body = req.body as unknown;
      await handler(res, cc, typeof body === 'object' && body !== null ? (body as Fields) : {});
    };

  /** Required fields, the merchant key, the schema, then the country's currency. */
  const validate = <T extends { merchant_key: string; currency: string }>(
    res: Response,
    cc: OrangeCountry,
    body: Fields,
    schema: z.ZodType<T>,
    required: string[],
  ): T | undefined => {
    const missing = required.find((f) => body[f] === undefined || body[f] === null || body[f] === '');
    if (missing) return void fail(res, 400, 'missing_parameter', `Missing parameter: ${missing}`);
    if (body.merchant_key !== settings.SANDBOX_ORANGE_MERCHANT_KEY)
      return void fail(
        res,
        400,
        'invalid_merchant_key',
        'Invalid merchant key',
        'The merchant_key is unknown.',
      );
    const parsed = schema.safeParse(body);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const field = String(issue?.path[0] ?? '');
      return void fail(
        res,
        400,
        codeOf(field),
        `Invalid parameter: ${field}`,
        issue?.message ?? 'Invalid value',
      );
    }
    if (parsed.data.currency !== ORANGE_COUNTRIES[cc])
      return void fail(
        res,
        400,
        'invalid_currency',
        'Invalid currency',
        `The currency for ${cc} is ${ORANGE_COUNTRIES[cc]}, not ${parsed.data.currency}.`,
      );
    return parsed.data;
  };

  const duplicate = (res: Response, id: string): boolean => {
    if (!orange.byOrderId(id)) return false;
    fail(res, 409, 'duplicate_order_id', 'Duplicate order id', `order_id ${id} is already used.`);
    return true;
  };

  // ------------------------------------------------------------------ OAuth

  router.post('/oauth/v3/token', form, (req, res) => {
    orange.tokenCalls++;
    if (orange.down) return void res.status(503).json({ error: 'temporarily_unavailable' });
    if (!orange.clientValid(req.header('authorization')))
      return void res
        .status(401)
        .json({ error: 'invalid_client', error_description: 'The requested service needs credentials.' });
    const grant = (req.body as Fields | undefined)?.grant_type;
    if (grant === undefined || grant === '')
      return void res
        .status(400)
        .json({ error: 'invalid_request', error_description: 'Missing grant_type parameter.' });
    if (grant !== 'client_credentials')
      return void res
        .status(400)
        .json({ error: 'unsupported_grant_type', error_description: 'The grant_type is not supported.' });
    res.set('Cache-Control', 'no-store').json(orange.issueToken());
  });

  // ------------------------------------------------------------------ webpayment

  router.post(
    '/orange-money-webpay/:cc/v1/webpayment',
    json,
    api(async (res, cc, body) => {
      const w = validate(res, cc, body, webpaymentBody, [
        'merchant_key',
        'currency',
        'order_id',
        'amount',
        'return_url',
        'cancel_url',
        'notif_url',
        'lang',
      ]);
      if (!w || duplicate(res, w.order_id)) return;
      if (orangeScenario('webpayment', w.amount) === 5007)
        return void res.status(500).type('text/plain').send('Internal Server Error');
      const tx = orange.createWebpayment({
        country: cc,
        orderId: w.order_id,
        amount: w.amount,
        reference: w.reference ?? '',
        lang: w.lang,
        notifUrl: w.notif_url,
        returnUrl: w.return_url,
        cancelUrl: w.cancel_url,
      });
      if (tx.scenario === 5008) await wait(config.SANDBOX_SLOW_MS);
      res.status(201).json({
        status: 201,
        message: 'OK',
        pay_token: tx.payToken,
        payment_url: `${base}/webpay/${tx.payToken}`,
        notif_token: tx.notifToken,
      });
    }),
  );

  // The payer's page.
  const payForm = (tx: OrangeTransaction, error = '', msisdn = '') =>
    page(
      'Paiement',
      `${orderHeader(tx)}${error ? `<p class="error" id="form-error">${e(error)}</p>` : ''}
<form method="post" action="${e(`${base}/webpay/${tx.payToken}`)}">
<p><label>Numéro Orange Money <input name="msisdn" inputmode="numeric" autocomplete="tel" value="${e(msisdn)}"></label></p>
<p><label>Code de paiement temporaire <input name="otp" inputmode="numeric" autocomplete="one-time-code"></label></p>
<p class="muted">Composez #144*82# pour obtenir votre code (sandbox : 4 à 6 chiffres).</p>
<button class="pay" name="action" value="pay">Payer</button><button name="action" value="cancel">Annuler</button>
</form>`,
    );
  const unknownPage = (res: Response) =>
    void res
      .status(404)
      .type('html')
      .send(page('Introuvable', '<p class="error" id="status">Paiement introuvable.</p>'));

  router.get('/webpay/:payToken', (req, res) => {
    const tx = orange.byPayToken(req.params.payToken);
    if (!tx || tx.kind !== 'webpayment') return unknownPage(res);
    orange.open(tx);
    // Once the payer has confirmed (msisdn set), or the payment has ended, the page says where it stands.
    if (tx.status !== 'PENDING' || tx.msisdn) return void res.type('html').send(statusPage(tx));
    res.type('html').send(payForm(tx));
  });

  router.post('/webpay/:payToken', form, (req, res) => {
    const tx = orange.byPayToken(req.params.payToken);
    if (!tx || tx.kind !== 'webpayment') return unknownPage(res);
    const b = (req.body ?? {}) as Record<string, string | undefined>;
    if (tx.status === 'INITIATED' || (tx.status === 'PENDING' && !tx.msisdn)) {
      if (b.action === 'cancel') orange.cancel(tx);
      else {
        const msisdn = (b.msisdn ?? '').replace(/[\s+]/g, '');
        if (!/^\d{8,15}$/.test(msisdn) || !/^\d{4,6}$/.test(b.otp ?? ''))
          return void res
            .status(400)
            .type('html')
            .send(payForm(tx, 'Numéro ou code de paiement invalide.', b.msisdn ?? ''));
        orange.pay(tx, msisdn);
      }
    }
    if (tx.status === 'SUCCESS' && tx.returnUrl) return res.redirect(303, tx.returnUrl);
    if (tx.status === 'FAILED' && tx.cancelUrl) return res.redirect(303, tx.cancelUrl);
    res.type('html').send(statusPage(tx));
  });

  // ------------------------------------------------------------------ status

  router.post(
    '/orange-money-webpay/:cc/v1/transactionstatus',
    json,
    api((res, cc, body) => {
      const parsed = statusBody.safeParse(body);
      if (!parsed.success) {
        const field = String(parsed.error.issues[0]?.path[0] ?? '');
        return fail(
          res,
          400,
          body[field] === undefined ? 'missing_parameter' : codeOf(field),
          `Invalid parameter: ${field}`,
        );
      }
      const q = parsed.data;
      // With a pay_token, Orange's call: all three must match. Without (ours), by order_id (and amount if given).
      if (q.pay_token && q.amount === undefined)
        return fail(res, 400, 'missing_parameter', 'Missing parameter: amount');
      const tx = q.pay_token ? orange.byPayToken(q.pay_token) : orange.byOrderId(q.order_id);
      if (
        !tx ||
        tx.country !== cc ||
        tx.orderId !== q.order_id ||
        (q.amount !== undefined && tx.amount !== q.amount)
      )
        return fail(res, 404, 'transaction_not_found', 'Transaction not found', 'No transaction matches.');
      res
        .status(201)
        .json({ status: tx.status, order_id: tx.orderId, ...(tx.txnid ? { txnid: tx.txnid } : {}) });
    }),
  );

  // ------------------------------------------------------------------ cash-in and refund (ours)

  /** Scenarios 5104 and 5106, the balance, then the answer per scenario (5102 late, 5103 502). */
  const payout = async (
    res: Response,
    cc: OrangeCountry,
    p: Parameters<OrangeSandbox['createPayout']>[0],
  ): Promise<void> => {
    const scenario = orangeScenario(p.kind, p.amount);
    if (scenario === 5106) {
      // Lost on the way: nothing registered, and the answer comes too late.
      await wait(config.SANDBOX_AMBIGUOUS_DELAY_MS);
      return void res.status(504).type('text/plain').send('Gateway Timeout');
    }
    if (scenario === 5104 || orange.balances[cc] < p.amount)
      return fail(
        res,
        400,
        'insufficient_balance',
        'Insufficient balance',
        'The merchant balance is too low.',
      );
    const tx = orange.createPayout(p);
    if (scenario === 5103) return void res.status(502).type('text/plain').send('Bad Gateway');
    if (scenario === 5102) await wait(config.SANDBOX_AMBIGUOUS_DELAY_MS);
    res.status(201).json({
      status: tx.status,
      order_id: tx.orderId,
      pay_token: tx.payToken,
      notif_token: tx.notifToken,
      txnid: tx.txnid,
    });
  };

  router.post(
    '/orange-money-webpay/:cc/v1/cashin',
    json,
    api(async (res, cc, body) => {
      const c = validate(res, cc, body, cashinBody, [
        'merchant_key',
        'currency',
        'order_id',
        'amount',
        'msisdn',
        'notif_url',
      ]);
      if (!c || duplicate(res, c.order_id)) return;
      if (!c.msisdn.startsWith(ORANGE_DIAL_CODES[cc]))
        return fail(
          res,
          400,
          'invalid_msisdn',
          'Invalid msisdn',
          `The msisdn must start with ${ORANGE_DIAL_CODES[cc]}.`,
        );
      await payout(res, cc, {
        kind: 'cashin',
        country: cc,
        orderId: c.order_id,
        amount: c.amount,
        msisdn: c.msisdn,
        reference: c.reference ?? '',
        notifUrl: c.notif_url,
      });
    }),
  );

  router.post(
    '/orange-money-webpay/:cc/v1/refund',
    json,
    api(async (res, cc, body) => {
      const r = validate(res, cc, body, refundBody, [
        'merchant_key',
        'currency',
        'order_id',
        'pay_token',
        'amount',
        'notif_url',
      ]);
      if (!r || duplicate(res, r.order_id)) return;
      const original = orange.byPayToken(r.pay_token);
      if (!original || original.kind !== 'webpayment' || original.country !== cc)
        return fail(
          res,
          404,
          'transaction_not_found',
          'Transaction not found',
          'No webpayment has this pay_token.',
        );
      if (original.status !== 'SUCCESS')
        return fail(
          res,
          400,
          'refund_not_allowed',
          'Refund not allowed',
          `The payment is ${original.status}.`,
        );
      const left = orange.refundable(original);
      if (r.amount > left)
        return fail(
          res,
          400,
          'refund_not_allowed',
          'Refund not allowed',
          `At most ${left} can still be refunded.`,
        );
      await payout(res, cc, {
        kind: 'refund',
        country: cc,
        orderId: r.order_id,
        amount: r.amount,
        ...(original.msisdn ? { msisdn: original.msisdn } : {}),
        refundOf: original.orderId,
        reference: r.reason ?? '',
        notifUrl: r.notif_url,
      });
    }),
  );

  router.get(
    '/orange-money-webpay/:cc/v1/balance',
    api((res, cc) => {
      orange.balanceCalls++;
      res.json({ balance: orange.balances[cc], currency: ORANGE_COUNTRIES[cc] });
    }),
  );

  // ------------------------------------------------------------------ settlement report (ours)

  const adjustments = new ReportAdjustments();
  router.use(adjustmentRoutes(adjustments));
  router.get('/reports/v1/transactions', async (req, res) => {
    if (!authorised(req, res)) return;
    const query = req.query as Record<string, unknown>;
    const period = periodOf(query);
    if (!period)
      return fail(
        res,
        400,
        'invalid_parameter',
        'Invalid period',
        'date=YYYY-MM-DD, or from=…&to=… (ISO 8601)',
      );
    const country = typeof query.country === 'string' ? query.country : undefined;
    if (country !== undefined && !isOrangeCountry(country))
      return void res.status(404).json({ code: 404, message: 'Resource not found' });
    const txs = orange
      .all()
      .filter((t) => within(period, t.createdAt) && (country === undefined || t.country === country));
    const byOrder = new Map(txs.map((t) => [t.orderId, t]));
    const rows: ReportRow[] = txs.map((t) => ({
      date: t.createdAt,
      reference: t.orderId,
      operatorReference: t.txnid ?? '',
      kind: t.kind === 'webpayment' ? 'payin' : 'payout',
      amount: t.scenario === 5006 ? t.amount - 1 : t.amount,
      status: t.status,
    }));
    // Rows the tests invent ("extra") take the country asked for, else that of the period's first row.
    const fallbackCurrency = country ? ORANGE_COUNTRIES[country] : (txs[0]?.currency ?? 'XOF');
    const cell = (v: string | number) => {
      const s = String(v);
      return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
    };
    const lines = adjustments.apply(rows, period.label, 'SUCCESS').map((r) => {
      const t = byOrder.get(r.reference);
      const type = t?.kind ?? (r.kind === 'payout' ? 'cashin' : 'webpayment');
      return [
        r.date,
        r.reference,
        r.operatorReference,
        type,
        r.amount,
        t?.currency ?? fallbackCurrency,
        r.status,
      ]
        .map(cell)
        .join(',');
    });
    await streamLines(res, 'text/csv', ['date,order_id,txnid,type,amount,currency,status', ...lines]);
  });

  // ------------------------------------------------------------------ control (not Orange's)

  router.get('/_sandbox/scenarios', (_req, res) => {
    res.json(ORANGE_SCENARIOS);
  });
  router.get('/_sandbox/transactions', (req, res) => {
    const id = typeof req.query.order_id === 'string' ? req.query.order_id : undefined;
    const all = orange.all();
    res.json(id ? all.filter((t) => t.orderId === id) : all);
  });
  router.post('/_sandbox/transactions/:orderId/:action', json, (req, res) => {
    const tx = orange.byOrderId(req.params.orderId);
    if (!tx) return void res.status(404).json({ error: 'unknown order_id' });
    const action = req.params.action;
    if ((action === 'pay' || action === 'expire') && tx.kind !== 'webpayment')
      return void res.status(400).json({ error: `${action} applies to webpayments only` });
    if (action === 'pay') {
      const msisdn = (req.body as { msisdn?: unknown } | undefined)?.msisdn;
      orange.open(tx);
      orange.pay(tx, typeof msisdn === 'string' ? msisdn.replace(/\D/g, '') : undefined);
    } else if (action === 'cancel') orange.cancel(tx);
    else if (action === 'expire') orange.expire(tx);
    else if (action === 'complete') orange.complete(tx);
    else return void res.status(404).json({ error: 'actions: pay, cancel, expire, complete' });
    res.json(tx);
  });
  router.post('/_sandbox/outage', json, (req, res) => {
    orange.down = Boolean((req.body as { down?: unknown } | undefined)?.down);
    res.json({ down: orange.down });
  });
  router.post('/_sandbox/revoke-tokens', (_req, res) => {
    orange.revokeTokens();
    res.json({ revoked: true });
  });

  // A body that does not parse: Orange's error shape rather than express's HTML page.
  router.use((err: unknown, _req: Request, res: Response, next: NextFunction) => {
    const status =
      typeof err === 'object' && err !== null && 'status' in err && typeof err.status === 'number'
        ? err.status
        : 500;
    if (status >= 500 || res.headersSent) return next(err);
    fail(res, status, 'invalid_request', 'Invalid request', 'The request body could not be read.');
  });

  return { router, state: orange, index: { base_url: `${base}/`, scenarios: `${base}/_sandbox/scenarios` } };
}
