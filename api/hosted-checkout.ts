import { openPhone } from '../db/personal-vault.js';
import { formPostFields } from '../lib/payments.js';
import { randomBytes, randomUUID } from 'node:crypto';
import express, { Router, type Request, type RequestHandler, type Response } from 'express';
import { PerAddressRateLimit } from '../lib/address-rate-limit.js';
import type { Client } from '@temporalio/client';
import { getCheckoutBranding, getCheckoutLogo, getMerchant } from '../db/merchants.js';
import { BRAND_COLOR, textOn } from '../lib/branding.js';
import { getPayment, listAttemptsOf, type PaymentRecord } from '../db/payments.js';
import type { Pool } from '../db/pool.js';
import { operatorsDown } from '../db/operator-health.js';
import { paymentOfThreeDS } from '../db/card-processor.js';
import { threeDSResultSignal } from '../workflows/card-processor-payin.js';
import { cardBrand, luhnValid } from '../lib/card-vault.js';
import { cardVaultRing, type Config } from '../lib/config.js';
import { derivedId } from '../lib/ids.js';
import { errorSummary, type Logger } from '../lib/logger.js';
import { NUMBERING_PLANS } from '../lib/networks.js';
import { OPERATOR_TABLE, isOperatorName } from '../lib/operators.js';
import { payinWorkflowId } from '../lib/payment-workflows.js';
import { parseMsisdn } from '../lib/phone.js';
import { createCardProcessor, decodeCres, type OperatorRules } from '../operators/registry.js';
import { MAX_OPEN_ATTEMPTS, cancelCheckoutSignal } from '../workflows/hosted-payin.js';
import { CHECKOUT_CSS, CHECKOUT_JS } from './checkout-assets.js';
import {
  cardRailsFor,
  type CardRail,
  checkoutPageUrl,
  dropAttempt,
  recordCardAttempt,
  type ProcessorAttemptData,
  hostedPayinByToken,
  isOpenAttempt,
  offeredNetworks,
  recordAttempt,
  type OfferedNetwork,
} from './hosted-payins.js';
import { startCardAttempt, startCheckoutAttempt } from './payment-start.js';
import { Problem } from './problems.js';
import { payinRoutesFor } from './routing.js';

type Lang = 'fr' | 'en';

