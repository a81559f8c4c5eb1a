import { randomInt } from 'node:crypto';
import express, { Router, type Request, type Response } from 'express';
import type { Logger } from 'pino';
import type { SandboxConfig } from '../config.js';
import { deliver, htmlEscape as e, later, pageStyle, type CallbackDelivery } from '../delivery.js';
import {
  ReportAdjustments,
  adjustmentRoutes,
  periodOf,
  streamLines,
  within,
  type ReportRow,
} from '../reports.js';

/**
 * PayGateGlobal's endpoints under `/paygate/`: `/api/v1/pay`, the hosted page `/v1/page`,
 * `/api/v1/status` and `/api/v2/status`, `/api/v1/disburse`, `/api/v1/check-balance`, and the
 * JSON confirmation posted to the URL set in the dashboard. Separate Flooz and TMoney balances.
 * Sources: ../shared/reference/paygateglobal-integration.md, operators-facts.md.
 *
 * Scenarios by amount: payments 4001 cancelled (6), 4002 expired (4), 4003 no callback, 4004
 * callback three times, 4005 callback with one franc less, 4006 pending forever (2), 4007 HTTP
 * 500 on /pay, 4008 late callback; disbursements 4101 declined (6), 4102 executed but answered
 * after SANDBOX_AMBIGUOUS_DELAY_MS, 4103 executed but HTTP 502, 4104 balance too low, 4105 pending forever.
 */
export const PAYGATE_SCENARIOS = {
  4001: 'payment cancelled (payment code 6)',
  4002: 'payment expired (payment code 4)',
  4003: 'paid, no callback',
  4004: 'paid, callback sent three times',
  4005: 'paid, callback reports one franc less',
  4006: 'pending forever (payment code 2)',
  4007: '/api/v1/pay answers HTTP 500',
  4008: 'paid, callback after SANDBOX_LATE_CALLBACK_MS',
  4101: 'disbursement fails (code 6)',
  4102: 'disbursement executed, answer after SANDBOX_AMBIGUOUS_DELAY_MS',
  4103: 'disbursement executed, answer HTTP 502',
  4104: 'disbursement refused: balance too low',
  4105: 'disbursement pending forever',
  4106: 'disbursement NOT executed, answer too late, and v2 status answers 503 three times',
  4107: 'disbursement executed, answer HTTP 502, and v2 status answers 503 three times',
  4108: 'disbursement executed, answer HTTP 502, and v2 status answers 404 (its index lags) for a minute',
} as const;

type Network = 'FLOOZ' | 'TMONEY';

export interface PaygateTransaction {
  txReference: string;
  identifier: string;
  kind: 'payment' | 'disbursement';
  via: 'api' | 'page';
  network: Network;
  phone: string;
  amount: number;
  description: string;
  /** Payment code: 0 paid, 2 pending, 4 expired, 6 cancelled. */
  status: 0 | 2 | 4 | 6;
  executed: boolean;
  paymentReference: string;
  datetime: string | null;
  createdAt: string;
  callbacks: CallbackDelivery[];
}

const PAGE_NETWORKS: Record<string, Network> = { MOOV: 'FLOOZ', TOGOCEL: 'TMONEY' };

export class PaygateSandbox {
  readonly transactions = new Map<string, PaygateTransaction>();
  readonly balances: Record<Network, number>;
  /** Status calls answered, by version: tests check which one is used when. */
  readonly statusCalls = { v1: 0, v2: 0 };
  /** Identifiers whose next v2 status calls answer 503 (scenarios 4106 and 4107). */
  readonly unavailableLookups = new Map<string, number>();
  /** How many times the balance call was made (tests check it is cached by its callers). */
  balanceCalls = 0;
  /** Identifiers the v2 status call does not find yet (an index that lags), until the time given. */
  readonly laggingLookups = new Map<string, number>();
  down = false;

  constructor(
    private readonly config: SandboxConfig,
    private readonly logger: Logger,
  ) {
    this.balances = {
      FLOOZ: config.SANDBOX_PAYGATE_FLOOZ_BALANCE,
      TMONEY: config.SANDBOX_PAYGATE_TMONEY_BALANCE,
    };
  }

  byIdentifier(identifier: string): PaygateTransaction | undefined {
    return [...this.transactions.values()].find((t) => t.identifier === identifier);
  }

