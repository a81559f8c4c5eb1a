import { randomBytes, randomInt } from 'node:crypto';
import type { Logger } from 'pino';
import type { SandboxConfig } from '../config.js';
import { deliver, later, type CallbackDelivery } from '../delivery.js';
import {
  tmoneyPayinScenario,
  tmoneyPayoutScenario,
  type TmoneyPayinScenario,
  type TmoneyPayoutScenario,
} from './scenarios.js';

/**
 * TMoney's side, with its own state machines: online payment sessions (session id, order form,
 * phone + PIN with three tries, SMS code, confirmation, notification by GET to the configured URL)
 * and MBANKING transactions (token, debit by push USSD, credit, check-transaction).
 */

export interface OnlineOrder {
  amount: number;
  currency: string;
  purchaseref: string;
  phone?: string;
  brand: string;
  description?: string;
  /** Shown at the top of the page. */
  text?: string;
  /** The page's language: fr or en. */
  language?: 'fr' | 'en';
  accepturl?: string;
  declineurl?: string;
  cancelurl?: string;
}

export type OnlineOutcome = 'OK' | 'CANCEL' | 'AUTHENTICATION' | 'PAYMENT_FAILED' | 'EXPIRED_SESSION';

export interface OnlineSession {
  id: string;
  createdAt: number;
  expiresAt: number;
  order?: OnlineOrder;
  scenario: TmoneyPayinScenario;
  status: 'open' | 'paid' | 'refused';
  outcome?: OnlineOutcome;
  pinTries: number;
  smsCode?: string;
  payerPhone?: string;
  payid: string;
  paymentref: string;
  notifications: CallbackDelivery[];
}

export interface MbankingTransaction {
  refTmoney: string;
  kind: 'debit' | 'credit';
  refCommande: string;
  idrequete: string;
  numeroClient: string;
  montant: number;
  statut: 'EN_ATTENTE' | 'SUCCES' | 'ECHEC' | 'ANNULE' | 'EXPIRE';
  /** Did money move (credited to the recipient, or debited from the payer)? */
  executed: boolean;
  scenario: TmoneyPayinScenario | TmoneyPayoutScenario;
  createdAt: string;
  /** Which MBANKING version registered it (credits: v1 or v2). */
  version?: 'v1' | 'v2';
}

function digits(n: number): string {
  let out = '';
  for (let i = 0; i < n; i++) out += String(randomInt(0, 10));
  return out;
}

export class TmoneySandbox {
  readonly sessions = new Map<string, OnlineSession>();
  readonly transactions = new Map<string, MbankingTransaction>();
  private readonly tokens = new Map<string, number>();
  /** Tokens issued so far (tests check that one is reused, then renewed). */
  tokensIssued = 0;
  /** When true, TMoney refuses everything as if it were down. */
  down = false;
  /** Session requests still to answer HTTP 500 (control route `_sandbox/session-failures`). */
  sessionFailures = 0;
  /** Our partner account, which credits draw on. */
  partnerBalance = 100_000_000;
  /** Credits refused so far per number (numbers ending 000031 fail their first two credits). */
  private readonly creditFailures = new Map<string, number>();

  constructor(
    readonly config: SandboxConfig,
    private readonly logger: Logger,
  ) {}

  // ------------------------------------------------------------------ online payment

  openSession(): OnlineSession {
    const now = Date.now();
    const session: OnlineSession = {
      id: digits(32),
      createdAt: now,
      expiresAt: now + this.config.SANDBOX_TMONEY_SESSION_SECONDS * 1000,
      scenario: 'pays',
      status: 'open',
      pinTries: 0,
      payid: digits(10),
      paymentref: `TM${digits(12)}`,
      notifications: [],
    };
    this.sessions.set(session.id, session);
    // A session whose payer started but never finished ends EXPIRED_SESSION; one never started sends nothing.
    later(this.config.SANDBOX_TMONEY_SESSION_SECONDS * 1000, () => {
      if (session.status === 'open' && session.order && session.scenario !== 'never')
        this.finish(session, 'EXPIRED_SESSION');
    });
    return session;
  }

  liveSession(id: string): OnlineSession | undefined {
    const s = this.sessions.get(id);
    return s && s.status === 'open' && s.expiresAt > Date.now() ? s : undefined;
  }

  startOrder(session: OnlineSession, order: OnlineOrder): void {
    session.order = order;
    session.scenario = tmoneyPayinScenario(order.amount);
  }