const TEXT = {
  fr: {
    title: 'Paiement',
    pay: 'Payer',
    network: 'Choisissez votre réseau',
    phone: 'Numéro de téléphone',
    phoneFormat: 'Le numéro de votre compte mobile money, par exemple 70 12 34 56.',
    recognised: 'Numéro {network}.',
    tooLong: 'Ce numéro est trop long.',
    cancel: 'Annuler et revenir au marchand',
    otpTitle: 'Obtenez votre code de paiement',
    otpDial: 'Composez ce code sur votre téléphone :',
    otpLabel: 'Code reçu par SMS',
    otpHint: 'Le code a 4 à 8 chiffres.',
    confirm: 'Confirmer le paiement',
    connecting: 'Connexion à votre opérateur…',
    approve: 'Approuvez le paiement sur votre téléphone ({phone}), puis attendez ici.',
    processing: 'Paiement en cours de traitement…',
    continueOn: 'Continuer vers la page de paiement de {operator}',
    continueHint: 'Vous reviendrez ici une fois le paiement fait.',
    another: 'Payer autrement (autre numéro ou réseau)',
    succeeded: 'Paiement effectué. Merci !',
    failedAttempt:
      'Le paiement n’a pas abouti : {reason} Vous pouvez réessayer, avec un autre numéro ou un autre réseau.',
    expired: 'Le délai de paiement est dépassé. Aucun montant n’a été débité par cette page.',
    cancelled: 'Paiement annulé.',
    unknown: 'Paiement en cours de vérification. Le marchand sera informé du résultat.',
    notPaid: 'Paiement non effectué.',
    back: 'Revenir au marchand',
    notFound: 'Aucun paiement n’attend sur cette page.',
    chooseNetwork: 'Choisissez votre réseau.',
    orCard: 'Ou payez par carte bancaire',
    cardNumber: 'Numéro de carte',
    cardExpiry: 'Date d’expiration (MM/AA)',
    cardCvc: 'Cryptogramme (3 ou 4 chiffres au dos)',
    payByCard: 'Valider la carte',
    badCard: 'Ce numéro de carte n’est pas valide.',
    badExpiry: 'La date d’expiration est invalide ou passée.',
    badCvc: 'Le cryptogramme a 3 ou 4 chiffres.',
    cardNotAccepted: 'Cette carte n’est pas acceptée ici.',
    cardOnlyAlone: 'Un paiement est en cours ; attendez sa fin avant de payer par carte.',
    cardRailDown: 'Le paiement par carte est momentanément indisponible : payez par mobile money.',
    cardProcessing: 'Paiement par carte en cours…',
    badNumber: 'Ce numéro n’est pas valide.',
    wrongCountry: 'Ce numéro n’est pas un numéro {network}.',
    badOtp: 'Le code doit avoir 4 à 8 chiffres.',
    closed: 'Ce paiement ne prend plus de tentative.',
    tooMany: 'Trop de paiements sont en cours ; attendez la fin de l’un d’eux.',
    busy: 'Le service est momentanément indisponible. Réessayez dans un instant.',
    waitRunning: 'Un paiement est en cours ; attendez sa fin avant d’annuler.',
    refused: 'Ce paiement ne peut pas passer par ce réseau.',
    securedBy: 'Paiement sécurisé par Passerelle',
    tooFast: 'Trop de tentatives depuis cette connexion. Réessayez dans une minute.',
    timeLeft: 'Cette page reste ouverte jusqu’à {time} (UTC).',
  },
  en: {
    title: 'Payment',
    pay: 'Pay',
    network: 'Choose your network',
    phone: 'Phone number',
    phoneFormat: 'Your mobile money account number, for example 70 12 34 56.',
    recognised: '{network} number.',
    tooLong: 'This number is too long.',
    cancel: 'Cancel and go back to the merchant',
    otpTitle: 'Get your payment code',
    otpDial: 'Dial this code on your phone:',
    otpLabel: 'Code received by SMS',
    otpHint: 'The code has 4 to 8 digits.',
    confirm: 'Confirm the payment',
    connecting: 'Connecting to your operator…',
    approve: 'Approve the payment on your phone ({phone}), then wait here.',
    processing: 'Payment in progress…',
    continueOn: 'Continue to the {operator} payment page',
    continueHint: 'You will come back here once you have paid.',
    another: 'Pay another way (another number or network)',
    succeeded: 'Payment made. Thank you!',
    failedAttempt:
      'The payment did not go through: {reason} You may try again, with another number or network.',
    expired: 'The time to pay is over. This page took no money.',
    cancelled: 'Payment cancelled.',
    unknown: 'Payment being checked. The merchant will be told the outcome.',
    notPaid: 'Payment not made.',
    back: 'Back to the merchant',
    notFound: 'No payment waits on this page.',
    chooseNetwork: 'Choose your network.',
    orCard: 'Or pay by card',
    cardNumber: 'Card number',
    cardExpiry: 'Expiry date (MM/YY)',
    cardCvc: 'Security code (3 or 4 digits on the back)',
    payByCard: 'Use this card',
    badCard: 'This card number is not valid.',
    badExpiry: 'The expiry date is not valid or has passed.',
    badCvc: 'The security code has 3 or 4 digits.',
    cardNotAccepted: 'This card is not accepted here.',
    cardOnlyAlone: 'A payment is in progress; wait for its end before paying by card.',
    cardRailDown: 'Card payments are unavailable right now: pay by mobile money.',
    cardProcessing: 'Card payment in progress…',
    badNumber: 'This number is not valid.',
    wrongCountry: 'This is not a {network} number.',
    badOtp: 'The code has 4 to 8 digits.',
    closed: 'This payment takes no more attempts.',
    tooMany: 'Too many payments are in progress; wait for one to end.',
    busy: 'The service is briefly unavailable. Try again in a moment.',
    waitRunning: 'A payment is in progress; wait for its end before cancelling.',
    refused: 'This payment cannot go through this network.',
    securedBy: 'Payment secured by Passerelle',
    tooFast: 'Too many attempts from this connection. Try again in a minute.',
    timeLeft: 'This page stays open until {time} (UTC).',
  },
} as const;
type Texts = (typeof TEXT)[Lang];

/** French unless the browser prefers English (Accept-Language, in its order). */
export function payerLanguage(acceptLanguage: string | undefined): Lang {
  const tags = (acceptLanguage ?? '')
    .split(',')
    .map((part) => {
      const [tag, ...params] = part.trim().toLowerCase().split(';');
      const q = params.map((p) => /^q=([\d.]+)$/.exec(p.trim())).find(Boolean);
      return { tag: tag ?? '', q: q ? Number(q[1]) : 1 };
    })
    .filter((t) => t.tag && t.q > 0)
    .sort((a, b) => b.q - a.q);
  for (const { tag } of tags) {
    if (tag.startsWith('fr')) return 'fr';
    if (tag.startsWith('en')) return 'en';
  }
  return 'fr';
}

export const escape = (s: string) =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
const fill = (template: string, values: Record<string, string>) =>
  template.replace(/\{(\w+)\}/g, (_, k: string) => values[k] ?? '');

/** `5 000 FCFA`: the amount as a payer in the region reads it. */
export function localAmount(amount: number, currency: string): string {
  const grouped = String(amount).replace(/\B(?=(\d{3})+(?!\d))/g, '\u202f');
  return currency === 'XOF' || currency === 'XAF' ? `${grouped}\u00a0FCFA` : `${grouped}\u00a0${currency}`;
}

/** `+226 70 •• •• 56`: enough for the payer to recognise their number, not for a bystander. */
/** The payer's number as the payment keeps it (+226******09), for the page: +226 •••••• 09. */
function maskedPhone(masked: string | undefined): string {
  const m = masked ? /^\+(\d{3})(\*+)(\d{2})$/.exec(masked) : null;
  return m ? `+${m[1]} ${'•'.repeat(m[2]!.length)} ${m[3]}` : '';
}

