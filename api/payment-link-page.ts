import express, { Router, type Request, type Response } from 'express';
import { getCheckoutBranding, getMerchant } from '../db/merchants.js';
import {
  getPaymentLinkBySlug,
  lockLinkPlaces,
  paymentLinkTotals,
  type PaymentLink,
} from '../db/payment-links.js';
import type { NewPayment } from '../db/payments.js';
import { newId } from '../lib/ids.js';
import { payinWorkflowId } from '../lib/payment-workflows.js';
import { parseMsisdn } from '../lib/phone.js';
import {
  brandingParts,
  escape,
  localAmount,
  payerLanguage,
  securityHeaders,
  type PageBranding,
} from './hosted-checkout.js';
import { recordHostedPayin } from './hosted-payins.js';
import type { HostedCheckoutDeps } from './hosted-checkout.js';
import { startHostedPayin } from './payment-start.js';

type Lang = 'fr' | 'en';
const TEXT = {
  fr: {
    amount: 'Montant ({unit})',
    amountAtLeast: 'Au moins {amount}.',
    name: 'Nom et prénom',
    email: 'Adresse e-mail',
    phone: 'Téléphone',
    pay: 'Continuer vers le paiement',
    raised: '{raised} collectés sur {goal}',
    contributors: '{n} contributeur(s)',
    placesLeft: '{n} place(s) restante(s)',
    soldOut: 'Ce lien a atteint son nombre maximal de paiements.',
    closed: 'Ce lien de paiement n’est plus actif.',
    notFound: 'Ce lien de paiement n’existe pas.',
    badAmount: 'Indiquez un montant entier en francs.',
    tooLow: 'Le montant doit être d’au moins {amount}.',
    badEmail: 'Cette adresse e-mail n’est pas valide.',
    badPhone: 'Ce numéro n’est pas valide.',
    missing: 'Ce champ est obligatoire : {field}.',
    busy: 'Le service est momentanément indisponible. Réessayez dans un instant.',
    thanks: 'Paiement reçu',
  },
  en: {
    amount: 'Amount ({unit})',
    amountAtLeast: 'At least {amount}.',
    name: 'Full name',
    email: 'E-mail address',
    phone: 'Phone',
    pay: 'Go on to payment',
    raised: '{raised} raised of {goal}',
    contributors: '{n} contributor(s)',
    placesLeft: '{n} place(s) left',
    soldOut: 'This link has reached its number of payments.',
    closed: 'This payment link is no longer active.',
    notFound: 'This payment link does not exist.',
    badAmount: 'Give a whole amount in francs.',
    tooLow: 'The amount must be at least {amount}.',
    badEmail: 'This e-mail address is not valid.',
    badPhone: 'This number is not valid.',
    missing: 'This field is required: {field}.',
    busy: 'The service is briefly unavailable. Try again in a moment.',
    thanks: 'Payment received',
  },
} as const;
type Texts = (typeof TEXT)[Lang];
const fill = (t: string, v: Record<string, string>) => t.replace(/\{(\w+)\}/g, (_, k: string) => v[k] ?? '');

/** How long a payer holds a place of a limited link while paying: unpaid, the place comes back. */
const LINK_CHECKOUT_SECONDS = 900;

class SoldOut extends Error {}

function page(
  lang: Lang,
  title: string,
  merchantName: string,
  body: string,
  branding?: PageBranding,
): string {
  const brand = brandingParts(branding, merchantName);
  return `<!doctype html>
<html lang="${lang}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<meta name="referrer" content="no-referrer"><title>${escape(title)} · ${escape(merchantName)}</title>
<link rel="stylesheet" href="/pay/assets/checkout.css">${brand.head}</head>
<body><main><div class="card">
${brand.logo}<p class="merchant">${escape(merchantName)}</p>
${body}
</div></main></body></html>`;
}

/**
 * The public page of a payment link, `/l/<slug>` (docs/payment-links.md): what is sold or
 * collected, the amount (fixed, or chosen by the payer above the floor), the payer's details the
 * merchant asked for; then a hosted payin of the payer's own, and on to its page (/pay/<token>).
 */