  findByPurchaseref(purchaseref: string): OnlineSession[] {
    return [...this.sessions.values()].filter((s) => s.order?.purchaseref === purchaseref);
  }

  /** Phone and PIN: three tries, then the account is blocked (AUTHENTICATION). */
  checkPin(session: OnlineSession, phone: string, pin: string): 'ok' | 'retry' | 'blocked' {
    if (
      pin === this.config.SANDBOX_TMONEY_PIN &&
      (!session.order?.phone || session.order.phone.replace(/\D/g, '').endsWith(phone.replace(/\D/g, '')))
    ) {
      session.payerPhone = phone.replace(/\D/g, '');
      session.smsCode = digits(6);
      return 'ok';
    }
    session.pinTries++;
    if (session.pinTries >= 3) {
      this.finish(session, 'AUTHENTICATION');
      return 'blocked';
    }
    return 'retry';
  }

  /** The SMS code entered: a wrong one cancels (document); a right one runs the payment per scenario. */
  submitSmsCode(session: OnlineSession, code: string): OnlineOutcome | 'pending' {
    if (code !== session.smsCode) {
      this.finish(session, 'CANCEL');
      return 'CANCEL';
    }
    return this.pay(session);
  }

  /** The payer has authenticated: the scenario decides the outcome. */
  pay(session: OnlineSession, payerPhone?: string): OnlineOutcome | 'pending' {
    if (payerPhone) session.payerPhone = payerPhone.replace(/\D/g, '');
    session.payerPhone ??= session.order?.phone?.replace(/\D/g, '') || '22890000001';
    switch (session.scenario) {
      case 'payment_failed':
        this.finish(session, 'PAYMENT_FAILED');
        return 'PAYMENT_FAILED';
      case 'cancels':
        this.finish(session, 'CANCEL');
        return 'CANCEL';
      case 'authentication':
        this.finish(session, 'AUTHENTICATION');
        return 'AUTHENTICATION';
      case 'session_expires':
      case 'never':
        return 'pending';
      default:
        this.finish(session, 'OK');
        return 'OK';
    }
  }

  cancel(session: OnlineSession): void {
    this.finish(session, 'CANCEL');
  }

  expire(session: OnlineSession): void {
    session.expiresAt = Date.now();
    if (session.status === 'open' && session.order) this.finish(session, 'EXPIRED_SESSION');
  }

  private finish(session: OnlineSession, outcome: OnlineOutcome): void {
    if (session.status !== 'open' || !session.order) return;
    session.status = outcome === 'OK' ? 'paid' : 'refused';
    session.outcome = outcome;
    this.logger.info({ scenario: session.scenario, outcome }, 'tmoney sandbox online payment ended');
    const order = session.order;
    const paidAmount = session.scenario === 'wrong_amount' ? order.amount - 1 : order.amount;
    const query = new URLSearchParams({
      purchaseref: order.purchaseref,
      amount: String(paidAmount),
      currency: order.currency,
      status: outcome === 'OK' ? 'OK' : 'NOK',
      clientid: session.payerPhone ? `C${session.payerPhone.slice(-6)}` : '',
      cname: 'Client Sandbox',
      mobile: session.payerPhone ?? '',
      paymentref: session.paymentref,
      payid: session.payid,
      timestamp: String(Math.floor(Date.now() / 1000)),
      error: outcome === 'OK' ? '' : outcome,
    });
    if (session.scenario === 'no_notification') return;
    const copies = session.scenario === 'duplicate_notifications' ? 3 : 1;
    const send = async () => {
      for (let i = 0; i < copies; i++) {
        await deliver(
          `${this.config.SANDBOX_TMONEY_NOTIFICATION_URL}?${query.toString()}`,
          { method: 'GET', userAgent: 'TMoney-Online-Sandbox/1.0' },
          session.notifications,
          this.config.SANDBOX_CALLBACK_RETRIES,
        );
      }
    };
    if (session.scenario === 'late_notification')
      later(this.config.SANDBOX_LATE_CALLBACK_MS, () => void send());
    else void send();
  }

  // ------------------------------------------------------------------ MBANKING

