import { randomBytes } from 'node:crypto';
import { feeFor } from '../db/fees.js';
import {
  applyTransition,
  getPayment,
  insertPayment,
  listAttemptsOf,
  lockPayment,
  storePayinOtp,
  type NewPayment,
  type PaymentRecord,
} from '../db/payments.js';
import { inTransaction, type Pool, type PoolClient, type Queryable } from '../db/pool.js';
import { countOpenAttempts, findCheckoutSession, openCheckoutSession } from '../db/checkout.js';
import { insertCardPayinRows } from '../db/card-authorisations.js';
import { vaultCard } from '../db/card-vault.js';
import type { CardSecret } from '../lib/card-vault.js';
import { insertProcessorCardPayinRows, type PayerBrowser } from '../db/card-processor.js';
import { derivedId } from '../lib/ids.js';
import type { CurrencyCode } from '../lib/money.js';
import { NETWORKS, OTP_DIAL_CODES, type CountryCode, type Network } from '../lib/networks.js';
import { operatorTiming, type OperatorName } from '../lib/operators.js';
import { paymentDeadline, payinWorkflowId } from '../lib/payment-workflows.js';
import type { PaymentFailure } from '../lib/payments.js';
import { cardVaultRing, type Config } from '../lib/config.js';
import { isProcessorCurrency, type OperatorRules } from '../operators/registry.js';
import { MAX_OPEN_ATTEMPTS } from '../workflows/hosted-payin.js';
import { Problem } from './problems.js';
import { payinRoutesFor } from './routing.js';
import { paymentView } from './views.js';

/**
 * Hosted payins (docs/checkout.md): the merchant's payin, paid on our page, and its attempts.
 * The payin itself names no operator: this word stands in its `operator` column, which no
 * settlement run, sweep or circuit ever reads.
 */
export const HOSTED_OPERATOR = 'checkout';

/** The page's address: a random token, never the payment id. */
export function checkoutPageUrl(publicBaseUrl: string, token: string): string {
  return new URL(`/pay/${token}`, publicBaseUrl).toString();
}

export interface OfferedNetwork {
  network: Network;
  name: string;
  country: CountryCode;
  /** The USSD string the payer dials for the one-time code, amount filled in (OTP networks). */
  otpDial?: string;
  routes: OperatorName[];
}

/** What a payer still has to give does not rule a network out when the page offers it. */
const GIVEN_ON_THE_PAGE = new Set(['phone_required', 'otp_required']);

/**
 * The networks the page offers for an amount: those the routing tables (and the merchant's routes)
 * serve with some operator that takes this amount and currency, in the payer's country if known.
 */
export async function offeredNetworks(
  pool: Pool,
  operators: OperatorRules,
  q: {
    merchantId: string;
    livemode: boolean;
    amount: number;
    currency: CurrencyCode;
    country?: CountryCode;
    /** Only this network, if offered (a payer's form names it). */
    only?: string;
  },
): Promise<OfferedNetwork[]> {
  const offer: OfferedNetwork[] = [];
  const lenient: OperatorRules = {
    ...operators,
    validatePayin: (op, draft) => {
      const refusal = operators.validatePayin(op, draft);
      return refusal && GIVEN_ON_THE_PAGE.has(refusal.code) ? undefined : refusal;
    },
  };
  for (const network of Object.keys(NETWORKS) as Network[]) {
    const { country, name } = NETWORKS[network];
    if ((q.country && country !== q.country) || (q.only !== undefined && network !== q.only)) continue;
    try {
      const routes = await payinRoutesFor(pool, lenient, {
        merchantId: q.merchantId,
        livemode: q.livemode,
        draft: {
          amount: { amount: q.amount, currency: q.currency },
          mode: 'direct',
          network,
          customer: {},
          description: '',
        },
      });
      const dial = OTP_DIAL_CODES[network];
      offer.push({ network, name, country, routes, ...(dial ? { otpDial: dial(q.amount) } : {}) });
    } catch (err) {
      if (!(err instanceof Problem)) throw err;
    }
  }
  return offer;
}