export function paymentLinkPageRoutes(deps: HostedCheckoutDeps): Router {
  const { config, pool, temporal } = deps;
  const router = Router();

  const closedReason = (l: PaymentLink, t: Texts) =>
    !l.active || (l.expiresAt && l.expiresAt <= new Date()) ? t.closed : undefined;

  async function render(req: Request, res: Response, l: PaymentLink, error?: string, status = 200) {
    const lang = payerLanguage(req.headers['accept-language']);
    const t = TEXT[lang];
    const merchant = await getMerchant(pool, l.merchantId);
    const totals = await paymentLinkTotals(pool, l.id);
    const brand = await getCheckoutBranding(pool, l.merchantId);
    const branding: PageBranding = {
      merchantId: l.merchantId,
      color: brand.color,
      logo: brand.logoType !== null,
    };
    const posted = (req.body ?? {}) as Record<string, unknown>;
    const value = (k: string) => (typeof posted[k] === 'string' ? escape(posted[k]) : '');
    const heading = `<h1>${escape(l.title)}</h1>${l.description ? `<p class="desc">${escape(l.description)}</p>` : ''}`;
    const progress =
      l.pricing === 'collection' && l.goalAmount !== null
        ? `<p><progress max="${l.goalAmount}" value="${Math.min(l.goalAmount, totals.collected - totals.refunded)}" aria-label="${escape(fill(t.raised, { raised: localAmount(totals.collected - totals.refunded, l.currency), goal: localAmount(l.goalAmount, l.currency) }))}"></progress></p>
<p id="raised">${escape(fill(t.raised, { raised: localAmount(totals.collected - totals.refunded, l.currency), goal: localAmount(l.goalAmount, l.currency) }))} · ${escape(fill(t.contributors, { n: String(totals.succeeded) }))}</p>`
        : '';
    securityHeaders(res);
    const soldOut = l.salesLimit !== null && totals.succeeded >= l.salesLimit ? t.soldOut : undefined;
    const closed = closedReason(l, t) ?? soldOut;
    if (closed) {
      return void res
        .status(410)
        .type('html')
        .send(
          page(
            lang,
            l.title,
            merchant?.name ?? '',
            `${heading}${progress}<p class="notice" role="status">${escape(closed)}</p>`,
            branding,
          ),
        );
    }
    const amountField =
      l.pricing === 'fixed'
        ? `<p class="amount">${escape(localAmount(l.amount!, l.currency))}</p>`
        : `<label for="amount">${escape(fill(t.amount, { unit: l.currency === 'XOF' || l.currency === 'XAF' ? 'FCFA' : l.currency }))}</label>
<input id="amount" name="amount" type="text" inputmode="numeric" required value="${value('amount')}"${l.amount ? ` aria-describedby="amount-hint"` : ''}>
${l.amount ? `<p class="hint" id="amount-hint">${escape(fill(t.amountAtLeast, { amount: localAmount(l.amount, l.currency) }))}</p>` : ''}`;
    const fields = l.collect
      .map((f) => {
        const type = f === 'email' ? 'email' : f === 'phone' ? 'tel' : 'text';
        const auto = f === 'email' ? 'email' : f === 'phone' ? 'tel' : 'name';
        return `<label for="${f}">${escape(t[f])}</label><input id="${f}" name="${f}" type="${type}" autocomplete="${auto}" required value="${value(f)}">`;
      })
      .join('\n');
    const places =
      l.salesLimit !== null
        ? `<p class="hint" id="places">${escape(fill(t.placesLeft, { n: String(Math.max(0, l.salesLimit - totals.succeeded)) }))}</p>`
        : '';
    res
      .status(status)
      .type('html')
      .send(
        page(
          lang,
          l.title,
          merchant?.name ?? '',
          `${heading}${progress}${error ? `<p class="error" role="alert">${escape(error)}</p>` : ''}
<form method="post" action="/l/${escape(l.slug)}">
${amountField}
${fields}
<button type="submit">${escape(t.pay)}</button>
</form>${places}`,
          branding,
        ),
      );
  }

  router.get('/:slug', async (req, res) => {
    const l = await getPaymentLinkBySlug(pool, String(req.params.slug));
    if (!l) {
      const lang = payerLanguage(req.headers['accept-language']);
      securityHeaders(res);
      return void res
        .status(404)
        .type('html')
        .send(page(lang, TEXT[lang].notFound, '', `<p>${escape(TEXT[lang].notFound)}</p>`));
    }
    await render(req, res, l);
  });

  /** After a link's payment, when the merchant asked for a message rather than a redirect. */
  router.get('/:slug/merci', async (req, res) => {
    const l = await getPaymentLinkBySlug(pool, String(req.params.slug));
    const lang = payerLanguage(req.headers['accept-language']);
    securityHeaders(res);
    if (!l || l.afterPayment.type !== 'message')
      return void res.redirect(303, `/l/${String(req.params.slug)}`);
    const merchant = await getMerchant(pool, l.merchantId);
    res
      .type('html')
      .send(
        page(
          lang,
          TEXT[lang].thanks,
          merchant?.name ?? '',
          `<h1>${escape(l.title)}</h1><p class="status ok" role="status">${escape(l.afterPayment.message)}</p>`,
        ),
      );
  });

  router.post('/:slug', express.urlencoded({ extended: false, limit: '4kb' }), async (req, res) => {
    const l = await getPaymentLinkBySlug(pool, String(req.params.slug));
    if (!l) return void res.redirect(303, `/l/${String(req.params.slug)}`);
    const lang = payerLanguage(req.headers['accept-language']);
    const t = TEXT[lang];
    const again = (error: string, status = 400) => render(req, res, l, error, status);
    if (closedReason(l, t)) return render(req, res, l);
    const body = (req.body ?? {}) as Record<string, unknown>;
    const str = (k: string) => (typeof body[k] === 'string' ? body[k].trim() : '');

    // The amount: the link's own when fixed; otherwise the payer's, whole francs, above the floor.
    let amount = l.amount ?? 0;
    if (l.pricing !== 'fixed') {
      const typed = str('amount').replace(/[\s\u00a0\u202f.]/g, '');
      if (!/^\d{1,12}$/.test(typed) || Number(typed) <= 0) return again(t.badAmount);
      amount = Number(typed);
      if (l.amount !== null && amount < l.amount) {
        return again(fill(t.tooLow, { amount: localAmount(l.amount, l.currency) }));
      }
    }
    const customer: NewPayment['customer'] = {};
    for (const field of l.collect) {
      const v = str(field);
      if (!v || v.length > 200) return again(fill(t.missing, { field: t[field] }));
      if (field === 'email') {
        if (!/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(v)) return again(t.badEmail);
        customer.email = v;
      } else if (field === 'phone') {
        const parsed = parseMsisdn(v);
        if (!parsed.ok) return again(t.badPhone);
        customer.phone = parsed.value.e164;
      } else {
        const [first, ...rest] = v.split(/\s+/);
        customer.firstName = first;
        if (rest.length) customer.lastName = rest.join(' ');
      }
    }

    const id = newId('pay');
    let payment;
    try {
      payment = await recordHostedPayin(
        pool,
        config,
        {
          id,
          merchantId: l.merchantId,
          livemode: l.livemode,
          amount,
          currency: l.currency,
          customer,
          description: l.title,
          returnUrl:
            l.afterPayment.type === 'redirect'
              ? l.afterPayment.url
              : new URL(`/l/${l.slug}/merci`, config.PUBLIC_BASE_URL).toString(),
          cancelUrl: new URL(`/l/${l.slug}`, config.PUBLIC_BASE_URL).toString(),
          metadata: { payment_link: l.id },
          expiresInSeconds: Math.min(config.HOSTED_CHECKOUT_SECONDS, LINK_CHECKOUT_SECONDS),
          paymentLinkId: l.id,
        },
        async (client) => {
          // The place is taken in the payin's own transaction, under a lock on the link.
          if (l.salesLimit !== null && (await lockLinkPlaces(client, l.id)) >= l.salesLimit)
            throw new SoldOut();
        },
      );
    } catch (err) {
      if (err instanceof SoldOut) return again(t.soldOut, 409);
      throw err;
    }
    const log = req.log.child({ paymentId: id, workflowId: payinWorkflowId(id), paymentLinkId: l.id });
    if (
      (await startHostedPayin(temporal, config, { ...payment, deadlineAt: payment.deadlineAt! })) !==
      'started'
    ) {
      log.warn('payment link payin recorded but not started');
      return again(t.busy, 503);
    }
    log.info({ amount }, 'payer started a payment link payin');
    const next = payment.nextAction;
    res.redirect(303, next?.type === 'redirect' ? new URL(next.url).pathname : `/l/${l.slug}`);
  });

  return router;
}