  register(
    t: Omit<
      PaygateTransaction,
      'txReference' | 'status' | 'executed' | 'paymentReference' | 'datetime' | 'callbacks' | 'createdAt'
    >,
  ): PaygateTransaction {
    const tx: PaygateTransaction = {
      ...t,
      txReference: String(randomInt(10_000_000, 99_999_999)),
      status: 2,
      executed: false,
      paymentReference: `${t.network === 'FLOOZ' ? 'FLZ' : 'TMN'}${randomInt(100_000_000, 999_999_999)}`,
      datetime: null,
      createdAt: new Date().toISOString(),
      callbacks: [],
    };
    this.transactions.set(tx.txReference, tx);
    return tx;
  }

  /** The payer approves (or not): the amount decides. */
  approve(tx: PaygateTransaction): void {
    if (tx.status !== 2) return;
    switch (tx.amount) {
      case 4001:
        tx.status = 6;
        return;
      case 4002:
        tx.status = 4;
        return;
      case 4006:
        return;
      default:
        this.settle(tx);
    }
  }

  cancel(tx: PaygateTransaction): void {
    if (tx.status === 2) tx.status = 6;
  }

  /** Disbursement execution per scenario. */
  disburse(tx: PaygateTransaction): void {
    if (tx.amount === 4102 || tx.amount === 4103 || tx.amount === 4107) return this.settle(tx);
    if (tx.amount === 4105) return;
    later(this.config.SANDBOX_PROCESSING_DELAY_MS, () => {
      if (tx.amount === 4101) {
        if (tx.status === 2) tx.status = 6;
      } else this.settle(tx);
    });
  }

  settle(tx: PaygateTransaction): void {
    if (tx.status !== 2) return;
    tx.status = 0;
    tx.executed = true;
    tx.datetime = new Date().toISOString().replace('T', ' ').slice(0, 19);
    this.balances[tx.network] += tx.kind === 'payment' ? tx.amount : -tx.amount;
    this.logger.info({ kind: tx.kind, amount: tx.amount }, 'paygate sandbox transaction settled');
    if (tx.kind === 'payment') this.confirm(tx);
  }

  /** The confirmation POSTed (JSON) to the e-commerce's URL once the payer has paid. */
  private confirm(tx: PaygateTransaction): void {
    if (tx.amount === 4003) return;
    const body = JSON.stringify({
      tx_reference: tx.txReference,
      identifier: tx.identifier,
      payment_reference: tx.paymentReference,
      amount: String(tx.amount === 4005 ? tx.amount - 1 : tx.amount),
      datetime: tx.datetime,
      payment_method: tx.network === 'FLOOZ' ? 'FLOOZ' : 'T-Money',
      phone_number: tx.phone,
    });
    const send = async () => {
      for (let i = 0; i < (tx.amount === 4004 ? 3 : 1); i++) {
        await deliver(
          this.config.SANDBOX_PAYGATE_CALLBACK_URL,
          { method: 'POST', contentType: 'application/json', body, userAgent: 'PayGateGlobal-Sandbox/1.0' },
          tx.callbacks,
          this.config.SANDBOX_CALLBACK_RETRIES,
        );
      }
    };
    if (tx.amount === 4008) later(this.config.SANDBOX_LATE_CALLBACK_MS, () => void send());
    else void send();
  }
}

function statusBody(tx: PaygateTransaction) {
  return {
    tx_reference: tx.txReference,
    identifier: tx.identifier,
    payment_reference: tx.status === 0 ? tx.paymentReference : '',
    status: tx.status,
    datetime: tx.datetime,
    payment_method: tx.network === 'FLOOZ' ? 'FLOOZ' : 'T-Money',
  };
}