/** Card rails are not operators of the table (yet): their names for the payer. */
const CARD_RAIL_LABELS: Record<string, string> = {
  gim: 'GIM-UEMOA',
  processor: 'Visa / Mastercard (3-D Secure)',
};

function operatorLabel(operator: string): string {
  return isOperatorName(operator) ? OPERATOR_TABLE[operator].label : (CARD_RAIL_LABELS[operator] ?? operator);
}

/** A merchant's colour and logo, served from our origin (docs/checkout.md, "Branding"). */
export interface PageBranding {
  merchantId: string;
  color: string | null;
  logo: boolean;
}

/** The head's link to a merchant's colours, and its logo above its name. */
export function brandingParts(b: PageBranding | undefined, merchantName: string) {
  if (!b) return { head: '', logo: '' };
  return {
    head: b.color ? `<link rel="stylesheet" href="/pay/assets/brand/${b.merchantId}.css">` : '',
    logo: b.logo
      ? `<img class="logo" src="/pay/assets/brand/${b.merchantId}/logo" alt="${escape(merchantName)}" height="48">`
      : '',
  };
}

interface PageParts {
  lang: Lang;
  title: string;
  merchantName: string;
  branding?: PageBranding;
  payment: PaymentRecord;
  body: string;
  /** Data for the page's script (numbering plans, the status URL to follow). */
  data?: Record<string, unknown>;
}

function layout(p: PageParts): string {
  const t = TEXT[p.lang];
  const data = p.data
    ? // JSON in a non-executed script element; `<` escaped so the data cannot close the element.
      `<script type="application/json" id="checkout-data">${JSON.stringify(p.data).replace(/</g, '\\u003c')}</script>
<script src="/pay/assets/checkout.js" defer></script>`
    : '';
  const brand = brandingParts(p.branding, p.merchantName);
  return `<!doctype html>
<html lang="${p.lang}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<meta name="referrer" content="no-referrer"><title>${escape(p.title)} · ${escape(p.merchantName)}</title>
<link rel="stylesheet" href="/pay/assets/checkout.css">${brand.head}${data}</head>
<body><main><div class="card">
${brand.logo}<p class="merchant">${escape(p.merchantName)}</p>
<h1 class="amount">${escape(localAmount(p.payment.amount, p.payment.currency))}</h1>
${p.payment.description ? `<p class="desc">${escape(p.payment.description)}</p>` : ''}
${p.body}
</div><footer>${escape(t.securedBy)}</footer></main></body></html>`;
}

/** The pages' policy: our own style sheet and script only, forms posted to us (or the operator's form). */
export function securityHeaders(res: Response, formTarget?: string): void {
  const formAction = formTarget ? `'self' ${new URL(formTarget).origin}` : `'self'`;
  res.setHeader(
    'Content-Security-Policy',
    `default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action ${formAction}; base-uri 'none'; frame-ancestors 'none'`,
  );
  // The token in our URL must not leak to the operator's or the merchant's pages.
  res.setHeader('Referrer-Policy', 'no-referrer');
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('Cache-Control', 'no-store');
}

/**
 * The payer's pages take forms from anyone: one address may post PAYER_PAGE_POSTS_PER_MINUTE a
 * minute (each payment link post records a payin and may hold a place), then 429.
 */
export function payerPagePostLimit(perMinute: number): RequestHandler {
  const limit = new PerAddressRateLimit(perMinute);
  return (req, res, next) => {
    if (req.method !== 'POST' || limit.allow(req.ip ?? req.socket.remoteAddress ?? '?')) return next();
    const lang = payerLanguage(req.headers['accept-language']);
    securityHeaders(res);
    res
      .status(429)
      .setHeader('Retry-After', '60')
      .type('html')
      .send(
        `<!doctype html><html lang="${lang}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><title>${TEXT[lang].title}</title><link rel="stylesheet" href="/pay/assets/checkout.css"></head><body><main><div class="card"><h1>${TEXT[lang].title}</h1><p role="alert">${TEXT[lang].tooFast}</p></div></main></body></html>`,
      );
  };
}

export interface HostedCheckoutDeps {
  config: Config;
  pool: Pool;
  temporal: Client;
  operators: OperatorRules;
  logger: Logger;
}

/** A fingerprint of what the page shows: the script reloads the page when it changes. */
function pageState(intent: PaymentRecord, attempts: PaymentRecord[]): string {
  const last = attempts.at(-1);
  const closed = intent.deadlineAt !== null && intent.deadlineAt <= new Date();
  return [
    intent.status,
    closed ? 'closed' : 'open',
    ...attempts.map((a) => `${a.id.slice(-6)}:${a.status}:${a.nextAction?.type ?? ''}`),
    last?.operatorReference ? 'ref' : '',
  ].join('|');
}

/**
 * The hosted checkout (docs/checkout.md), under `/pay/<token>`: the payer chooses a network
 * and a number, authorises (OTP, approval on the phone, or the operator's own page), and may try
 * again after a decline, until the payin succeeds, is cancelled, or its deadline passes. The page
 * shows amounts from our records, never from the URL or the form, and no merchant or operator secret.
 */
