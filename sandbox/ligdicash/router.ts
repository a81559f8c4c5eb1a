import express, { Router, type Request, type Response } from 'express';
import type { Logger } from 'pino';
import { z } from 'zod';
import type { SandboxConfig } from '../config.js';
import { InvoiceBook, directNetworkOf, type Invoice } from './invoices.js';
import { CallbackNotifier, MerchantWallet } from './notifier.js';
import { WithdrawalBook } from './withdrawals.js';
import {
  ReportAdjustments,
  adjustmentRoutes,
  periodOf,
  streamLines,
  within,
  type ReportRow,
} from '../reports.js';
import { checkoutPage, resultPage } from './pages.js';
import { PAYOUT_SCENARIOS, SCENARIOS, scenarioFor } from './scenarios.js';

/**
 * LigdiCash's endpoints under `/ligdicash/pay/v01/...`, so that LigdiCash's own SDKs work against
 * the sandbox by changing only their base URL. Sources: ligdicash-api-guide.md §1.1.3-1.1.5,
 * ligdicash-api-complement.md, operators-facts.md.
 */

/**
 * LigdiCash answers HTTP 200 with response_code "01" and a sub-code in response_text ("Echec
 * (CodeXX)", the SDKs' code tables); `null`: a refusal no table gives a code for.
 */
function refuse(res: Response, code: string | null, description: string): void {
  res.json({
    response_code: '01',
    token: '',
    response_text: code === null ? 'Echec' : `Echec (Code${code})`,
    description,
    custom_data: [],
    wiki: 'https://client.ligdicash.com/wiki/createInvoice',
  });
}

const text = z.union([z.string(), z.number()]).transform(String);

/** A custom_data value as LigdiCash gives it back (`valueof_customdata`): text, nested values as JSON. */
function customText(value: unknown): string {
  return typeof value === 'string' ? value : (JSON.stringify(value) ?? '');
}
const invoiceCommand = z.object({
  commande: z.object({
    invoice: z
      .object({
        total_amount: z.union([z.number(), z.string()]),
        // The three spellings seen in LigdiCash's documents.
        devise: z.string().optional(),
        devises: z.string().optional(),
        devis: z.string().optional(),
        description: text.optional(),
        customer: text.optional(),
        customer_firstname: text.optional(),
        customer_lastname: text.optional(),
        otp: text.optional(),
      })
      .passthrough(),
    store: z.object({ name: text.optional(), website_url: text.optional() }).passthrough().optional(),
    actions: z
      .object({ cancel_url: text.optional(), return_url: text.optional(), callback_url: text.optional() })
      .passthrough()
      .optional(),
    // Any JSON values (the guide's examples nest some); kept as text.
    custom_data: z.record(z.string(), z.unknown()).optional(),
  }),
});

const payoutCommand = z.object({
  commande: z
    .object({
      amount: z.union([z.number(), z.string()]),
      devise: z.string().optional(),
      description: text.optional(),
      customer: text,
      callback_url: text.optional(),
      custom_data: z.record(z.string(), z.unknown()).optional(),
      top_up_wallet: z.union([z.number(), z.string()]).optional(),
      // The guide's sample spells it with spaces.
      'top up wallet': z.union([z.number(), z.string()]).optional(),
    })
    .passthrough(),
});

export interface LigdicashSandbox {
  router: Router;
  /** Its records, for tests and the control routes: invoices (payins), withdrawals (payouts), the merchant wallet. */
  state: { invoices: InvoiceBook; payouts: WithdrawalBook; wallet: MerchantWallet };
  /** What the sandbox's index page lists for it. */
  index: Record<string, string>;
}

