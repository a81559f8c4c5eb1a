import { htmlEscape as e, pageStyle } from '../delivery.js';
import type { ProcessorAuthentication } from './processor.js';
import { PROCESSOR_OTP, PROCESSOR_OTP_TRIES, currencyByNumeric } from './scenarios.js';

/**
 * The issuer's ACS pages (docs/card-processor.md, section 3): plain HTML, no external resources,
 * no script but the CRes form's auto-submit. They show the card's brand and last four digits
 * only, never the number.
 */

const style = `${pageStyle}
.amount{white-space:nowrap}label{display:block;margin:.8rem 0 .3rem}input{font-size:1.2rem;padding:.4rem;width:10rem;letter-spacing:.2rem}`;

function page(title: string, body: string, script = ''): string {
  return `<!doctype html><html lang="fr"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>3-D Secure (sandbox) — ${e(title)}</title><style>${style}</style></head><body><div class="card">
<h1>Vérification du paiement <span class="muted">/ Payment verification</span></h1>
${body}
<p class="muted">Sandbox Passerelle — ACS 3-D Secure 2</p></div>${script}</body></html>`;
}

/** Minor units as the payer reads them: "8 000 XOF", "12,50 EUR". */
export function formatAmount(
  purchaseAmount: string,
  purchaseExponent: string,
  purchaseCurrency: string,
): string {
  const exponent = Number(purchaseExponent);
  const digits = purchaseAmount.padStart(exponent + 1, '0');
  const whole = digits.slice(0, digits.length - exponent).replace(/\B(?=(\d{3})+(?!\d))/g, ' ');
  const fraction = exponent > 0 ? `,${digits.slice(-exponent)}` : '';
  const alpha = currencyByNumeric(purchaseCurrency)?.alpha ?? purchaseCurrency;
  return `${whole}${fraction} ${alpha}`;
}

function purchase(auth: ProcessorAuthentication): string {
  const r = auth.request;
  const brand = auth.brand === 'visa' ? 'Visa' : 'Mastercard';
  return `<p id="merchant">Marchand / Merchant : <strong>${e(r.merchantName)}</strong></p>
<p class="amount" id="amount">${e(formatAmount(r.purchaseAmount, r.purchaseExponent, r.purchaseCurrency))}</p>
<p id="card">${brand} •••• ${e(auth.last4)}</p>`;
}

/** The one-time code page; `action` is where its form posts. */
export function challengePage(
  auth: ProcessorAuthentication,
  action: string,
  error?: 'wrong_code' | 'empty_code',
): string {
  const left = PROCESSOR_OTP_TRIES - (auth.challenge?.wrongCodes ?? 0);
  const message =
    error === 'wrong_code'
      ? `Code incorrect. Il vous reste ${left} ${left > 1 ? 'essais' : 'essai'}. / Wrong code.`
      : error === 'empty_code'
        ? 'Saisissez le code reçu. / Enter the code you received.'
        : '';
  return page(
    'Authentification',
    `${purchase(auth)}
<p>Saisissez le code à usage unique envoyé par votre banque. / Enter the one-time code sent by your bank.</p>
${message ? `<p class="error" id="error" role="alert">${e(message)}</p>` : ''}
<form method="post" action="${e(action)}" enctype="application/x-www-form-urlencoded">
<label for="otp">Code</label>
<input id="otp" name="otp" type="text" inputmode="numeric" autocomplete="one-time-code" maxlength="8" autofocus>
<p><button class="pay" type="submit" name="action" value="submit">Valider</button>
<button type="submit" name="action" value="cancel">Annuler</button></p>
</form>
<p class="muted" id="hint">Code de test : ${PROCESSOR_OTP}</p>`,
  );
}

/** The end of the challenge: a form that takes the CRes to the 3DS Requestor's notificationURL. */
export function cresPage(auth: ProcessorAuthentication): string {
  const sessionData = auth.challenge?.threeDSSessionData;
  const outcome =
    auth.transStatus === 'Y'
      ? 'Authentification réussie. / Authentication successful.'
      : auth.challengeCancel === '01'
        ? 'Authentification annulée. / Authentication cancelled.'
        : 'Authentification refusée. / Authentication failed.';
  return page(
    'Retour au marchand',
    `${purchase(auth)}
<p id="status">${e(outcome)}</p>
<form id="cres-form" method="post" action="${e(auth.request.notificationURL)}" enctype="application/x-www-form-urlencoded">
<input type="hidden" name="cres" value="${e(auth.challenge?.cres ?? '')}">
${sessionData !== undefined ? `<input type="hidden" name="threeDSSessionData" value="${e(sessionData)}">` : ''}
<noscript><p><button class="pay" type="submit">Continuer</button></p></noscript>
</form>`,
    `<script>document.getElementById('cres-form').submit();</script>`,
  );
}

/** A CReq the ACS cannot take (HTTP 400). */
export function invalidCreqPage(reason: string): string {
  return page(
    'Requête invalide',
    `<p class="error" id="error">Requête d'authentification invalide. / Invalid challenge request.</p><p class="muted">${e(reason)}</p>`,
  );
}

/** The code form of a challenge the ACS does not know, or whose CReq never came (HTTP 404). */
export function unknownChallengePage(): string {
  return page(
    'Introuvable',
    `<p class="error" id="error">Authentification introuvable. / Unknown authentication.</p>`,
  );
}
