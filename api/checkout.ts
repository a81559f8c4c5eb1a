import { openPhone } from '../db/personal-vault.js';
import type { KeyRing } from '../lib/card-vault.js';
import express, { Router } from 'express';
import type { Client } from '@temporalio/client';
import { circuitOf, listOperatorHealth } from '../db/operator-health.js';
import { getMerchant } from '../db/merchants.js';
import { getPayment, setPayerNumber, type PaymentRecord } from '../db/payments.js';
import type { Pool } from '../db/pool.js';
import { errorSummary } from '../lib/logger.js';
import { NETWORKS, NUMBERING_PLANS, type Network } from '../lib/networks.js';
import { PAYMENT_ID_PATTERN, formPostFields } from '../lib/payments.js';
import { parseMsisdn } from '../lib/phone.js';
import { OPERATORS, OPERATOR_TABLE, isOperatorName, type OperatorName } from '../lib/operators.js';
import { checkoutUrlFor } from '../lib/urls.js';
import type { OperatorRules } from '../operators/registry.js';
import { payerDetailsUpdate } from '../workflows/shared.js';
import { payinWorkflowId } from '../lib/payment-workflows.js';
import type { Config } from '../lib/config.js';
import { requireMerchant, type AuthDeps } from './auth.js';
import { requireAdminKey } from './reconciliation.js';

const escape = (s: string) =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

/** `5 000 FCFA`: the amount as a payer in the region reads it. */
function localAmount(amount: number, currency: string): string {
  const grouped = String(amount).replace(/\B(?=(\d{3})+(?!\d))/g, '\u00a0');
  return currency === 'XOF' ? `${grouped}\u00a0FCFA` : `${grouped}\u00a0${currency}`;
}

const PAGE_STYLE = `body{font-family:system-ui,sans-serif;max-width:28rem;margin:2rem auto;padding:0 1rem;color:#222}
.card{border:1px solid #ddd;border-radius:8px;padding:1.5rem}.amount{font-size:2rem;font-weight:700}
label{display:block;margin:.8rem 0 .3rem}input,select{font-size:1.1rem;padding:.5rem;width:100%;box-sizing:border-box}
button{font-size:1rem;padding:.7rem 1.2rem;margin-top:1rem;border-radius:6px;border:0;background:#0a7d32;color:#fff;width:100%}
.error{color:#b00}.muted{color:#666;font-size:.85rem}`;

function page(title: string, body: string, refreshSeconds?: number): string {
  return `<!doctype html><html lang="fr"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
${refreshSeconds ? `<meta http-equiv="refresh" content="${refreshSeconds}">` : ''}<title>${escape(title)}</title><style>${PAGE_STYLE}</style></head>
<body><div class="card">${body}</div></body></html>`;
}

/** Networks our page offers the payer of an operator: those its entry in the operator table carries. */
function payerNetworks(operator: string): { network: Network; label: string }[] {
  if (!isOperatorName(operator)) return [];
  return OPERATOR_TABLE[operator].networks.payin.map((network) => ({
    network,
    label: NETWORKS[network].name,
  }));
}

export interface CheckoutDeps {
  pool: Pool;
  temporal: Client;
  operators: OperatorRules;
  publicBaseUrl: string;
  /** The vault's key ring: the number a payer types goes there. */
  vault: KeyRing;
}

/**
 * The payer's pages, under `/checkout/:paymentId` (the id is unguessable; the pages show the
 * amount from our records, never from the URL, and carry no operator key):
 * - for operators whose page must be reached by a POSTed form (TMoney online), a page that
 *   posts it for the payer's browser, so that a merchant can simply redirect;
 * - for a payin that needs the payer's number first (PayGateGlobal, whose own page would carry
 *   our API key), a form for the number; the payin is then sent server to server and the page
 *   follows it ("approve on your phone", then the outcome and the way back to the merchant).
 */
