import { randomBytes, randomInt } from 'node:crypto';
import type { Logger } from 'pino';
import { z } from 'zod';
import type { SandboxConfig } from '../config.js';
import { deliver, later, type CallbackDelivery } from '../delivery.js';
import { orangeScenario, type OrangeKind, type OrangeScenario } from './scenarios.js';

/**
 * Orange Money WebPay's side: OAuth tokens, webpayments (INITIATED → PENDING → SUCCESS, FAILED
 * or EXPIRED), cash-ins and refunds (our reading: PENDING → SUCCESS or FAILED), the merchant's
 * balance per country, and the JSON notification POSTed to each transaction's notif_url.
 */

/** The countries of the path `/orange-money-webpay/{cc}/v1/…` and the one currency each accepts. */
export const ORANGE_COUNTRIES = {
  dev: 'OUV',
  ci: 'XOF',
  sn: 'XOF',
  ml: 'XOF',
  cm: 'XAF',
  gn: 'GNF',
} as const;
export type OrangeCountry = keyof typeof ORANGE_COUNTRIES;

/** International dialling prefix a cash-in's msisdn must start with (`dev` takes any number). */
export const ORANGE_DIAL_CODES: Record<OrangeCountry, string> = {
  dev: '',
  ci: '225',
  sn: '221',
  ml: '223',
  cm: '237',
  gn: '224',
};

export function isOrangeCountry(cc: string | undefined): cc is OrangeCountry {
  return cc !== undefined && Object.hasOwn(ORANGE_COUNTRIES, cc);
}

const orangeEnv = z.object({
  SANDBOX_ORANGE_CLIENT_ID: z.string().min(1).default('sandbox-orange-client-id'),
  SANDBOX_ORANGE_CLIENT_SECRET: z.string().min(1).default('sandbox-orange-client-secret'),
  SANDBOX_ORANGE_MERCHANT_KEY: z.string().min(1).default('sandbox-orange-merchant-key'),
  SANDBOX_ORANGE_TOKEN_TTL_SECONDS: z.coerce.number().int().positive().default(7_776_000),
  /** How long a webpayment can be paid; then it is EXPIRED. */
  SANDBOX_ORANGE_SESSION_SECONDS: z.coerce.number().positive().default(600),
  /** The merchant's float in each country when the sandbox starts (whole units): cash-ins and refunds draw on it. */
  SANDBOX_ORANGE_BALANCE: z.coerce.number().int().min(0).default(100_000_000),
});
export type OrangeSettings = z.infer<typeof orangeEnv>;