export function hostedCheckoutRoutes(deps: HostedCheckoutDeps): Router {
  const { config, pool, temporal, operators } = deps;
  const router = Router();
  const processor = createCardProcessor(config, deps.logger);

  router.get('/assets/checkout.css', (_req, res) => {
    res.type('text/css').setHeader('Cache-Control', 'public, max-age=3600').send(CHECKOUT_CSS);
  });
  router.get('/assets/checkout.js', (_req, res) => {
    res.type('text/javascript').setHeader('Cache-Control', 'public, max-age=3600').send(CHECKOUT_JS);
  });
  // A merchant's colours and logo; a merchant's id is no secret (its pages name it anyway).
  router.get('/assets/brand/:merchant.css', async (req, res) => {
    const { color } = await getCheckoutBranding(pool, String(req.params.merchant));
    res.type('text/css').setHeader('Cache-Control', 'public, max-age=300');
    if (!color || !BRAND_COLOR.test(color)) return void res.send('');
    const text = textOn(color);
    res.send(
      `button:not(.secondary),.button:not(.secondary){background:${color};color:${text}}\n` +
        `.network input,progress{accent-color:${color}}\n.spinner{border-top-color:${color}}\n.card{border-top:4px solid ${color}}`,
    );
  });
  router.get('/assets/brand/:merchant/logo', async (req, res) => {
    const logo = await getCheckoutLogo(pool, String(req.params.merchant));
    if (!logo) return void res.status(404).end();
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Content-Security-Policy', "default-src 'none'");
    res.type(logo.type).setHeader('Cache-Control', 'public, max-age=300').send(logo.bytes);
  });

  const load = async (req: Request) => {
    const found = await hostedPayinByToken(pool, String(req.params.token));
    if (!found) return undefined;
    const attempts = await listAttemptsOf(pool, found.payment.id);
    const merchant = await getMerchant(pool, found.payment.merchantId);
    const brand = await getCheckoutBranding(pool, found.payment.merchantId);
    const branding: PageBranding = {
      merchantId: found.payment.merchantId,
      color: brand.color,
      logo: brand.logoType !== null,
    };
    /** The networks offered, or whether `only` is (a form names one: no need to route the others). */
    const offer = (only?: string) =>
      offeredNetworks(pool, operators, {
        merchantId: found.payment.merchantId,
        livemode: found.payment.livemode,
        amount: found.payment.amount,
        currency: found.payment.currency,
        country: found.country,
        only,
      });
    return { ...found, attempts, merchantName: merchant?.name ?? '', branding, offer };
  };
  type Loaded = NonNullable<Awaited<ReturnType<typeof load>>>;

  const notFound = (res: Response, lang: Lang) => {
    securityHeaders(res);
    res
      .status(404)
      .type('html')
      .send(
        `<!doctype html><html lang="${lang}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><title>${TEXT[lang].title}</title><link rel="stylesheet" href="/pay/assets/checkout.css"></head><body><main><div class="card"><h1>${TEXT[lang].title}</h1><p>${TEXT[lang].notFound}</p></div></main></body></html>`,
      );
  };

  const pageUrl = (token: string) => checkoutPageUrl(config.PUBLIC_BASE_URL, token);
  const statusPath = (token: string) => `/pay/${token}/status`;

  /** The network choice and the number (the first step, and after a decline). */
  const choiceForm = (
    t: Texts,
    token: string,
    offer: OfferedNetwork[],
    chosen: { network?: string; phone?: string },
    hasRunning: boolean,
    cards: boolean,
  ) => {
    const nonce = randomBytes(12).toString('base64url');
    const radios = offer
      .map(
        (o) =>
          `<label class="network"><input type="radio" name="network" value="${o.network}" required${chosen.network === o.network ? ' checked' : ''}> ${escape(o.name)}</label>`,
      )
      .join('\n');
    return `<form method="post" action="/pay/${token}" id="choose" novalidate>
<input type="hidden" name="nonce" value="${nonce}">
<fieldset><legend>${escape(t.network)}</legend>
${radios}
</fieldset>
<label for="phone">${escape(t.phone)}</label>
<input id="phone" name="phone" type="tel" inputmode="tel" autocomplete="tel" required aria-describedby="phone-hint" value="${escape(chosen.phone ?? '')}">
<p class="hint" id="phone-hint" aria-live="polite">${escape(t.phoneFormat)}</p>
<button type="submit" name="action" value="pay">${escape(t.pay)}</button>
</form>
${cards && !hasRunning ? cardForm(t, token) : ''}
${hasRunning ? '' : `<form method="post" action="/pay/${token}"><button type="submit" class="secondary" name="action" value="cancel">${escape(t.cancel)}</button></form>`}`;
  };

  /**
   * The card form: typed by the payer on our page, posted to our origin only (never to the
   * merchant), vaulted at once; the security code is never stored (docs/cards.md).
   */
  const cardForm = (t: Texts, token: string) => {
    const nonce = randomBytes(12).toString('base64url');
    return `<form method="post" action="/pay/${token}" id="card" autocomplete="on">
<input type="hidden" name="nonce" value="${nonce}">
<fieldset><legend>${escape(t.orCard)}</legend>
<label for="card-number">${escape(t.cardNumber)}</label>
<input id="card-number" name="card_number" type="text" inputmode="numeric" autocomplete="cc-number" pattern="[0-9 ]{12,23}" maxlength="23" required>
<label for="card-expiry">${escape(t.cardExpiry)}</label>
<input id="card-expiry" name="card_expiry" type="text" inputmode="numeric" autocomplete="cc-exp" placeholder="MM/AA" pattern="[0-9]{2} ?/ ?[0-9]{2}" maxlength="7" required>
<label for="card-cvc">${escape(t.cardCvc)}</label>
<input id="card-cvc" name="card_cvc" type="password" inputmode="numeric" autocomplete="cc-csc" pattern="[0-9]{3,4}" maxlength="4" required>
</fieldset>
<button type="submit" name="action" value="card">${escape(t.payByCard)}</button>
</form>`;
  };

  const scriptData = (t: Texts, token: string, state: string, offer?: OfferedNetwork[]) => ({
    statusUrl: statusPath(token),
    state,
    ...(offer
      ? {
          plans: Object.fromEntries(
            [...new Set(offer.map((o) => o.country))].map((c) => [c, NUMBERING_PLANS[c]]),
          ),
          networks: Object.fromEntries(offer.map((o) => [o.network, o.country])),
          names: Object.fromEntries(offer.map((o) => [o.network, o.name])),
          text: { recognised: t.recognised, tooLong: t.tooLong, format: t.phoneFormat },
        }
      : {}),
  });

  async function render(
    req: Request,
    res: Response,
    l: Loaded,
    extra: { error?: string; otpStep?: { network: OfferedNetwork; phone: string; nonce: string } } = {},
  ) {
    const lang = payerLanguage(req.headers['accept-language']);
    const t = TEXT[lang];
    const token = String(req.params.token);
    const { payment: intent, attempts } = l;
    const state = pageState(intent, attempts);
    const parts = { lang, merchantName: l.merchantName, payment: intent, branding: l.branding };
    const back = (url: string | null) =>
      url ? `<a class="button secondary" href="${escape(url)}">${escape(t.back)}</a>` : '';
    const send = (title: string, body: string, data?: Record<string, unknown>, formTarget?: string) => {
      securityHeaders(res, formTarget);
      res.type('html').send(layout({ ...parts, title, body, data }));
    };
    const error = extra.error ? `<p class="error" role="alert">${escape(extra.error)}</p>` : '';

    // Ended: the outcome, and the way back.
    if (intent.status !== 'action_required') {
      const [cls, text, url] =
        intent.status === 'succeeded' ||
        intent.status === 'refunded' ||
        intent.status === 'partially_refunded'
          ? ['ok', t.succeeded, intent.returnUrl]
          : intent.status === 'expired'
            ? ['ko', t.expired, intent.cancelUrl ?? intent.returnUrl]
            : intent.status === 'cancelled'
              ? ['ko', t.cancelled, intent.cancelUrl ?? intent.returnUrl]
              : intent.status === 'unknown' || intent.status === 'pending'
                ? ['', t.unknown, intent.returnUrl]
                : ['ko', t.notPaid, intent.cancelUrl ?? intent.returnUrl];
      return send(
        t.title,
        `<p class="status ${cls}" role="status" id="status">${escape(text)}</p>${back(url)}`,
      );
    }

    const running = attempts.filter(isOpenAttempt);
    const closed = intent.deadlineAt !== null && intent.deadlineAt <= new Date();
    const anotherWay = req.query.another === '1' && running.length < MAX_OPEN_ATTEMPTS && !closed;

    // The OTP step: the USSD string to dial, then the code.
    if (extra.otpStep && !closed) {
      const { network, phone, nonce } = extra.otpStep;
      return send(
        t.otpTitle,
        `${error}<h2>${escape(t.otpTitle)}</h2>
<p>${escape(t.otpDial)}</p><p class="dial" id="dial">${escape(network.otpDial ?? '')}</p>
<form method="post" action="/pay/${token}">
<input type="hidden" name="nonce" value="${escape(nonce)}">
<input type="hidden" name="network" value="${network.network}">
<input type="hidden" name="phone" value="${escape(phone)}">
<label for="otp">${escape(t.otpLabel)}</label>
<input id="otp" name="otp" type="text" inputmode="numeric" autocomplete="one-time-code" pattern="[0-9]{4,8}" maxlength="8" required aria-describedby="otp-hint">
<p class="hint" id="otp-hint">${escape(t.otpHint)}</p>
<button type="submit" name="action" value="pay">${escape(t.confirm)}</button>
</form>`,
      );
    }

    // An attempt in flight: what the payer does now, followed live.
    const current = running.at(-1);
    if (current && !anotherWay) {
      const action = current.nextAction;
      const another =
        running.length < MAX_OPEN_ATTEMPTS && !closed
          ? `<a class="button secondary" href="/pay/${token}?another=1">${escape(t.another)}</a>`
          : '';
      const follow = scriptData(t, token, state);
      const spinner = '<div class="spinner" aria-hidden="true"></div>';
      if (current.status === 'created') {
        return send(
          t.title,
          `<p class="status" role="status" id="status">${escape(t.connecting)}</p>${spinner}`,
          follow,
        );
      }
      if (action?.type === 'redirect') {
        return send(
          t.title,
          `<p>${escape(t.continueHint)}</p><a class="button" id="operator-page" href="${escape(action.url)}">${escape(fill(t.continueOn, { operator: operatorLabel(current.operator) }))}</a>${another}`,
          follow,
        );
      }
      if (action?.type === 'form_post') {
        const payerNumber = current.customer.phoneToken
          ? (await openPhone(pool, cardVaultRing(config), current.customer.phoneToken))?.replace(/^\+/, '')
          : undefined;
        const inputs = Object.entries(formPostFields(action, payerNumber))
          .map(([k, v]) => `<input type="hidden" name="${escape(k)}" value="${escape(v)}">`)
          .join('');
        return send(
          t.title,
          `<p>${escape(t.continueHint)}</p><form method="post" action="${escape(action.url)}">${inputs}<button type="submit" id="operator-page">${escape(fill(t.continueOn, { operator: operatorLabel(current.operator) }))}</button></form>${another}`,
          follow,
          action.url,
        );
      }
      const text =
        action?.type === 'approve_on_phone'
          ? fill(t.approve, { phone: maskedPhone(current.customer.phoneMasked) })
          : t.processing;
      return send(
        t.title,
        `<p class="status" role="status" id="status">${escape(text)}</p>${spinner}${another}`,
        follow,
      );
    }

    // Past the deadline with nothing in flight: the workflow is ending it; the page follows.
    if (closed) {
      return send(
        t.title,
        `<p class="status ko" role="status" id="status">${escape(t.expired)}</p>`,
        scriptData(t, token, state),
      );
    }

    // The choice: first time, after a decline, or another way while one waits.
    const offer = await l.offer();
    const last = attempts.at(-1);
    const declined =
      !extra.error && last && !isOpenAttempt(last) && !anotherWay
        ? `<p class="error" role="alert">${escape(fill(t.failedAttempt, { reason: failureText(last, lang) }))}</p>`
        : '';
    const until = intent.deadlineAt
      ? `<p class="hint">${escape(fill(t.timeLeft, { time: intent.deadlineAt.toISOString().slice(11, 16) }))}</p>`
      : '';
    const posted = (req.body ?? {}) as Record<string, unknown>;
    const chosen = {
      network: typeof posted.network === 'string' ? posted.network : (intent.network ?? undefined),
      phone: typeof posted.phone === 'string' ? posted.phone : undefined,
    };
    return send(
      t.title,
      `${error}${declined}${choiceForm(t, token, offer, chosen, running.length > 0, (await cardRailsUp(intent)).length > 0)}${until}`,
      scriptData(t, token, state, offer),
    );
  }

  router.get('/:token', async (req, res) => {
    const l = await load(req);
    if (!l) return notFound(res, payerLanguage(req.headers['accept-language']));
    await render(req, res, l);
  });

  // Polled every 2 s by each waiting page: the payin and its attempts, nothing more.
  router.get('/:token/status', async (req, res) => {
    const found = await hostedPayinByToken(pool, String(req.params.token));
    res.setHeader('Cache-Control', 'no-store');
    if (!found) return void res.status(404).json({ state: 'not_found' });
    const attempts = await listAttemptsOf(pool, found.payment.id);
    res.json({ state: pageState(found.payment, attempts), status: found.payment.status });
  });

  // The payer's browser back from the issuer's challenge page with the CRes (EMV 3-D Secure):
  // a hint for the attempt's workflow, which asks the processor for the result itself.
  router.post('/:token/3ds', express.urlencoded({ extended: false, limit: '8kb' }), async (req, res) => {
    const token = String(req.params.token);
    const found = await hostedPayinByToken(pool, token);
    if (!found) return notFound(res, payerLanguage(req.headers['accept-language']));
    const body = (req.body ?? {}) as Record<string, unknown>;
    const cres = typeof body.cres === 'string' ? decodeCres(body.cres) : undefined;
    const attemptId = cres && (await paymentOfThreeDS(pool, cres.threeDSServerTransID));
    const attempt = attemptId ? await getPayment(pool, attemptId) : undefined;
    if (cres && attempt && attempt.attemptOf === found.payment.id) {
      await temporal.workflow
        .getHandle(payinWorkflowId(attempt.id))
        .signal(threeDSResultSignal)
        .catch((err: unknown) =>
          req.log.warn({ paymentId: attempt.id, err: errorSummary(err) }, '3-D Secure hint not delivered'),
        );
      req.log.info(
        { paymentId: attempt.id, transStatus: cres.transStatus },
        'payer back from the 3-D Secure challenge',
      );
    }
    res.redirect(303, `/pay/${token}`);
  });

  router.post('/:token', express.urlencoded({ extended: false, limit: '4kb' }), async (req, res) => {
    const l = await load(req);
    const lang = payerLanguage(req.headers['accept-language']);
    if (!l) return notFound(res, lang);
    const t = TEXT[lang];
    const token = String(req.params.token);
    const body = (req.body ?? {}) as Record<string, unknown>;
    const intent = l.payment;
    const log = req.log.child({ paymentId: intent.id, workflowId: payinWorkflowId(intent.id) });
    const again = (error: string) => render(req, res.status(400), l, { error });
    if (intent.status !== 'action_required') return void res.redirect(303, `/pay/${token}`);

    if (body.action === 'card') return payByCard(req, res, l, body);

    if (body.action === 'cancel') {
      if (l.attempts.some(isOpenAttempt)) return again(t.waitRunning);
      try {
        await temporal.workflow.getHandle(payinWorkflowId(intent.id)).signal(cancelCheckoutSignal);
        log.info('payer cancelled on the hosted page');
        // The page shows the outcome once the workflow has recorded it (at once, unless it is
        // busy): a few seconds at most, then the page follows by itself.
        for (let i = 0; i < 50; i++) {
          const now = await getPayment(pool, intent.id);
          if (now?.status !== 'action_required') break;
          await new Promise((r) => setTimeout(r, 100));
        }
      } catch (err) {
        log.warn({ err: errorSummary(err) }, 'cancel not delivered');
        return again(t.busy);
      }
      return void res.redirect(303, `/pay/${token}`);
    }

    const nonce =
      typeof body.nonce === 'string' && /^[\w-]{16,64}$/.test(body.nonce) ? body.nonce : undefined;
    if (!nonce) return again(t.busy);
    const chosen = typeof body.network === 'string' ? (await l.offer(body.network))[0] : undefined;
    if (!chosen) return again(t.chooseNetwork);
    const typed = typeof body.phone === 'string' ? body.phone.replace(/[\s.()-]/g, '') : '';
    const plan = NUMBERING_PLANS[chosen.country];
    // A national number is read in the chosen network's country.
    const parsed = parseMsisdn(
      /^\d+$/.test(typed) && typed.length === plan.nationalLength ? `+${plan.callingCode}${typed}` : typed,
    );
    if (!parsed.ok) return again(t.badNumber);
    if (parsed.value.country !== chosen.country) return again(fill(t.wrongCountry, { network: chosen.name }));
    const otp = typeof body.otp === 'string' && body.otp !== '' ? body.otp.trim() : undefined;
    if (otp !== undefined && !/^\d{4,8}$/.test(otp)) {
      return render(req, res.status(400), l, {
        error: t.badOtp,
        otpStep: { network: chosen, phone: parsed.value.e164, nonce },
      });
    }
    if (chosen.otpDial && !otp) {
      return render(req, res, l, { otpStep: { network: chosen, phone: parsed.value.e164, nonce } });
    }

    let routes;
    try {
      routes = await payinRoutesFor(pool, operators, {
        merchantId: intent.merchantId,
        livemode: intent.livemode,
        draft: {
          amount: { amount: intent.amount, currency: intent.currency },
          mode: 'direct',
          network: chosen.network,
          customer: { phone: parsed.value.international },
          otp,
          description: intent.description ?? '',
          returnUrl: pageUrl(token),
          cancelUrl: pageUrl(token),
        },
      });
    } catch (err) {
      if (err instanceof Problem) return again(t.refused);
      throw err;
    }
    const attempt = await recordAttempt(pool, config, intent, {
      formNonce: nonce,
      network: chosen.network,
      phone: parsed.value.e164,
      otp,
      routes,
      pageUrl: pageUrl(token),
    });
    if (!('id' in attempt)) return again(attempt.code === 'too_many_attempts' ? t.tooMany : t.closed);
    const started = await startCheckoutAttempt(temporal, config, intent.id, attempt, routes);
    log.info(
      { attemptId: attempt.id, network: chosen.network, operator: attempt.operator, started },
      'payer chose on the hosted page',
    );
    if (started === 'refused') {
      await dropAttempt(pool, attempt.id);
      return again(t.closed);
    }
    if (started === 'unavailable') return again(t.busy);
    res.redirect(303, `/pay/${token}`);
  });

  /** The card rails configured for this payin's currency whose circuit (route health) is closed. */
  async function cardRailsUp(intent: PaymentRecord): Promise<CardRail[]> {
    const rails = cardRailsFor(config, intent.currency);
    const down = await operatorsDown(pool, rails, intent.livemode);
    return rails.filter((r) => !down.has(r));
  }

  /** The card form: checked, vaulted, recorded as an attempt and started on its rail. */
  async function payByCard(req: Request, res: Response, l: Loaded, body: Record<string, unknown>) {
    const lang = payerLanguage(req.headers['accept-language']);
    const t = TEXT[lang];
    const token = String(req.params.token);
    const intent = l.payment;
    const again = (error: string) => render(req, res.status(400), l, { error });
    const nonce =
      typeof body.nonce === 'string' && /^[\w-]{16,64}$/.test(body.nonce) ? body.nonce : undefined;
    if (!nonce) return again(t.busy);
    const rails = cardRailsFor(config, intent.currency);
    const typed = readCardForm(body);
    if (typed === 'bad_number') return again(t.badCard);
    if (typed === 'bad_expiry') return again(t.badExpiry);
    if (typed === 'bad_cvc') return again(t.badCvc);
    const brand = cardBrand(typed.pan, config.CARD_GIM_BINS);
    // GIM-UEMOA's own cards clear through the switch; Visa and Mastercard through the processor,
    // with 3-D Secure (or through the switch, which clears the region's, when no processor is set).
    const rail =
      brand === 'gim_uemoa'
        ? rails.find((r) => r === 'gim')
        : brand === 'other'
          ? undefined
          : (rails.find((r) => r === 'processor') ?? rails.find((r) => r === 'gim'));
    if (!rail) return again(t.cardNotAccepted);
    // Its rail failing again and again (its circuit open): no card goes to it until it recovers.
    if (!(await cardRailsUp(intent)).includes(rail)) return again(t.cardRailDown);
    if (l.attempts.some(isOpenAttempt)) return again(t.cardOnlyAlone);
    const log = req.log.child({ paymentId: intent.id, workflowId: payinWorkflowId(intent.id) });
    // The same form sent twice finds its attempt: the card is vaulted once.
    const known = await getPayment(pool, derivedId('pay', `attempt:${intent.id}:${nonce}`));
    let processorData: ProcessorAttemptData | undefined;
    if (!known && rail === 'processor') {
      // The security code goes to the processor with the card, once, for its single-use token;
      // we keep neither.
      const tokenised = await processor.tokenise({
        number: typed.pan,
        expiryMonth: typed.expiry.slice(2),
        expiryYear: `20${typed.expiry.slice(0, 2)}`,
        securityCode: typed.cvc,
      });
      if (tokenised.kind === 'unavailable') return again(t.busy);
      if (tokenised.kind === 'refused')
        return again(tokenised.code === 'invalid_card' ? t.badCard : t.cardNotAccepted);
      processorData = {
        processorToken: tokenised.token,
        threeDSServerTransID: randomUUID(),
        browser: {
          acceptHeader: (req.headers.accept ?? '*/*').slice(0, 2048),
          userAgent: (req.headers['user-agent'] ?? 'unknown').slice(0, 2048),
          language: (req.headers['accept-language'] ?? 'fr').split(',')[0]!.trim().slice(0, 8) || 'fr',
          ...(req.ip ? { ip: req.ip } : {}),
        },
      };
    }
    const attempt =
      known ??
      (await recordCardAttempt(pool, config, intent, {
        formNonce: nonce,
        card: { pan: typed.pan, expiry: typed.expiry },
        rail,
        pageUrl: pageUrl(token),
        ...(processorData ? { processor: processorData } : {}),
      }));
    if (!('id' in attempt)) return again(attempt.code === 'too_many_attempts' ? t.cardOnlyAlone : t.closed);
    const started = await startCardAttempt(temporal, config, intent.id, {
      paymentId: attempt.id,
      rail,
      amount: attempt.amount,
      ...(rail === 'processor' ? { challengeSeconds: config.PROCESSOR_CHALLENGE_SECONDS } : {}),
    });
    log.info(
      { attemptId: attempt.id, operator: rail, brand, cardLastFour: typed.pan.slice(-4), started },
      'payer paid by card on the hosted page',
    );
    if (started === 'refused') {
      await dropAttempt(pool, attempt.id);
      return again(t.cardOnlyAlone);
    }
    if (started === 'unavailable') return again(t.busy);
    res.redirect(303, `/pay/${token}`);
  }

  return router;
}