export function paygateSandbox(
  config: SandboxConfig,
  logger: Logger,
): { router: Router; state: PaygateSandbox; index: Record<string, string> } {
  const paygate = new PaygateSandbox(config, logger);
  const router = Router();
  const json = express.json({ limit: '20kb', type: () => true });
  const form = express.urlencoded({ extended: false, limit: '20kb' });
  const str = (v: unknown): string => (typeof v === 'string' || typeof v === 'number' ? String(v) : '');
  const phoneOf = (raw: unknown) => str(raw).replace(/\D/g, '').replace(/^228/, '');

  /** Every API call carries `auth_token` in its JSON body; the status of a wrong one is 2 where the call has a status. */
  const api = (
    handler: (req: Request, res: Response, body: Record<string, unknown>) => void | Promise<void>,
  ) => [
    json,
    async (req: Request, res: Response) => {
      if (paygate.down) return void res.status(503).json({ error: 'Service indisponible' });
      const body = (req.body ?? {}) as Record<string, unknown>;
      if (body.auth_token !== config.SANDBOX_PAYGATE_AUTH_TOKEN)
        return void res.status(401).json({ status: 2, error: "Jeton d'authentification invalide" });
      await handler(req, res, body);
    },
  ];

  router.post(
    '/api/v1/pay',
    ...api((_req, res, b) => {
      const amount = Number(b.amount);
      const network = b.network === 'FLOOZ' || b.network === 'TMONEY' ? b.network : undefined;
      const phone = phoneOf(b.phone_number);
      const identifier = typeof b.identifier === 'string' ? b.identifier : '';
      if (!network || !/^\d{8}$/.test(phone) || !Number.isInteger(amount) || amount <= 0 || !identifier) {
        return void res.json({ tx_reference: null, status: 4 });
      }
      if (paygate.byIdentifier(identifier)) return void res.json({ tx_reference: null, status: 6 });
      if (amount === 4007) return void res.status(500).send('Internal Server Error');
      const tx = paygate.register({
        identifier,
        kind: 'payment',
        via: 'api',
        network,
        phone,
        amount,
        description: str(b.description),
      });
      later(config.SANDBOX_APPROVAL_DELAY_MS, () => paygate.approve(tx));
      res.json({ tx_reference: tx.txReference, status: 0 });
    }),
  );

  // Method 2: the hosted page.
  router.get('/v1/page', (req, res) => {
    const q = req.query as Record<string, string | undefined>;
    if (q.token !== config.SANDBOX_PAYGATE_AUTH_TOKEN || !q.identifier || !/^\d+$/.test(q.amount ?? '')) {
      return void res.status(400).type('html').send('<p>Lien de paiement invalide</p>');
    }
    const network = q.network ? PAGE_NETWORKS[q.network] : undefined;
    res.type('html')
      .send(`<!doctype html><html lang="fr"><head><meta charset="utf-8"><title>PayGateGlobal (sandbox)</title><style>${pageStyle}</style></head>
<body><div class="card"><h1>PayGateGlobal</h1><p>${e(q.description ?? '')}</p><p class="amount">${Number(q.amount).toLocaleString('fr-FR')} FCFA</p>
<form method="post" action="${e(`${config.SANDBOX_PUBLIC_URL}/paygate/v1/page`)}">
<input type="hidden" name="identifier" value="${e(q.identifier)}"><input type="hidden" name="amount" value="${e(q.amount ?? '')}">
<input type="hidden" name="description" value="${e(q.description ?? '')}"><input type="hidden" name="url" value="${e(q.url ?? '')}">
<p><label>Réseau <select name="network">${(['FLOOZ', 'TMONEY'] as const).map((n) => `<option${n === network ? ' selected' : ''}>${n}</option>`).join('')}</select></label></p>
<p><label>Numéro <input name="phone" value="${e(q.phone ?? '')}"></label></p>
<button class="pay" name="action" value="pay">Payer</button><button name="action" value="cancel">Annuler</button>
</form><p class="muted">Sandbox Passerelle — PayGateGlobal</p></div></body></html>`);
  });
  router.post('/v1/page', form, (req, res) => {
    const b = req.body as Record<string, string | undefined>;
    const identifier = b.identifier ?? '';
    let tx = paygate.byIdentifier(identifier);
    tx ??= paygate.register({
      identifier,
      kind: 'payment',
      via: 'page',
      network: b.network === 'FLOOZ' ? 'FLOOZ' : 'TMONEY',
      phone: phoneOf(b.phone),
      amount: Number(b.amount),
      description: b.description ?? '',
    });
    if (b.action === 'cancel') paygate.cancel(tx);
    else paygate.approve(tx);
    if (b.url) return res.redirect(303, b.url);
    res
      .type('html')
      .send(`<p id="status">${tx.status === 0 ? 'Paiement effectué' : 'Paiement non effectué'}</p>`);
  });

  router.post(
    '/api/v1/status',
    ...api((_req, res, b) => {
      paygate.statusCalls.v1++;
      const tx = paygate.transactions.get(str(b.tx_reference));
      if (!tx) return void res.status(404).json({ error: 'Transaction introuvable' });
      res.json(statusBody(tx));
    }),
  );
  router.post(
    '/api/v2/status',
    ...api((_req, res, b) => {
      paygate.statusCalls.v2++;
      const left = paygate.unavailableLookups.get(str(b.identifier)) ?? 0;
      if (left > 0) {
        paygate.unavailableLookups.set(str(b.identifier), left - 1);
        return void res.status(503).json({ error: 'Service indisponible' });
      }
      const lagging = (paygate.laggingLookups.get(str(b.identifier)) ?? 0) > Date.now();
      const tx = lagging ? undefined : paygate.byIdentifier(str(b.identifier));
      if (!tx) return void res.status(404).json({ error: 'Transaction introuvable' });
      res.json(statusBody(tx));
    }),
  );

  router.post(
    '/api/v1/disburse',
    ...api(async (_req, res, b) => {
      const amount = Number(b.amount);
      const network = b.network === 'FLOOZ' || b.network === 'TMONEY' ? b.network : undefined;
      const phone = phoneOf(b.phone_number);
      const reference = typeof b.reference === 'string' ? b.reference : '';
      if (!network || !/^\d{8}$/.test(phone) || !Number.isInteger(amount) || amount <= 0 || !reference) {
        return void res.json({ status: 400, message: 'Paramètres invalides' });
      }
      if (paygate.byIdentifier(reference))
        return void res.json({ status: 409, message: 'Référence déjà utilisée' });
      if (amount === 4106 || amount === 4107) paygate.unavailableLookups.set(reference, 3);
      if (amount === 4106) {
        // Lost on the way: nothing registered, and the answer never comes in time.
        await new Promise((r) => setTimeout(r, config.SANDBOX_AMBIGUOUS_DELAY_MS));
        return void res.status(504).send('Gateway Timeout');
      }
      if (amount === 4104 || paygate.balances[network] < amount)
        return void res.json({ status: 402, message: 'Solde insuffisant' });
      const tx = paygate.register({
        identifier: reference,
        kind: 'disbursement',
        via: 'api',
        network,
        phone,
        amount,
        description: str(b.reason),
      });
      paygate.disburse(tx);
      if (amount === 4108) paygate.laggingLookups.set(reference, Date.now() + 60_000);
      if (amount === 4103 || amount === 4107 || amount === 4108)
        return void res.status(502).send('Bad Gateway');
      if (amount === 4102) await new Promise((r) => setTimeout(r, config.SANDBOX_AMBIGUOUS_DELAY_MS));
      res.json({ tx_reference: tx.txReference, status: 200 });
    }),
  );

  router.post(
    '/api/v1/check-balance',
    ...api((_req, res) => {
      paygate.balanceCalls++;
      res.json({ flooz: paygate.balances.FLOOZ, tmoney: paygate.balances.TMONEY });
    }),
  );

  // The day's transactions as JSON lines (our reading of the dashboard's export).
  const adjustments = new ReportAdjustments();
  router.use(adjustmentRoutes(adjustments));
  router.post(
    '/api/v1/transactions',
    ...api(async (_req, res, b) => {
      const period = periodOf(b);
      if (!period)
        return void res.status(400).json({ error: 'date (YYYY-MM-DD), or from and to (ISO 8601)' });
      const rows: ReportRow[] = [...paygate.transactions.values()]
        .filter((t) => within(period, t.createdAt))
        .map((t) => ({
          date: t.createdAt,
          reference: t.identifier,
          operatorReference: t.txReference,
          kind: t.kind === 'disbursement' ? ('payout' as const) : ('payin' as const),
          amount: t.amount,
          status: String(t.status),
        }));
      const lines = adjustments.apply(rows, period.label, '0').map((r) =>
        JSON.stringify({
          tx_reference: r.operatorReference,
          identifier: r.reference,
          type: r.kind === 'payout' ? 'disbursement' : 'payment',
          amount: r.amount,
          status: Number(r.status),
          datetime: r.date,
        }),
      );
      await streamLines(res, 'application/x-ndjson', lines);
    }),
  );

  // Control endpoints (not PayGateGlobal's API).
  router.get('/_sandbox/scenarios', (_req, res) => {
    res.json(PAYGATE_SCENARIOS);
  });
  router.get('/_sandbox/transactions', (req, res) => {
    const id = typeof req.query.identifier === 'string' ? req.query.identifier : undefined;
    const all = [...paygate.transactions.values()];
    res.json(id ? all.filter((t) => t.identifier === id) : all);
  });
  router.post('/_sandbox/transactions/:identifier/:action', (req, res) => {
    const tx = paygate.byIdentifier(req.params.identifier);
    if (!tx) return void res.status(404).json({ error: 'unknown identifier' });
    if (req.params.action === 'pay') paygate.approve(tx);
    else if (req.params.action === 'cancel') paygate.cancel(tx);
    else if (req.params.action === 'complete') paygate.settle(tx);
    else return void res.status(404).json({ error: 'actions: pay, cancel, complete' });
    res.json(tx);
  });
  router.post('/_sandbox/outage', json, (req, res) => {
    paygate.down = Boolean((req.body as { down?: unknown }).down);
    res.json({ down: paygate.down });
  });
  const base = `${config.SANDBOX_PUBLIC_URL}/paygate`;
  return { router, state: paygate, index: { base_url: `${base}/`, scenarios: `${base}/_sandbox/scenarios` } };
}