  issueToken(
    username: string,
    password: string,
  ): { access_token: string; token_type: string; expires_in: number } | undefined {
    if (username !== this.config.SANDBOX_TMONEY_USERNAME || password !== this.config.SANDBOX_TMONEY_PASSWORD)
      return undefined;
    const token = randomBytes(24).toString('base64url');
    this.tokens.set(token, Date.now() + this.config.SANDBOX_TMONEY_TOKEN_TTL_SECONDS * 1000);
    this.tokensIssued++;
    return {
      access_token: token,
      token_type: 'Bearer',
      expires_in: this.config.SANDBOX_TMONEY_TOKEN_TTL_SECONDS,
    };
  }

  tokenValid(header: string | undefined): boolean {
    const token = /^Bearer (\S+)$/.exec(header ?? '')?.[1];
    const expires = token ? this.tokens.get(token) : undefined;
    return expires !== undefined && expires > Date.now();
  }

  revokeTokens(): void {
    this.tokens.clear();
  }

  findTransaction(refCommande: string): MbankingTransaction | undefined {
    return [...this.transactions.values()].find((t) => t.refCommande === refCommande);
  }

  /** Push-USSD debit: the payer approves (or not) after SANDBOX_APPROVAL_DELAY_MS. */
  debit(order: {
    idrequete: string;
    numeroClient: string;
    montant: number;
    refCommande: string;
  }): MbankingTransaction {
    const scenario = tmoneyPayinScenario(order.montant);
    const tx = this.record('debit', order, scenario);
    const end: Record<string, MbankingTransaction['statut']> = {
      payment_failed: 'ECHEC',
      authentication: 'ECHEC',
      cancels: 'ANNULE',
      session_expires: 'EXPIRE',
    };
    if (scenario !== 'never') {
      later(this.config.SANDBOX_APPROVAL_DELAY_MS, () => {
        if (tx.statut !== 'EN_ATTENTE') return;
        tx.statut = end[scenario] ?? 'SUCCES';
        tx.executed = tx.statut === 'SUCCES';
      });
    }
    return tx;
  }

  /** Credit (cash-in) from our partner account. */
  credit(order: {
    idrequete: string;
    numeroClient: string;
    montant: number;
    refCommande: string;
  }): MbankingTransaction {
    const scenario = tmoneyPayoutScenario(order.montant);
    const tx = this.record('credit', order, scenario);
    // Numbers whose credits fail: …000032 always, …000031 twice (refund retry tests).
    const failures = this.creditFailures.get(order.numeroClient) ?? 0;
    if (order.numeroClient.endsWith('000032') || (order.numeroClient.endsWith('000031') && failures < 2)) {
      this.creditFailures.set(order.numeroClient, failures + 1);
      later(this.config.SANDBOX_PROCESSING_DELAY_MS, () => {
        if (tx.statut === 'EN_ATTENTE') tx.statut = 'ECHEC';
      });
      return tx;
    }
    if (scenario === 'ambiguous_timeout' || scenario === 'ambiguous_5xx') {
      this.execute(tx);
    } else if (scenario === 'declined') {
      later(this.config.SANDBOX_PROCESSING_DELAY_MS, () => {
        if (tx.statut === 'EN_ATTENTE') tx.statut = 'ECHEC';
      });
    } else if (scenario !== 'never') {
      later(this.config.SANDBOX_PROCESSING_DELAY_MS, () => this.execute(tx));
    }
    return tx;
  }

  completeTransaction(tx: MbankingTransaction): void {
    if (tx.kind === 'credit') this.execute(tx);
    else if (tx.statut === 'EN_ATTENTE') {
      tx.statut = 'SUCCES';
      tx.executed = true;
    }
  }

  private execute(tx: MbankingTransaction): void {
    if (tx.statut !== 'EN_ATTENTE') return;
    this.partnerBalance -= tx.montant;
    tx.statut = 'SUCCES';
    tx.executed = true;
  }

  private record(
    kind: MbankingTransaction['kind'],
    order: { idrequete: string; numeroClient: string; montant: number; refCommande: string },
    scenario: MbankingTransaction['scenario'],
  ): MbankingTransaction {
    const tx: MbankingTransaction = {
      refTmoney: `TMB${digits(12)}`,
      kind,
      refCommande: order.refCommande,
      idrequete: order.idrequete,
      numeroClient: order.numeroClient,
      montant: order.montant,
      statut: 'EN_ATTENTE',
      executed: false,
      scenario,
      createdAt: new Date().toISOString(),
    };
    this.transactions.set(tx.refTmoney, tx);
    return tx;
  }
}