export function checkoutRoutes(deps: CheckoutDeps): Router {
  const { pool, temporal, operators } = deps;
  const router = Router();

  const load = async (id: string) => (PAYMENT_ID_PATTERN.test(id) ? await getPayment(pool, id) : undefined);
  const awaitingPayer = (p: PaymentRecord) =>
    p.kind === 'payin' &&
    p.status === 'action_required' &&
    !p.operatorReference &&
    p.nextAction?.type === 'redirect' &&
    p.nextAction.url === checkoutUrlFor(deps.publicBaseUrl, p.id);

  const numberForm = (p: PaymentRecord, merchantName: string, error?: string) => {
    const networks = payerNetworks(p.operator);
    return page(
      'Paiement',
      `<p class="muted">${escape(merchantName)}</p>
<p class="amount">${escape(localAmount(p.amount, p.currency))}</p>
${p.description ? `<p>${escape(p.description)}</p>` : ''}
${error ? `<p class="error" role="alert">${escape(error)}</p>` : ''}
<form method="post">
<label for="network">Réseau</label>
<select id="network" name="network">${networks.map((n) => `<option value="${n.network}">${escape(n.label)}</option>`).join('')}</select>
<label for="phone">Numéro de téléphone</label>
<input id="phone" name="phone" type="tel" inputmode="tel" autocomplete="tel" required placeholder="90 11 22 33">
<button type="submit">Payer</button>
</form>`,
    );
  };

  router.get('/:id', async (req, res) => {
    const payment = await load(req.params.id);
    res.type('html').setHeader('Cache-Control', 'no-store');
    if (!payment || payment.kind !== 'payin') {
      res.status(404).send(page('Paiement', '<p>No payment waits for this page.</p>'));
      return;
    }
    const action = payment.nextAction;
    if (payment.status === 'action_required' && action?.type === 'form_post') {
      const payerNumber = payment.customer.phoneToken
        ? (await openPhone(pool, deps.vault, payment.customer.phoneToken))?.replace(/^\+/, '')
        : undefined;
      const inputs = Object.entries(formPostFields(action, payerNumber))
        .map(([k, v]) => `<input type="hidden" name="${escape(k)}" value="${escape(v)}">`)
        .join('\n');
      res.send(`<!doctype html><html><head><meta charset="utf-8"><title>Paiement</title></head>
<body onload="document.forms[0].submit()">
<form method="post" action="${escape(action.url)}">
${inputs}
<noscript><button type="submit">Continuer vers le paiement</button></noscript>
</form></body></html>`);
      return;
    }
    if (awaitingPayer(payment)) {
      const merchant = await getMerchant(pool, payment.merchantId);
      res.send(numberForm(payment, merchant?.name ?? ''));
      return;
    }
    res.send(outcomePage(payment));
  });

  router.post('/:id', express.urlencoded({ extended: false, limit: '2kb' }), async (req, res) => {
    const payment = await load(req.params.id);
    res.type('html').setHeader('Cache-Control', 'no-store');
    if (!payment || !awaitingPayer(payment)) {
      if (payment) return void res.redirect(303, `/checkout/${payment.id}`);
      res.status(404).send(page('Paiement', '<p>No payment waits for this page.</p>'));
      return;
    }
    const body = req.body as Record<string, unknown>;
    const typed = typeof body.phone === 'string' ? body.phone.replace(/[\s.-]/g, '') : '';
    const merchant = await getMerchant(pool, payment.merchantId);
    const again = (error: string) => res.status(400).send(numberForm(payment, merchant?.name ?? '', error));
    const offered = payerNetworks(payment.operator);
    const network = offered.find((n) => n.network === body.network)?.network;
    // A national number is read in the country of the networks offered.
    const country = network ? NETWORKS[network].country : undefined;
    const plan = country ? NUMBERING_PLANS[country] : undefined;
    const parsed = parseMsisdn(
      plan && typeof typed === 'string' && typed.length === plan.nationalLength
        ? `+${plan.callingCode}${typed}`
        : typed,
    );
    if (!network) return void again('Choisissez votre réseau.');
    if (!parsed.ok) return void again("Ce numéro n'est pas valide.");
    if (parsed.value.country !== country)
      return void again(`Ce numéro n'est pas un numéro ${NETWORKS[network].name}.`);
    const refusal = operators.validatePayin(payment.operator as OperatorName, {
      amount: { amount: payment.amount, currency: payment.currency },
      mode: 'direct',
      network,
      customer: { phone: parsed.value.international },
      description: payment.description ?? '',
    });
    if (refusal) return void again(refusal.message);
    await setPayerNumber(pool, deps.vault, payment.id, parsed.value.e164, network);
    req.log.info({ paymentId: payment.id, network }, 'payer gave their number on our page');
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), 20_000);
    try {
      await temporal.connection.withAbortSignal(controller.signal, () =>
        temporal.workflow.getHandle(payinWorkflowId(payment.id)).executeUpdate(payerDetailsUpdate),
      );
    } catch (err) {
      // Already sent (a second click), ended, or slow: the page shows where the payin stands.
      req.log.warn({ paymentId: payment.id, err: errorSummary(err) }, 'payer details not taken now');
    } finally {
      clearTimeout(timer);
    }
    res.redirect(303, `/checkout/${payment.id}`);
  });
  return router;
}