/** Creates the hosted payin's row, its page token and its first transition (the page is its next action). */
export async function recordHostedPayin(
  pool: Pool,
  config: Config,
  p: {
    id: string;
    merchantId: string;
    livemode: boolean;
    amount: number;
    currency: CurrencyCode;
    network?: Network;
    customer: NewPayment['customer'];
    country?: CountryCode;
    description?: string;
    returnUrl?: string;
    cancelUrl?: string;
    metadata: Record<string, string>;
    expiresInSeconds?: number;
    paymentLinkId?: string;
  },
  /** Runs first in the payin's transaction (a payment link takes its place there); throws to record nothing. */
  reserve?: (client: PoolClient) => Promise<void>,
): Promise<PaymentRecord> {
  const seconds = p.expiresInSeconds ?? config.HOSTED_CHECKOUT_SECONDS;
  const token = await inTransaction(pool, async (client) => {
    if (reserve) await reserve(client);
    await insertPayment(
      client,
      {
        id: p.id,
        merchantId: p.merchantId,
        livemode: p.livemode,
        kind: 'payin',
        amount: p.amount,
        currency: p.currency,
        operator: HOSTED_OPERATOR,
        network: p.network,
        mode: 'hosted',
        customer: p.customer,
        description: p.description,
        returnUrl: p.returnUrl,
        cancelUrl: p.cancelUrl,
        metadata: p.metadata,
        deadlineAt: new Date(Date.now() + seconds * 1000),
        workflowId: payinWorkflowId(p.id),
        paymentLinkId: p.paymentLinkId,
      },
      cardVaultRing(config),
    );
    // 192 bits from the system's generator, base64url: unguessable, and safe in a path.
    return openCheckoutSession(client, {
      token: randomBytes(24).toString('base64url'),
      paymentId: p.id,
      country: p.country,
    });
  });
  const opened = await applyTransition(pool, {
    paymentId: p.id,
    step: 'checkout:open',
    to: 'action_required',
    actor: 'api',
    reason: 'waiting for the payer on the hosted page',
    nextAction: { type: 'redirect', url: checkoutPageUrl(config.PUBLIC_BASE_URL, token) },
  });
  return opened.payment;
}

/** The hosted payin a page token opens, if any, and the payer's country if the merchant gave it. */
export async function hostedPayinByToken(
  db: Queryable,
  token: string,
): Promise<{ payment: PaymentRecord; country?: CountryCode } | undefined> {
  if (!/^[\w-]{32,64}$/.test(token)) return undefined;
  const session = await findCheckoutSession(db, token);
  const payment = session && (await getPayment(db, session.paymentId));
  return payment && { payment, ...(session.country ? { country: session.country } : {}) };
}

const OPEN = new Set(['created', 'pending', 'action_required']);
export const isOpenAttempt = (a: PaymentRecord) => OPEN.has(a.status);

/** A payin as the merchant sees it; a hosted one with its attempts. */
export async function payinView(db: Queryable, p: PaymentRecord) {
  const view = { ...paymentView(p), ...(p.attemptOf ? { attempt_of: p.attemptOf } : {}) };
  if (p.mode !== 'hosted') return view;
  const attempts = await listAttemptsOf(db, p.id);
  return {
    ...view,
    attempts: attempts.map((a) => ({
      id: a.id,
      status: a.status,
      operator: a.operator,
      network: a.network,
      operator_reference: a.operatorReference,
      failure: a.failure,
      created_at: a.createdAt.toISOString(),
    })),
  };
}

export type AttemptRefusal = PaymentFailure & { code: 'checkout_closed' | 'too_many_attempts' };

/**
 * Records an attempt: a direct payin of the whole amount, to the chosen network and number, that
 * comes back to the page. Its id derives from the page's form (`formNonce`): a second submission of
 * one form finds the same attempt. Under a lock on the hosted payin, so that attempts never
 * outnumber MAX_OPEN_ATTEMPTS nor start once it has ended.
 */
export async function recordAttempt(
  pool: Pool,
  config: Config,
  intent: PaymentRecord,
  a: {
    formNonce: string;
    network: Network;
    phone: string;
    otp?: string;
    routes: OperatorName[];
    pageUrl: string;
  },
): Promise<PaymentRecord | AttemptRefusal> {
  const id = derivedId('pay', `attempt:${intent.id}:${a.formNonce}`);
  const operator = a.routes[0]!;
  const fee = await feeFor(pool, {
    merchantId: intent.merchantId,
    operator,
    kind: 'payin',
    currency: intent.currency,
    amount: intent.amount,
  });
  return inTransaction(pool, async (client) => {
    const settled = await attemptAllowed(client, intent.id, id, MAX_OPEN_ATTEMPTS);
    if (settled) return settled;
    const timing = operatorTiming(config, operator, 'direct');
    const attempt = (await insertPayment(
      client,
      {
        id,
        merchantId: intent.merchantId,
        livemode: intent.livemode,
        kind: 'payin',
        amount: intent.amount,
        currency: intent.currency,
        feeAmount: fee,
        operator,
        network: a.network,
        mode: 'direct',
        customer: { ...intent.customer, phone: a.phone },
        description: intent.description ?? undefined,
        returnUrl: a.pageUrl,
        cancelUrl: a.pageUrl,
        metadata: intent.metadata,
        deadlineAt: paymentDeadline(timing, 'payin'),
        workflowId: payinWorkflowId(id),
        attemptOf: intent.id,
      },
      cardVaultRing(config),
    ))!;
    if (a.otp) await storePayinOtp(client, cardVaultRing(config), id, a.otp);
    return attempt;
  });
}