export function ligdicashSandbox(config: SandboxConfig, logger: Logger): LigdicashSandbox {
  const notifier = new CallbackNotifier(config, logger);
  const wallet = new MerchantWallet(config.SANDBOX_LIGDICASH_BALANCE);
  const book = new InvoiceBook(config, logger, notifier, wallet);
  const withdrawals = new WithdrawalBook(config, logger, notifier, wallet);
  const router = Router();
  const base = `${config.SANDBOX_PUBLIC_URL}/ligdicash`;
  const checkoutUrl = (token: string) => `${base}/directpayment/invoice/${token}`;

  const authorised = (req: Request) =>
    req.header('apikey') === config.SANDBOX_LIGDICASH_API_KEY &&
    req.header('authorization') === `Bearer ${config.SANDBOX_LIGDICASH_API_TOKEN}`;

  const createInvoice = (kind: Invoice['kind']) => async (req: Request, res: Response) => {
    if (!authorised(req)) return refuse(res, '00', 'Apikey ou token invalide');
    const parsed = invoiceCommand.safeParse(req.body);
    if (!parsed.success)
      return refuse(res, '08', `Paramètres invalides: ${parsed.error.issues[0]?.path.join('.') ?? ''}`);
    const { invoice, store, actions, custom_data } = parsed.data.commande;
    const amount = Number(invoice.total_amount);
    if (!Number.isInteger(amount) || amount <= 0) return refuse(res, '02', 'Montant invalide');
    const currency = invoice.devise ?? invoice.devises ?? invoice.devis ?? 'XOF';
    // Compared case-insensitively: an official SDK sends "xof" by default.
    if (currency.toUpperCase() !== 'XOF') return refuse(res, '02', 'Devise non prise en charge');
    const customer = (invoice.customer ?? '').replace(/\D/g, '');

    let route: { operatorId: string; operatorName: string; authorisation: Invoice['authorisation'] } = {
      operatorId: '',
      operatorName: '',
      authorisation: 'page',
    };
    if (kind === 'straight') {
      const network = directNetworkOf(customer);
      if (!network) return refuse(res, '07', 'Aucune configuration réseau pour ce numéro');
      if (network.network === 'orange_bf' && (amount < 10 || amount > 2_000_000))
        return refuse(res, '02', 'Montant hors limites');
      // Moov Burkina: from 100 XOF (operators-facts.md).
      if (network.network === 'moov_bf' && amount < 100) return refuse(res, '02', 'Montant hors limites');
      if (network.authorisation === 'otp' && !book.consumeOtp(customer, amount, invoice.otp ?? '')) {
        return refuse(res, '04', 'OTP invalide ou expiré');
      }
      route = network;
    }
    const input = {
      kind,
      amount,
      description: invoice.description ?? '',
      customer,
      customerName: `${invoice.customer_firstname ?? ''} ${invoice.customer_lastname ?? ''}`.trim(),
      ...route,
      callbackUrl: actions?.callback_url ?? '',
      returnUrl: actions?.return_url ?? '',
      cancelUrl: actions?.cancel_url ?? '',
      customData: Object.fromEntries(Object.entries(custom_data ?? {}).map(([k, v]) => [k, customText(v)])),
      storeName: store?.name ?? 'Marchand',
    };
    const scenario = scenarioFor(amount, customer);
    if (scenario === 'server_error') {
      res.status(500).type('text/html').send('<h1>500 Internal Server Error</h1>');
      return;
    }
    if (scenario === 'slow') await new Promise((r) => setTimeout(r, config.SANDBOX_SLOW_MS));
    const created = book.create(input);
    const pageUrl = checkoutUrl(created.token);
    res.json({
      response_code: '00',
      token: created.token,
      // The payment link for a redirect; empty for a direct payin accepted (complement,
      // "Payin - Réponse" (2)); Orange CI's direct payin carries its operator's page.
      response_text:
        created.authorisation === 'page' || created.authorisation === 'operator_page' ? pageUrl : '',
      description:
        created.authorisation === 'approval'
          ? 'Veuillez valider le paiement sur votre téléphone'
          : created.authorisation === 'otp'
            ? 'Paiement en cours de traitement'
            : '',
      custom_data: input.customData,
      wiki: 'https://client.ligdicash.com/wiki/createInvoice',
    });
  };

  const json = express.json({ limit: '100kb', type: () => true });
  router.post('/pay/v01/redirect/checkout-invoice/create', json, createInvoice('redirect'));
  router.post('/pay/v01/straight/checkout-invoice/create', json, createInvoice('straight'));

  // Status ("confirm"), with and without the trailing slash the guide shows.
  router.get(
    ['/pay/v01/redirect/checkout-invoice/confirm', '/pay/v01/redirect/checkout-invoice/confirm/'],
    (req, res) => {
      if (!authorised(req)) return refuse(res, '00', 'Apikey ou token invalide');
      const token = typeof req.query.invoiceToken === 'string' ? req.query.invoiceToken : '';
      const invoice = book.get(token);
      // "facture introuvable" is Code02 in the SDKs' tables.
      if (!invoice) return refuse(res, '02', 'Facture introuvable');
      invoice.statusCalls++;
      invoice.lastStatusCallAt = new Date().toISOString();
      if (
        (invoice.scenario === 'status_errors' && invoice.statusCalls <= 2) ||
        invoice.scenario === 'status_down'
      ) {
        res.status(503).type('text/plain').send('Service Unavailable');
        return;
      }
      res.json(book.confirmBody(invoice));
    },
  );

  // The payer's pages.
  const form = express.urlencoded({ extended: false, limit: '10kb' });
  router.get('/directpayment/invoice/:token', (req, res) => {
    const invoice = book.get(req.params.token);
    if (!invoice) return void res.status(404).type('text/plain').send('Facture introuvable');
    res.type('html').send(checkoutPage(invoice, checkoutUrl(invoice.token)));
  });
  router.post('/directpayment/invoice/:token', form, (req, res) => {
    const body = req.body as { action?: string; phone?: string };
    const invoice =
      body.action === 'cancel' ? book.cancel(req.params.token) : book.pay(req.params.token, body.phone);
    if (!invoice) return void res.status(404).type('text/plain').send('Facture introuvable');
    const target = body.action === 'cancel' ? invoice.cancelUrl : invoice.returnUrl;
    if (target) return res.redirect(303, target);
    res.type('html').send(resultPage(invoice));
  });

  // Control endpoints for tests and people (not part of LigdiCash's API).
  router.get('/_sandbox/scenarios', (_req, res) => {
    res.json(SCENARIOS);
  });
  router.post('/_sandbox/otp', express.json(), (req, res) => {
    const body = req.body as { customer?: unknown; amount?: unknown };
    const customer = typeof body.customer === 'string' ? body.customer.replace(/\D/g, '') : '';
    const amount = Number(body.amount);
    if (!customer || !Number.isInteger(amount))
      return void res.status(400).json({ error: 'customer and amount required' });
    res.json({ otp: book.issueOtp(customer, amount), ussd: `*144*4*6*${amount}#` });
  });
  router.get('/_sandbox/invoices', (req, res) => {
    const transactionId = typeof req.query.transaction_id === 'string' ? req.query.transaction_id : undefined;
    res.json(transactionId ? book.findByTransactionId(transactionId) : book.all());
  });
  router.get('/_sandbox/invoices/:token', (req, res) => {
    const invoice = book.get(req.params.token);
    if (!invoice) return void res.status(404).json({ error: 'unknown token' });
    res.json(invoice);
  });
  router.post('/_sandbox/invoices/:token/:action', express.json(), (req, res) => {
    const action = req.params.action;
    const payer = (req.body as { phone?: unknown } | undefined)?.phone;
    const invoice =
      action === 'pay'
        ? book.pay(req.params.token, typeof payer === 'string' ? payer : undefined)
        : action === 'cancel'
          ? book.cancel(req.params.token)
          : action === 'complete' || action === 'decline'
            ? book.force(req.params.token, action === 'complete' ? 'completed' : 'declined')
            : undefined;
    if (!invoice)
      return void res.status(404).json({ error: 'unknown token or action (pay, cancel, complete, decline)' });
    res.json(invoice);
  });

  // Payouts: client (withdrawal/create) and merchant (straight/payout).
  const createWithdrawal = (kind: 'client' | 'merchant') => async (req: Request, res: Response) => {
    if (!authorised(req)) return refuse(res, '00', 'Apikey ou token invalide');
    const parsed = payoutCommand.safeParse(req.body);
    // The payout code tables have no code for bad input (08 is "balance too low" for merchant payouts).
    if (!parsed.success)
      return refuse(res, null, `Paramètres invalides: ${parsed.error.issues[0]?.path.join('.') ?? ''}`);
    const c = parsed.data.commande;
    const amount = Number(c.amount);
    if (!Number.isInteger(amount) || amount <= 0)
      return refuse(res, kind === 'client' ? '05' : '02', 'Montant invalide');
    if ((c.devise ?? 'XOF').toUpperCase() !== 'XOF')
      return refuse(res, '13', 'Conversion de devise non autorisée');
    const topUp = c.top_up_wallet ?? c['top up wallet'];
    const transactionId = customText(c.custom_data?.transaction_id ?? '');
    const result = withdrawals.create({
      kind,
      amount,
      customer: c.customer.replace(/\D/g, ''),
      topUpWallet: kind === 'client' ? Number(topUp ?? 1) : null,
      description: c.description ?? '',
      transactionId,
      callbackUrl: c.callback_url ?? '',
    });
    if (result.kind === 'refused') return refuse(res, result.code, result.description);
    if (result.kind === 'lost') {
      await new Promise((r) => setTimeout(r, config.SANDBOX_AMBIGUOUS_DELAY_MS));
      return void res.status(504).type('text/plain').send('Gateway Timeout');
    }
    // Slow: registered at once, answered late (a caller that dies meanwhile has still sent it).
    if (result.withdrawal.scenario === 'slow')
      await new Promise((r) => setTimeout(r, config.SANDBOX_SLOW_MS));
    const answer = {
      response_code: '00',
      token: result.withdrawal.token,
      response_text: '',
      description: 'Votre demande de retrait a été prise en compte',
      custom_data: c.custom_data ?? {},
      wiki: 'https://client.ligdicash.com/wiki/withdrawal',
    };
    if (result.kind === 'ambiguous' && result.how === '5xx') {
      res.status(502).type('text/html').send('<h1>502 Bad Gateway</h1>');
      return;
    }
    if (result.kind === 'ambiguous')
      await new Promise((r) => setTimeout(r, config.SANDBOX_AMBIGUOUS_DELAY_MS));
    res.json(answer);
  };
  router.post('/pay/v01/withdrawal/create', json, createWithdrawal('client'));
  router.post('/pay/v01/straight/payout', json, createWithdrawal('merchant'));
  // Payout status: `withdrawal/confirm?withdrawalToken=` (guide §1.1.8), and the path one official
  // SDK calls for merchant payouts, `straight/payout/confirm?payoutToken=`.
  router.get(
    [
      '/pay/v01/withdrawal/confirm',
      '/pay/v01/withdrawal/confirm/',
      '/pay/v01/straight/payout/confirm',
      '/pay/v01/straight/payout/confirm/',
    ],
    (req, res) => {
      if (!authorised(req)) return refuse(res, '00', 'Apikey ou token invalide');
      const given = req.query.withdrawalToken ?? req.query.payoutToken;
      const w = withdrawals.get(typeof given === 'string' ? given : '');
      if (!w) return refuse(res, '02', 'Retrait introuvable');
      w.statusCalls++;
      res.json(withdrawals.confirmBody(w));
    },
  );

  router.get('/_sandbox/payout-scenarios', (_req, res) => {
    res.json(PAYOUT_SCENARIOS);
  });
  router.get('/_sandbox/withdrawals', (req, res) => {
    const transactionId = typeof req.query.transaction_id === 'string' ? req.query.transaction_id : undefined;
    res.json(transactionId ? withdrawals.findByTransactionId(transactionId) : withdrawals.all());
  });
  router.post('/_sandbox/withdrawals/:token/:action', (req, res) => {
    const action = req.params.action;
    const w =
      action === 'complete' || action === 'decline' ? withdrawals.force(req.params.token, action) : undefined;
    if (!w) return void res.status(404).json({ error: 'unknown token or action (complete, decline)' });
    res.json(w);
  });
  // The day's transactions, as the back office exports them (semicolon CSV).
  const adjustments = new ReportAdjustments();
  router.use(adjustmentRoutes(adjustments));
  router.get('/pay/v01/reports/transactions', async (req, res) => {
    if (!authorised(req)) return refuse(res, '00', 'Apikey ou token invalide');
    const period = periodOf(req.query);
    if (!period)
      return void res.status(400).type('text/plain').send('date=YYYY-MM-DD, or from=…&to=… (ISO 8601)');
    const rows: ReportRow[] = [
      ...book
        .all()
        .filter((i) => within(period, i.createdAt))
        .map((i) => ({
          date: i.createdAt,
          reference: i.customData.transaction_id ?? '',
          operatorReference: i.token,
          kind: 'payin' as const,
          amount: i.paidAmount,
          status: i.status,
        })),
      ...withdrawals
        .all()
        .filter((w) => within(period, w.createdAt))
        .map((w) => ({
          date: w.createdAt,
          reference: w.transactionId,
          operatorReference: w.token,
          kind: 'payout' as const,
          amount: w.amount,
          status: w.status,
        })),
    ];
    const lines = adjustments
      .apply(rows, period.label, 'completed')
      .map((r) =>
        [
          r.date.replace('T', ' ').slice(0, 19),
          r.operatorReference,
          r.reference,
          r.kind,
          r.amount,
          'XOF',
          r.status,
        ].join(';'),
      );
    await streamLines(res, 'text/csv', ['date;token;transaction_id;type;montant;devise;statut', ...lines]);
  });
  router.get('/_sandbox/wallet', (_req, res) => {
    res.json({ balance: wallet.balance, currency: 'XOF' });
  });

  return {
    router,
    state: { invoices: book, payouts: withdrawals, wallet },
    index: { base_url: `${base}/pay/v01/`, scenarios: `${base}/_sandbox/scenarios` },
  };
}