/** Where a payin stands, for the payer; open ones refresh themselves. */
function outcomePage(p: PaymentRecord): string {
  const back = (url: string | null, label: string) =>
    url ? `<p><a href="${escape(url)}">${escape(label)}</a></p>` : '';
  switch (p.status) {
    case 'succeeded':
    case 'partially_refunded':
    case 'refunded':
      return page(
        'Paiement effectué',
        `<p id="status">Paiement effectué.</p>${back(p.returnUrl, 'Retour au marchand')}`,
      );
    case 'pending':
    case 'action_required':
    case 'created':
      return page(
        'Paiement en cours',
        `<p id="status">${p.nextAction?.type === 'approve_on_phone' ? 'Approuvez le paiement sur votre téléphone.' : 'Paiement en cours…'}</p><p class="amount">${escape(localAmount(p.amount, p.currency))}</p>`,
        4,
      );
    case 'unknown':
      return page(
        'Paiement en vérification',
        `<p id="status">Paiement en cours de vérification.</p>${back(p.returnUrl, 'Retour au marchand')}`,
      );
    default:
      return page(
        'Paiement non effectué',
        `<p id="status">Paiement non effectué.</p>${p.failure ? `<p class="muted">${escape(p.failure.message)}</p>` : ''}${back(p.cancelUrl ?? p.returnUrl, 'Retour au marchand')}`,
      );
  }
}

/**
 * `GET /v1/operators`: route health for a merchant; with the operations key, also the balances
 * operators report (PayGateGlobal: Flooz, TMoney). Those are the platform's float, not a
 * merchant's, and each reading calls the operator: they are cached for a minute.
 */
export function operatorRoutes(pool: Pool, operators: OperatorRules, config: Config, auth: AuthDeps): Router {
  const router = Router();
  const isAdmin = requireAdminKey(config);
  const merchantOnly = requireMerchant(auth);
  const cache = new Map<OperatorName, { at: number; value: Promise<OperatorBalanceView> }>();
  type OperatorBalanceView = {
    balances: { network: string; amount: number; currency: string }[] | null;
    error?: string;
  };
  const balancesOf = (operator: OperatorName): Promise<OperatorBalanceView> => {
    const hit = cache.get(operator);
    if (hit && Date.now() - hit.at < 60_000) return hit.value;
    const value = operators.balances(operator).then(
      (b) => ({ balances: b ?? null }),
      (err: unknown) => ({ balances: null, error: (err as Error).message }),
    );
    cache.set(operator, { at: Date.now(), value });
    return value;
  };
  router.get('/', async (req, res) => {
    const admin = isAdmin(req);
    // A merchant key otherwise (it throws 401 when unknown).
    if (!admin) await merchantOnly(req, res, () => undefined);
    // A merchant sees the routes of its key's mode; operations see the live ones.
    const livemode = admin ? true : res.locals.livemode === true;
    const health = new Map((await listOperatorHealth(pool)).map((h) => [h.operator, h]));
    const routeHealth = (operator: string) => {
      const h = health.get(circuitOf(operator, livemode));
      const up = !h?.openUntil || h.openUntil.getTime() <= Date.now();
      return {
        operator,
        status: up ? ('up' as const) : ('down' as const),
        ...(h?.openUntil && !up ? { down_until: h.openUntil.toISOString() } : {}),
      };
    };
    const data = await Promise.all(
      OPERATORS.map(async (operator: OperatorName) => {
        const balance = admin ? await balancesOf(operator) : undefined;
        return {
          ...routeHealth(operator),
          ...(balance
            ? { balances: balance.balances, ...(balance.error ? { balance_error: balance.error } : {}) }
            : {}),
        };
      }),
    );
    // The card rails this deployment runs (docs/cards.md), with their route health.
    const cardRails = [
      ...(config.GIM_HOST ? ['gim'] : []),
      ...(config.PROCESSOR_ENABLED ? ['processor'] : []),
    ];
    res.json({ object: 'list', data: [...data, ...cardRails.map(routeHealth)] });
  });
  return router;
}