/**
 * Under a lock on the hosted payin: the attempt already recorded (the same form sent again), a
 * refusal (the payin ended, or `openAtMost` attempts already in flight), or undefined to record it.
 */
async function attemptAllowed(
  client: PoolClient,
  intentId: string,
  attemptId: string,
  openAtMost: number,
): Promise<PaymentRecord | AttemptRefusal | undefined> {
  const locked = (await lockPayment(client, intentId))!;
  const existing = await getPayment(client, attemptId);
  if (existing) return existing;
  if (locked.status !== 'action_required' || (locked.deadlineAt && locked.deadlineAt <= new Date())) {
    return { code: 'checkout_closed', message: 'This payment takes no more attempts' };
  }
  if ((await countOpenAttempts(client, intentId)) >= openAtMost) {
    return { code: 'too_many_attempts', message: 'Too many attempts are in progress' };
  }
  return undefined;
}

/** An attempt its hosted payin would not take (ended meanwhile): it never reached an operator. */
export async function dropAttempt(pool: Pool, attemptId: string): Promise<void> {
  await applyTransition(pool, {
    paymentId: attemptId,
    step: 'checkout:refused',
    to: 'cancelled',
    actor: 'api',
    reason: 'the hosted payin took no more attempts',
  });
}

/** The card rails a hosted payin can offer, by what is configured and the payin's currency. */
export function cardRailsFor(config: Config, currency: CurrencyCode): CardRail[] {
  const rails: CardRail[] = [];
  // GIM-UEMOA clears the UEMOA's cards in its own currency only (docs/gim-uemoa.md, field 49).
  if (config.GIM_HOST && currency === 'XOF') rails.push('gim');
  // Visa and Mastercard, with 3-D Secure, through the card processor (docs/card-processor.md).
  if (config.PROCESSOR_ENABLED && isProcessorCurrency(currency)) rails.push('processor');
  return rails;
}

export type CardRail = 'gim' | 'processor';

/** What the processor's rail needs beyond the vaulted card: its token, our 3-D Secure id, the browser. */
export interface ProcessorAttemptData {
  processorToken: string;
  threeDSServerTransID: string;
  browser: PayerBrowser;
}

/**
 * Records a card attempt: a card payin of the whole amount on one rail, from a card already in
 * the vault. Its id derives from the page's form, as recordAttempt's does; under the same lock, a
 * card attempt starts only when no other attempt is in flight.
 */
export async function recordCardAttempt(
  pool: Pool,
  config: Config,
  intent: PaymentRecord,
  a: {
    formNonce: string;
    /** The card as typed: vaulted in the attempt's own transaction, so a refused attempt keeps nothing. */
    card: CardSecret;
    rail: CardRail;
    pageUrl: string;
    processor?: ProcessorAttemptData;
  },
): Promise<PaymentRecord | AttemptRefusal> {
  const id = derivedId('pay', `attempt:${intent.id}:${a.formNonce}`);
  const fee = await feeFor(pool, {
    merchantId: intent.merchantId,
    operator: a.rail,
    kind: 'payin',
    currency: intent.currency,
    amount: intent.amount,
  });
  return inTransaction(pool, async (client) => {
    // A card attempt runs alone.
    const settled = await attemptAllowed(client, intent.id, id, 1);
    if (settled) return settled;
    const card = await vaultCard(client, cardVaultRing(config), a.card, config.CARD_GIM_BINS);
    const deadlineAt = new Date(Date.now() + 15 * 60_000);
    if (a.rail === 'processor') {
      if (!a.processor) throw new Error('a processor attempt needs its token and 3-D Secure id');
      return insertProcessorCardPayinRows(client, {
        id,
        merchantId: intent.merchantId,
        livemode: intent.livemode,
        amount: intent.amount,
        currency: intent.currency,
        card,
        ...a.processor,
        description: intent.description ?? undefined,
        deadlineAt,
        feeAmount: fee,
        attemptOf: intent.id,
        returnUrl: a.pageUrl,
      });
    }
    const { payment } = await insertCardPayinRows(client, {
      id,
      merchantId: intent.merchantId,
      livemode: intent.livemode,
      amount: intent.amount,
      currency: intent.currency,
      card,
      description: intent.description ?? undefined,
      // A card answers in seconds (a challenge in minutes); the hosted payin's deadline bounds the page.
      deadlineAt,
      acquirer: config.GIM_ACQUIRER_ID,
      feeAmount: fee,
      attemptOf: intent.id,
      returnUrl: a.pageUrl,
    });
    return payment;
  });
}