export function orangeSettings(env: Record<string, string>): OrangeSettings {
  const parsed = orangeEnv.safeParse(env);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  - ${i.path.join('.')}: ${i.message}`);
    throw new Error(`Invalid Orange sandbox configuration:\n${lines.join('\n')}`);
  }
  return parsed.data;
}

export type OrangeStatus = 'INITIATED' | 'PENDING' | 'EXPIRED' | 'SUCCESS' | 'FAILED';

export interface OrangeTransaction {
  orderId: string;
  payToken: string;
  notifToken: string;
  kind: OrangeKind;
  country: OrangeCountry;
  currency: string;
  amount: number;
  status: OrangeStatus;
  /** Orange's transaction id: a webpayment gets one when paid, a cash-in or refund when accepted. */
  txnid: string | null;
  /** The payer (webpayment, as typed on the page) or the recipient (cash-in, refund). */
  msisdn?: string;
  /** A refund: the order_id of the webpayment it refunds. */
  refundOf?: string;
  /** Webpayment: the merchant's name shown on the page; cash-in: its reference; refund: its reason. */
  reference: string;
  lang?: 'fr' | 'en';
  notifUrl: string;
  returnUrl: string | null;
  cancelUrl: string | null;
  createdAt: string;
  /** When an unpaid webpayment becomes EXPIRED (null: cash-ins and refunds). */
  deadline: string | null;
  scenario: OrangeScenario | null;
  callbacks: CallbackDelivery[];
}

const OPEN: readonly OrangeStatus[] = ['INITIATED', 'PENDING'];

function random(alphabet: string, n: number): string {
  let out = '';
  for (let i = 0; i < n; i++) out += alphabet[randomInt(0, alphabet.length)]!;
  return out;
}

/** `MP` + yymmdd.hhmm + a letter and five digits, as Orange's ids read (e.g. MP250314.1502.A12345). */
function newTxnid(): string {
  const iso = new Date().toISOString();
  const date = `${iso.slice(2, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)}.${iso.slice(11, 13)}${iso.slice(14, 16)}`;
  return `MP${date}.${random('ABCDEFGHIJKLMNOPQRSTUVWXYZ', 1)}${random('0123456789', 5)}`;
}

export class OrangeSandbox {
  /** Every transaction, by pay_token. */
  readonly transactions = new Map<string, OrangeTransaction>();
  /** The merchant's float per country (one account per country, in its currency). */
  readonly balances: Record<OrangeCountry, number>;
  readonly settings: OrangeSettings;
  /** Bearer tokens issued, with when each expires (ms since the epoch). */
  private readonly tokens = new Map<string, number>();
  /** Calls to the token endpoint (tests check the token is cached). */
  tokenCalls = 0;
  /** Calls to the balance endpoint. */
  balanceCalls = 0;
  /** When true, every API route answers 503. */
  down = false;

  constructor(
    readonly config: SandboxConfig,
    private readonly logger: Logger,
  ) {
    this.settings = orangeSettings(config.env);
    const b = this.settings.SANDBOX_ORANGE_BALANCE;
    this.balances = { dev: b, ci: b, sn: b, ml: b, cm: b, gn: b };
  }

  // ------------------------------------------------------------------ OAuth

  /** `Authorization: Basic base64(client_id:client_secret)`: is it ours? */
  clientValid(authorization: string | undefined): boolean {
    const m = /^Basic\s+(\S+)$/i.exec(authorization ?? '');
    if (!m) return false;
    const decoded = Buffer.from(m[1]!, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) return false;
    return (
      decoded.slice(0, colon) === this.settings.SANDBOX_ORANGE_CLIENT_ID &&
      decoded.slice(colon + 1) === this.settings.SANDBOX_ORANGE_CLIENT_SECRET
    );
  }

  issueToken(): { token_type: 'Bearer'; access_token: string; expires_in: number } {
    const ttl = this.settings.SANDBOX_ORANGE_TOKEN_TTL_SECONDS;
    const token = randomBytes(24).toString('base64url');
    this.tokens.set(token, Date.now() + ttl * 1000);
    return { token_type: 'Bearer', access_token: token, expires_in: ttl };
  }

  tokenValid(authorization: string | undefined): boolean {
    const m = /^Bearer\s+(\S+)$/i.exec(authorization ?? '');
    const expires = m ? this.tokens.get(m[1]!) : undefined;
    return expires !== undefined && expires > Date.now();
  }

  revokeTokens(): void {
    this.tokens.clear();
  }

  // ------------------------------------------------------------------ lookups

  byOrderId(orderId: string): OrangeTransaction | undefined {
    for (const tx of this.transactions.values()) if (tx.orderId === orderId) return this.refresh(tx);
    return undefined;
  }

  byPayToken(payToken: string): OrangeTransaction | undefined {
    const tx = this.transactions.get(payToken);
    return tx && this.refresh(tx);
  }

  all(): OrangeTransaction[] {
    return [...this.transactions.values()].map((t) => this.refresh(t));
  }

  /** An unpaid webpayment past its deadline is EXPIRED (scenario 5009 never expires). */
  refresh(tx: OrangeTransaction): OrangeTransaction {
    if (
      tx.kind === 'webpayment' &&
      OPEN.includes(tx.status) &&
      tx.scenario !== 5009 &&
      tx.deadline !== null &&
      Date.parse(tx.deadline) <= Date.now()
    ) {
      tx.status = 'EXPIRED';
      this.logger.info({ orderId: tx.orderId }, 'orange sandbox webpayment expired');
    }
    return tx;
  }

  /** What is left to refund of a paid webpayment: its amount less every refund not FAILED. */
  refundable(original: OrangeTransaction): number {
    let refunded = 0;
    for (const t of this.transactions.values())
      if (t.kind === 'refund' && t.refundOf === original.orderId && t.status !== 'FAILED')
        refunded += t.amount;
    return original.amount - refunded;
  }

  // ------------------------------------------------------------------ webpayment

  createWebpayment(w: {
    country: OrangeCountry;
    orderId: string;
    amount: number;
    reference: string;
    lang: 'fr' | 'en';
    notifUrl: string;
    returnUrl: string;
    cancelUrl: string;
  }): OrangeTransaction {
    const sessionMs = this.settings.SANDBOX_ORANGE_SESSION_SECONDS * 1000;
    const tx = this.record({
      kind: 'webpayment',
      country: w.country,
      orderId: w.orderId,
      amount: w.amount,
      reference: w.reference,
      lang: w.lang,
      notifUrl: w.notifUrl,
      returnUrl: w.returnUrl,
      cancelUrl: w.cancelUrl,
      deadline: new Date(Date.now() + sessionMs).toISOString(),
    });
    // Timers beyond 2^31-1 ms fire at once: long sessions rely on the lazy check in refresh().
    if (sessionMs < 2 ** 31 - 1) later(sessionMs, () => this.refresh(tx));
    return tx;
  }

  /** The payer opens the payment page. */
  open(tx: OrangeTransaction): void {
    if (this.refresh(tx).status === 'INITIATED') tx.status = 'PENDING';
  }

  /**
   * The payer confirms on the page (number and one-time code): the amount decides. Once set,
   * `msisdn` tells that the payer has confirmed (a control-route payment without one takes a
   * sandbox number of the country).
   */
  pay(tx: OrangeTransaction, msisdn?: string): void {
    this.refresh(tx);
    if (tx.kind !== 'webpayment' || !OPEN.includes(tx.status)) return;
    tx.msisdn = msisdn || tx.msisdn || `${ORANGE_DIAL_CODES[tx.country] || '225'}0700000001`;
    tx.status = 'PENDING';
    switch (tx.scenario) {
      case 5001:
      case 5002:
        return this.fail(tx);
      case 5009:
        return;
      case 5010:
        tx.status = 'EXPIRED';
        return;
      default:
        return this.succeed(tx);
    }
  }

  /** The payer presses "Annuler" (or a test cancels a cash-in or refund that is still open). */
  cancel(tx: OrangeTransaction): void {
    if (OPEN.includes(this.refresh(tx).status)) this.fail(tx);
  }

  expire(tx: OrangeTransaction): void {
    if (tx.kind === 'webpayment' && OPEN.includes(tx.status)) {
      tx.status = 'EXPIRED';
      tx.deadline = new Date().toISOString();
    }
  }

  /** Control route: the transaction succeeds whatever its scenario (e.g. one left PENDING). */
  complete(tx: OrangeTransaction): void {
    if (!OPEN.includes(this.refresh(tx).status)) return;
    if (tx.kind === 'webpayment') this.succeed(tx);
    else this.execute(tx);
  }

  // ------------------------------------------------------------------ cash-in and refund

  /** A cash-in or refund accepted (PENDING, with its txnid), then run per scenario. */
  createPayout(p: {
    kind: 'cashin' | 'refund';
    country: OrangeCountry;
    orderId: string;
    amount: number;
    msisdn?: string;
    refundOf?: string;
    reference: string;
    notifUrl: string;
  }): OrangeTransaction {
    const tx = this.record({ ...p, returnUrl: null, cancelUrl: null, deadline: null });
    tx.status = 'PENDING';
    tx.txnid = newTxnid();
    switch (tx.scenario) {
      case 5102:
      case 5103:
        this.execute(tx);
        break;
      case 5105:
        break;
      case 5101:
        later(this.config.SANDBOX_PROCESSING_DELAY_MS, () => this.fail(tx));
        break;
      default:
        later(this.config.SANDBOX_PROCESSING_DELAY_MS, () => this.execute(tx));
    }
    return tx;
  }

  private execute(tx: OrangeTransaction): void {
    if (tx.status !== 'PENDING') return;
    if (this.balances[tx.country] < tx.amount) return this.fail(tx);
    this.balances[tx.country] -= tx.amount;
    tx.status = 'SUCCESS';
    this.logger.info({ kind: tx.kind, amount: tx.amount }, 'orange sandbox payout executed');
    this.notify(tx);
  }

  // ------------------------------------------------------------------ endings

  private succeed(tx: OrangeTransaction): void {
    tx.status = 'SUCCESS';
    tx.txnid ??= newTxnid();
    this.balances[tx.country] += tx.amount;
    this.logger.info({ amount: tx.amount, scenario: tx.scenario }, 'orange sandbox webpayment paid');
    this.notify(tx);
  }

  private fail(tx: OrangeTransaction): void {
    if (!OPEN.includes(tx.status)) return;
    tx.status = 'FAILED';
    this.logger.info({ kind: tx.kind, scenario: tx.scenario }, 'orange sandbox transaction failed');
    this.notify(tx);
  }

  /** `{status, notif_token, txnid}` POSTed as JSON to the notif_url exactly as given. */
  private notify(tx: OrangeTransaction): void {
    if (tx.scenario === 5003) return;
    const body = JSON.stringify({
      status: tx.status,
      notif_token: tx.notifToken,
      ...(tx.txnid ? { txnid: tx.txnid } : {}),
    });
    const send = async () => {
      for (let i = 0; i < (tx.scenario === 5005 ? 3 : 1); i++) {
        await deliver(
          tx.notifUrl,
          {
            method: 'POST',
            contentType: 'application/json',
            body,
            userAgent: 'OrangeMoney-WebPay-Sandbox/1.0',
          },
          tx.callbacks,
          this.config.SANDBOX_CALLBACK_RETRIES,
        );
      }
    };
    if (tx.scenario === 5004) later(this.config.SANDBOX_LATE_CALLBACK_MS, () => void send());
    else void send();
  }

  private record(
    t: Pick<
      OrangeTransaction,
      | 'kind'
      | 'country'
      | 'orderId'
      | 'amount'
      | 'reference'
      | 'notifUrl'
      | 'returnUrl'
      | 'cancelUrl'
      | 'deadline'
      | 'msisdn'
      | 'refundOf'
      | 'lang'
    >,
  ): OrangeTransaction {
    const tx: OrangeTransaction = {
      ...t,
      payToken: `v1${randomBytes(20).toString('hex')}`,
      notifToken: randomBytes(16).toString('hex'),
      currency: ORANGE_COUNTRIES[t.country],
      status: 'INITIATED',
      txnid: null,
      createdAt: new Date().toISOString(),
      scenario: orangeScenario(t.kind, t.amount) ?? null,
      callbacks: [],
    };
    this.transactions.set(tx.payToken, tx);
    return tx;
  }
}