/**
 * What the payer typed in the card form, checked: the number (Luhn), the expiry (this month or
 * later, `YYMM` as the vault keeps it), the security code (3 or 4 digits: the processor's token
 * takes it; GIM-UEMOA's e-commerce profile carries none, docs/gim-uemoa.md; never stored).
 */
export function readCardForm(
  body: Record<string, unknown>,
  now = new Date(),
): { pan: string; expiry: string; cvc: string } | 'bad_number' | 'bad_expiry' | 'bad_cvc' {
  const pan = typeof body.card_number === 'string' ? body.card_number.replace(/[\s-]/g, '') : '';
  if (!/^\d{12,19}$/.test(pan) || !luhnValid(pan)) return 'bad_number';
  const expiry = /^\s*(\d{2})\s*\/?\s*(\d{2})\s*$/.exec(
    typeof body.card_expiry === 'string' ? body.card_expiry : '',
  );
  if (!expiry) return 'bad_expiry';
  const month = Number(expiry[1]);
  const year = 2000 + Number(expiry[2]);
  const thisMonth = now.getUTCFullYear() * 12 + now.getUTCMonth();
  if (month < 1 || month > 12 || year * 12 + month - 1 < thisMonth) return 'bad_expiry';
  if (typeof body.card_cvc !== 'string' || !/^\d{3,4}$/.test(body.card_cvc)) return 'bad_cvc';
  return { pan, expiry: `${expiry[2]}${expiry[1]}`, cvc: body.card_cvc };
}

/** An attempt's failure in the payer's words. */
function failureText(a: PaymentRecord, lang: Lang): string {
  const fr = lang === 'fr';
  switch (a.status) {
    case 'expired':
      return fr ? 'le délai de l’opérateur est dépassé.' : 'the operator’s time ran out.';
    case 'cancelled':
      return fr ? 'le paiement a été annulé.' : 'the payment was cancelled.';
    default:
      return a.failure?.code === 'insufficient_funds'
        ? fr
          ? 'solde insuffisant.'
          : 'insufficient balance.'
        : fr
          ? 'refusé par l’opérateur.'
          : 'declined by the operator.';
  }
}
